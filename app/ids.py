"""Component ids of the dashboard; the only place they are spelled out.

Pattern-matching ids are dicts with a ``type`` key, e.g. ``{"type": CONTEXT, "pos": 1234}``.
"""

# Where the view is, and how it is shared
URL = "url"
STATE = "view-state"  # dcc.Store: the selection (file, neuron, position, mode, ...)
# dcc.Stores set only when their part of the selection changes (View.subjects), so each part of the
# page asks the server for new content only when its own subject changed
SUBJECT_WINDOW = "subject-window"
SUBJECT_VALUES = "subject-values"
SUBJECT_NEURON = "subject-neuron"
SUBJECT_FILE = "subject-file"
SUBJECTS = {"window": SUBJECT_WINDOW, "values": SUBJECT_VALUES, "neuron": SUBJECT_NEURON,
            "file": SUBJECT_FILE}
MESSAGE = "message"

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
RENDERED = "rendered"

# Panels
TABS = "tabs"
TAB_PROFILE = "tab-profile"
TAB_SATURATION = "tab-saturation"
TAB_SEARCH = "tab-search"
PROFILE = "profile"
PROFILE_FOR = "profile-for"
HISTOGRAM = "histogram"
CONTEXT = "context"  # pattern id: {"type": CONTEXT, "pos": int}
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
SEARCH_HIT = "search-hit"  # pattern id: {"type": SEARCH_HIT, "neuron": "layer1.c.3"}
EXAMPLE_SPAN = "example-span"
EXAMPLE_RUN = "example-run"
EXAMPLE_RESULTS = "example-results"
EXAMPLE_FOR = "example-for"  # dcc.Store: the file the by-example results were found in
SPAN_HIT = "span-hit"  # pattern id: {"type": SPAN_HIT, "start": int, "stop": int}

# Copy of the visible window as an HTML fragment, beside the Export buttons
COPY_FRAGMENT = "copy-fragment"  # dcc.Clipboard: copies the fragment the server sends it

# The cell atlas tab, through lstmviz.search.atlas and lstmviz.render.atlas
TAB_ATLAS = "tab-atlas"
ATLAS_RUN = "atlas-run"
ATLAS_SAVE = "atlas-save"
ATLAS_RESULTS = "atlas-results"
ATLAS_DOWNLOAD = "atlas-download"
ATLAS_OPEN = "atlas-open"  # pattern id: {"type": ATLAS_OPEN, "card": int, "neuron": str, "pos": int}
