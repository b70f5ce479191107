"""Component ids of the dashboard; the only place they are spelled out.

Pattern-matching ids are dicts with a ``type`` key, e.g. ``{"type": SATURATION_GRAPH, "file": "val"}``.
Items of a panel that jump the view somewhere (a context, a ranked unit, a place found by example)
are not components with ids of their own: each carries a ``data-jump`` attribute, and
``assets/lstmviz.js`` copies the clicked one into the :data:`JUMP` store.
"""

# Where the view is, and how it is shared
URL = "url"
STATE = "view-state"  # dcc.Store: the selection (file, neuron, position, mode, ...)
# dcc.Stores set only when their part of the selection changes (View.subjects), so each panel asks
# the server for new content only when its own subject changed. The text's window and colours are
# sent with the selection itself (WINDOW, VALUES), in the same reply. The profile's subject is set
# by the browser once it has drawn the text, so the profile is asked for after the text is on screen.
SUBJECT_NEURON = "subject-neuron"
SUBJECT_FILE = "subject-file"
SUBJECTS = {"file": SUBJECT_FILE}  # set by the controller
MESSAGE = "message"
CAPTION = "caption"  # one line over the text: which cell, and why it is shown
JUMP = "jump"  # dcc.Store: the panel item last clicked ({"to": "context" | "span" | "unit", ...})

# Files
FILE = "file"
FILE_INFO = "file-info"

# Neuron
LAYER = "layer"
KIND = "kind"
UNIT = "unit"
UNIT_PREV = "unit-prev"
UNIT_NEXT = "unit-next"

# Display
MODE = "mode"
PALETTE = "palette"
RAW_C = "raw-c"
LENGTH = "length"

# Moving through the text
POSITION = "position"
GO = "go"
PAGE_PREV = "page-prev"
PAGE_NEXT = "page-next"
SLIDER = "slider"
FIND_TEXT = "find-text"
FIND_PREV = "find-prev"
FIND_NEXT = "find-next"

# The character view, drawn in the browser by assets/lstmviz.js from two small stores
WINDOW = "window-data"  # symbols and top-5 guesses of the visible window
VALUES = "values-data"  # the chosen neuron's values over the same window
DRAW_CONFIG = "draw-config"  # colour tables and element ids for the renderer, sent once
LEGEND = "legend"
GRID = "grid"
RENDERED = "rendered"  # dcc.Store: what the browser drew (window, neuron, mode, columns), for exports

# Panels, as tabs in the side pane
TABS = "tabs"
TAB_PROFILE = "tab-profile"
TAB_SATURATION = "tab-saturation"
TAB_SEARCH = "tab-search"
TAB_EXAMPLE = "tab-example"
PROFILE = "profile"
PROFILE_FOR = "profile-for"
PROFILE_WANTED = "profile-wanted"  # the profile's subject, passed on only while its tab is open
HISTOGRAM = "histogram"
SATURATION = "saturation"
SATURATION_FOR = "saturation-for"
SATURATION_GRAPH = "saturation-graph"  # pattern id: {"type": SATURATION_GRAPH, "file": key}

# Export of the visible window, through lstmviz.render.export
EXPORT_HTML = "export-html"
EXPORT_SVG = "export-svg"
DOWNLOAD = "download"

# Unit search, through lstmviz.search.rank
SEARCH_HYPOTHESIS = "search-hypothesis"
SEARCH_PATTERN = "search-pattern"
SEARCH_RUN = "search-run"
SEARCH_RESULTS = "search-results"
SEARCH_FOR = "search-for"
SEARCH_LANG = "search-lang"  # the text's language: "auto" (detected) or a name from LANGUAGES
SEARCH_PAGE = "search-page"  # dcc.Store: this page's id, for its ranking running on the server
SEARCH_POLL = "search-poll"  # dcc.Interval: asks for the running ranking's progress
EXAMPLE_SPAN = "example-span"
EXAMPLE_RUN = "example-run"
EXAMPLE_THRESHOLD = "example-threshold"  # slider: the level that counts as "on"
EXAMPLE_COUNT = "example-count"  # what the slider's threshold gives: units and places
EXAMPLE_RESULTS = "example-results"
EXAMPLE_FOR = "example-for"  # dcc.Store: the file and span the by-example results were found for

# Copy of the visible window as an HTML fragment, beside the Export buttons
COPY_FRAGMENT = "copy-fragment"  # dcc.Clipboard: copies the fragment the server sends it

# The cell atlas tab, through lstmviz.search.atlas and lstmviz.render.atlas
TAB_ATLAS = "tab-atlas"
ATLAS_RUN = "atlas-run"
ATLAS_SAVE = "atlas-save"
ATLAS_RESULTS = "atlas-results"
ATLAS_DOWNLOAD = "atlas-download"
# pattern id: {"type": ATLAS_OPEN, "card": int, "neuron": str, "pos": int, "why": its hypothesis or ""}
ATLAS_OPEN = "atlas-open"

# The "What if" tab: edits of the shown unit rerun by its model (app/callbacks/whatif.py)
TAB_WHATIF = "tab-whatif"
WHATIF_MODEL = "whatif-model"  # one line: the model that reruns the file, or how to give it
WHATIF_OP = "whatif-op"  # zero, mean, set, scale or patch
WHATIF_VALUE = "whatif-value"  # V of set, K of scale, P of patch
WHATIF_SOURCE = "whatif-source"  # the span: the mark, the mouse selection or the window
WHATIF_APPLY = "whatif-apply"
WHATIF_ASK = "whatif-ask"  # dcc.Store: an Apply click with the pane's width, set in the browser
WHATIF_FOR = "whatif-for"  # dcc.Store: the request the figure shows, for its exports
WHATIF_TOTALS = "whatif-totals"
WHATIF_FIGURE = "whatif-figure"
WHATIF_EXPORT_HTML = "whatif-export-html"
WHATIF_EXPORT_SVG = "whatif-export-svg"
WHATIF_DOWNLOAD = "whatif-download"
WHATIF_CAUSAL = "whatif-causal"
WHATIF_CAUSAL_RESULT = "whatif-causal-result"
WHATIF_CAUSAL_POLL = "whatif-causal-poll"  # dcc.Interval: asks for the running causal score's progress
WHATIF_CLAMP = "whatif-clamp"  # the value the sampled cell is held at
WHATIF_PRIME = "whatif-prime"
WHATIF_LENGTH = "whatif-length"
WHATIF_SEED = "whatif-seed"
WHATIF_SAMPLE = "whatif-sample"
WHATIF_SAMPLE_RESULT = "whatif-sample-result"

# "Where from": the text shaded by what each character wrote into the cell at a clicked position
WHEREFROM = "wherefrom"  # the toggle; assets/wherefrom.js turns a click on a character into an origin
