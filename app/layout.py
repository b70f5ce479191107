"""The page: controls on top, the character view the browser draws, and the panels beside it.

On a wide screen the text and the panels sit side by side, the text pane staying in view while you
work in a panel; on a narrow one they stack (``assets/lstmviz.css``). The panels are tabs of the
side pane (:data:`PANELS`): a new panel is one more tab there.

Controls start empty; the first call of the controller callback fills them from the URL, so a
bookmarked link and a fresh visit go through the same code.
"""

from __future__ import annotations

from dash import dcc, html

from app import ids, whatif
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
KEYS_HELP = "Keys: [ ] unit · ← → page · / find · drag over the text to search by example"
SPINNER_MS = 400  # a panel that takes longer shows a spinner; a quick one (a step's profile) does not flicker
# A small icon in the page itself: no request for /favicon.ico at every step through the history
FAVICON = ('<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22 '
           'viewBox=%220 0 4 4%22%3E%3Crect width=%222%22 height=%224%22 fill=%22%233a75c4%22/%3E%3Crect '
           'x=%222%22 width=%222%22 height=%224%22 fill=%22%2332a852%22/%3E%3C/svg%3E">')


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
            "unit": ids.UNIT, "position": ids.POSITION, "jump": ids.JUMP, "tabs": ids.TABS,
            "subject": ids.SUBJECT_NEURON,
            "example_tab": ids.TAB_EXAMPLE, "example_span": ids.EXAMPLE_SPAN, "example_run": ids.EXAMPLE_RUN,
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


def wherefrom_toggle() -> html.Button:
    """The "where from" toggle: while on, a click on a character shades the text before it.

    Drawn and handled in the browser (``assets/wherefrom.js``), which sends the clicked position
    to the controller through the JUMP store named here; Escape or the toggle turns it off.
    """
    return html.Button("Where from?", id=ids.WHEREFROM, n_clicks=0, className="lv-btn lv-wherefrom",
                       title="then click a character: the text before it is shaded by what each "
                             "character wrote into the cell's value there (Esc ends it)",
                       **{"aria-pressed": "false", "data-store": ids.JUMP})


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
    """Rank every unit by a hypothesis or a pattern."""
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
        notice("Scores every unit of the file against the hypothesis; a typed pattern is ranked "
               "instead and joins the list. The first ranking of a file reads all its activations "
               "once (minutes on files of millions of characters); results are then cached beside "
               "the file."),
        dcc.Loading(html.Div(id=ids.SEARCH_RESULTS), delay_show=1000),  # progress polls: no flicker
        dcc.Store(id=ids.SEARCH_FOR),
        dcc.Store(id=ids.SEARCH_PAGE),
        dcc.Interval(id=ids.SEARCH_POLL, interval=300, disabled=True),
    ], className="lv-panel"))


def example_tab() -> dcc.Tab:
    """Search by example: the units on over a span of the text, and where else they turn on."""
    return dcc.Tab(label="By example", value=ids.TAB_EXAMPLE, children=html.Div([
        notice("Drag over the text to select a span (or Find some text to mark it), then find the "
               "units of the shown activation that are on over it and off just around it "
               "(LSTMVis's search by example), and every other place where they turn on together."),
        html.Div([
            dcc.Input(id=ids.EXAMPLE_SPAN, type="text", debounce=False, className="lv-find",
                      placeholder="START:END, or the marked text"),
            html.Button("Units on over this span", id=ids.EXAMPLE_RUN, n_clicks=0, className="lv-btn"),
        ], className="lv-row"),
        html.Div([
            html.Span("threshold", className="lv-field-label"),
            html.Div(dcc.Slider(id=ids.EXAMPLE_THRESHOLD, min=0, max=1, step=0.001, value=None, marks=None,
                                updatemode="mouseup", tooltip={"placement": "bottom"}),
                     className="lv-slider"),
        ], className="lv-row lv-threshold"),
        html.Div(id=ids.EXAMPLE_COUNT, className="lv-notice", role="status"),
        dcc.Loading(html.Div(id=ids.EXAMPLE_RESULTS)),
        dcc.Store(id=ids.EXAMPLE_FOR),
    ], className="lv-panel"))


def profile_tab() -> dcc.Tab:
    """The shown neuron over the whole text: numbers, histogram, its highest and lowest contexts."""
    return dcc.Tab(label="Neuron profile", value=ids.TAB_PROFILE,
                   children=dcc.Loading(html.Div(id=ids.PROFILE, className="lv-panel"),
                                        delay_show=SPINNER_MS))


def saturation_tab() -> dcc.Tab:
    """Which gate units act as switches (Karpathy et al.'s figure 3)."""
    return dcc.Tab(label="Gate saturation", value=ids.TAB_SATURATION,
                   children=dcc.Loading(html.Div(id=ids.SATURATION, className="lv-panel"),
                                        delay_show=SPINNER_MS))


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
        dcc.Loading(html.Div(id=ids.ATLAS_RESULTS), delay_show=SPINNER_MS),
    ], className="lv-panel"))


# The side pane's tabs, in order; each is a function returning a dcc.Tab
PANELS = (profile_tab, search_tab, example_tab, saturation_tab, atlas_tab, whatif.tab)


def panels() -> dcc.Tabs:
    """The side pane: one tab per panel."""
    return dcc.Tabs(id=ids.TABS, value=ids.TAB_PROFILE, children=[tab() for tab in PANELS],
                    className="lv-tabs")


def elsewhere(catalog: Catalog) -> list[html.A]:
    """Links to the pages beside this one: each evolution file served, and comparing two files."""
    links = [html.A(f"Evolution: {e.path.name}", href=f"/evolution/?file={e.key}", className="lv-file-info")
             for e in catalog.evolutions if e.error is None]
    if len(catalog.usable) > 1:
        links.append(html.A("Compare two files", href="/compare/", className="lv-file-info"))
    return links


def layout(catalog: Catalog) -> html.Div:
    """The whole page for one set of files."""
    return html.Div([
        dcc.Location(id=ids.URL, refresh=False),
        dcc.Store(id=ids.STATE),
        *(dcc.Store(id=store) for store in ids.SUBJECTS.values()),
        dcc.Store(id=ids.WINDOW),
        dcc.Store(id=ids.VALUES),
        dcc.Store(id=ids.DRAW_CONFIG, data=draw_config()),
        dcc.Store(id=ids.SUBJECT_NEURON),
        dcc.Store(id=ids.JUMP),
        dcc.Store(id=ids.RENDERED),  # what the browser drew, with its columns: exports wrap the same
        dcc.Store(id=ids.PROFILE_FOR),
        dcc.Store(id=ids.PROFILE_WANTED),
        dcc.Store(id=ids.SATURATION_FOR),
        html.Header([
            html.H1("lstmviz"),
            dcc.Dropdown(id=ids.FILE, options=catalog.options(), clearable=False, searchable=False,
                         className="lv-file"),
            html.Span(id=ids.FILE_INFO, className="lv-file-info"),
            *elsewhere(catalog),
        ], className="lv-header"),
        controls(),
        html.Div(id=ids.MESSAGE, role="status", className="lv-message"),
        html.Div([
            html.Section([
                html.Div(id=ids.CAPTION, className="lv-caption", role="note"),
                html.Div([wherefrom_toggle(), html.Div(id=ids.LEGEND, className=LEGEND_CLASS),
                          html.Span(KEYS_HELP, className="lv-keys")], className="lv-row lv-legend-row"),
                html.Div(id=ids.GRID, className="lv-host"),
            ], className="lv-text-pane"),
            html.Aside(panels(), className="lv-side"),
        ], className="lv-main"),
    ], className="lv-app")
