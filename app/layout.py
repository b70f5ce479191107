"""The page: controls, the character view the browser draws, and the neuron panels.

Controls start empty; the first call of the controller callback fills them from the URL, so a
bookmarked link and a fresh visit go through the same code.
"""

from __future__ import annotations

from dash import dcc, html

from app import ids
from app.catalog import Catalog
from app.figures import notice
from app.state import LENGTHS
from lstmviz.render import style
from lstmviz.render.palette import PALETTES, lut, text_colour
from lstmviz.search.hypotheses import HYPOTHESES
from lstmviz.search.languages import LANGUAGES

MODE_OPTIONS = [
    {"label": "characters + guesses", "value": "grid"},
    {"label": "condensed text", "value": "prose"},
]
VIEW_CLASS = "lv-view"  # set by assets/lstmviz.js on the figure it draws
LEGEND_CLASS = "lv-legend-box"
KEYS_HELP = "Keys: [ ] previous/next unit · ← → previous/next page · / find"


def draw_config() -> dict:
    """What the browser-side renderer needs once.

    Every palette with a readable text colour per entry, the ids of the elements it draws into or
    sets, and the step buttons with the key each one stands for.
    """
    tables = {
        name: {"bg": list(lut(name)), "fg": [text_colour(c) for c in lut(name)]}
        for name in (*PALETTES, "strip")
    }
    return {"luts": tables, "grid": ids.GRID, "legend": ids.LEGEND, "find": ids.FIND_TEXT,
            "rendered": ids.RENDERED,
            "unit": ids.UNIT, "position": ids.POSITION,
            "steps": {ids.UNIT_PREV: "[", ids.UNIT_NEXT: "]",
                      ids.PAGE_PREV: "ArrowLeft", ids.PAGE_NEXT: "ArrowRight"},
            "col_px": style.COL_PX, "char_px": style.CHAR_PX, "pad_px": style.PAD_PX,
            "swatches": style.SWATCHES}


def stylesheet() -> str:
    """The look of exported snippets, applied to the character view and its legend.

    Both are drawn in the markup of :mod:`lstmviz.render.html`, so with the same rules the dashboard
    and an exported figure look alike, cell for cell.
    """
    return style.stylesheet("." + VIEW_CLASS) + "\n" + style.stylesheet("." + LEGEND_CLASS)


def _button(label: str, id_: str, title: str) -> html.Button:
    return html.Button(label, id=id_, title=title, className="lv-btn", n_clicks=0)


def _field(label: str, control) -> html.Label:
    return html.Label([html.Span(label, className="lv-field-label"), control], className="lv-field")


def controls() -> html.Div:
    """Neuron choice, display options, and moving through the text.

    The unit and position boxes have no min, max or step: Dash sends None for a number outside
    them, so the server could not say what was wrong with it; it checks the number instead.
    """
    neuron = html.Div([
        _field("Layer", dcc.Dropdown(id=ids.LAYER, clearable=False, searchable=False, className="lv-dd-s")),
        _field("Kind", dcc.Dropdown(id=ids.KIND, clearable=False, searchable=False, className="lv-dd-s")),
        _field("Unit", html.Div([
            _button("◀", ids.UNIT_PREV, "previous unit ( [ )"),
            dcc.Input(id=ids.UNIT, type="number", debounce=True, className="lv-num"),
            _button("▶", ids.UNIT_NEXT, "next unit ( ] )"),
        ], className="lv-row")),
    ], className="lv-row lv-group")
    display = html.Div([
        dcc.RadioItems(id=ids.MODE, options=MODE_OPTIONS, inline=True, className="lv-radio"),
        _field("Colours", dcc.Dropdown(id=ids.PALETTE, options=list(PALETTES), clearable=False,
                                       searchable=False, className="lv-dd-m")),
        dcc.Checklist(id=ids.RAW_C, options=[{"label": "raw c", "value": "raw"}], inline=True,
                      className="lv-radio"),
        _field("Characters", dcc.Dropdown(id=ids.LENGTH, options=list(LENGTHS), clearable=False,
                                          searchable=False, className="lv-dd-s")),
        _field("Export this view", html.Div([
            _button("HTML", ids.EXPORT_HTML, "download the visible text as a self-contained HTML snippet"),
            _button("SVG", ids.EXPORT_SVG, "download the visible text as an SVG figure"),
            dcc.Clipboard(id=ids.COPY_FRAGMENT, children="Copy fragment", copied_children="Copied",
                          className="lv-btn", title="copy the visible text as an HTML fragment to paste "
                          "into a page or Markdown post"),
        ], className="lv-row")),
        dcc.Download(id=ids.DOWNLOAD),
    ], className="lv-row lv-group")
    move = html.Div([
        _button("◀ page", ids.PAGE_PREV, "previous page ( ← )"),
        _field("Position", dcc.Input(id=ids.POSITION, type="number", debounce=True, className="lv-num-l")),
        _button("Go", ids.GO, "show the text from this position"),
        _button("page ▶", ids.PAGE_NEXT, "next page ( → )"),
        html.Div(dcc.Slider(id=ids.SLIDER, min=0, max=1, step=1, updatemode="mouseup",
                            allow_direct_input=False, tooltip={"placement": "bottom"}),
                 className="lv-slider"),
        dcc.Input(id=ids.FIND_TEXT, type="text", placeholder="find text", debounce=False,
                  className="lv-find"),
        _button("◀", ids.FIND_PREV, "previous match"),
        _button("find ▶", ids.FIND_NEXT, "next match (Enter)"),
    ], className="lv-row lv-group")
    return html.Div([neuron, display, move], className="lv-controls")


def search_tab() -> dcc.Tab:
    """The unit search tab: rank by a hypothesis or a pattern, or search by an example span."""
    options = [{"label": f"{name}: {h.description}", "value": name} for name, h in HYPOTHESES.items()]
    languages = [{"label": "language: detected", "value": "auto"},
                 *({"label": f"language: {name}", "value": name} for name in LANGUAGES)]
    return dcc.Tab(label="Find units", value=ids.TAB_SEARCH, children=html.Div([
        html.Div([
            dcc.Dropdown(id=ids.SEARCH_HYPOTHESIS, options=options, value="quote", clearable=False,
                         className="lv-search-dd"),
            dcc.Dropdown(id=ids.SEARCH_LANG, options=languages, value="auto", clearable=False,
                         searchable=False, className="lv-dd-m"),
            dcc.Input(id=ids.SEARCH_PATTERN, type="text", debounce=False, className="lv-find",
                      placeholder="or a regular expression"),
            html.Button("Rank units", id=ids.SEARCH_RUN, n_clicks=0, className="lv-btn"),
        ], className="lv-row"),
        notice("Scores every unit of the file against the hypothesis. The first ranking of a "
               "file reads all its activations once (minutes on files of millions of "
               "characters); results are then cached beside the file."),
        dcc.Loading(html.Div(id=ids.SEARCH_RESULTS), delay_show=1000),  # progress polls: no flicker
        dcc.Store(id=ids.SEARCH_FOR),
        dcc.Store(id=ids.SEARCH_PAGE),
        dcc.Interval(id=ids.SEARCH_POLL, interval=300, disabled=True),
        html.H4("By example"),
        html.Div([
            dcc.Input(id=ids.EXAMPLE_SPAN, type="text", debounce=False, className="lv-find",
                      placeholder="START:END, or the marked text"),
            html.Button("Units on over this span", id=ids.EXAMPLE_RUN, n_clicks=0, className="lv-btn"),
        ], className="lv-row"),
        notice("Finds the units of the shown activation that are on over the span and off just "
               "around it (LSTMVis's search by example), then every other place in the file "
               "where they turn on together. Mark a span with Find, or type positions."),
        dcc.Loading(html.Div(id=ids.EXAMPLE_RESULTS)),
        dcc.Store(id=ids.EXAMPLE_FOR),
    ], className="lv-panel"))


def atlas_tab() -> dcc.Tab:
    """The cell atlas tab: the file's interpretable cells at a glance (app/callbacks/atlas.py)."""
    return dcc.Tab(label="Atlas", value=ids.TAB_ATLAS, children=html.Div([
        html.Div([
            html.Button("Build the atlas", id=ids.ATLAS_RUN, n_clicks=0, className="lv-btn"),
            html.Button("Download atlas.html", id=ids.ATLAS_SAVE, n_clicks=0, className="lv-btn"),
            dcc.Download(id=ids.ATLAS_DOWNLOAD),
        ], className="lv-row"),
        notice("The file's interpretable cells at a glance: the units that track each hypothesis "
               "best, the share of cells that clear their baseline, and strong units no hypothesis "
               "explains: the page that lstmviz atlas writes. The first atlas of a file ranks every "
               "unit, as Find units does (cached beside the file)."),
        dcc.Loading(html.Div(id=ids.ATLAS_RESULTS)),
    ], className="lv-panel"))


def panels() -> dcc.Tabs:
    """Tabs under the text: the neuron's profile, gate saturation, the units that track a hypothesis."""
    tabs = [
        dcc.Tab(label="Neuron profile", value=ids.TAB_PROFILE,
                children=dcc.Loading(html.Div(id=ids.PROFILE, className="lv-panel"))),
        dcc.Tab(label="Gate saturation", value=ids.TAB_SATURATION,
                children=dcc.Loading(html.Div(id=ids.SATURATION, className="lv-panel"))),
        search_tab(),
        atlas_tab(),
    ]
    return dcc.Tabs(id=ids.TABS, value=ids.TAB_PROFILE, children=tabs, className="lv-tabs")


def layout(catalog: Catalog) -> html.Div:
    """The whole page for one set of files."""
    return html.Div([
        dcc.Location(id=ids.URL, refresh=False),
        dcc.Store(id=ids.STATE),
        *(dcc.Store(id=store) for store in ids.SUBJECTS.values()),
        dcc.Store(id=ids.WINDOW),
        dcc.Store(id=ids.VALUES),
        dcc.Store(id=ids.DRAW_CONFIG, data=draw_config()),
        dcc.Store(id=ids.RENDERED),
        dcc.Store(id=ids.PROFILE_FOR),
        dcc.Store(id=ids.SATURATION_FOR),
        html.Header([
            html.H1("lstmviz"),
            dcc.Dropdown(id=ids.FILE, options=catalog.options(), clearable=False, searchable=False,
                         className="lv-file"),
            html.Span(id=ids.FILE_INFO, className="lv-file-info"),
        ], className="lv-header"),
        controls(),
        html.Div(id=ids.MESSAGE, role="status", className="lv-message"),
        html.Div([html.Div(id=ids.LEGEND, className=LEGEND_CLASS), html.Span(KEYS_HELP, className="lv-keys")],
                 className="lv-row lv-legend-row"),
        html.Div(id=ids.GRID, className="lv-host"),
        panels(),
    ], className="lv-app")
