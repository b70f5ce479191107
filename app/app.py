"""The Dash app factory: one app per set of extraction files.

``create_app(["cache/"])`` builds the page and attaches the callbacks; nothing is read from the
files until a browser asks for a view, and then only the visible window.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from dash import Dash

from app import comparing, evolution, layout
from app.callbacks import atlas, controller, exporting, panels, search, view, whatif
from app.catalog import Catalog

# A link to the top-level assets/ folder, so installed wheels carry the CSS and JavaScript too.
ASSETS = Path(__file__).resolve().parent / "assets"


def create_app(paths: Iterable[str | Path] | Catalog, *, title: str = "lstmviz") -> Dash:
    """Build the dashboard for extraction files (or folders of them).

    >>> # create_app(["cache/wiki_val.h5"]).run(port=8050)
    """
    catalog = paths if isinstance(paths, Catalog) else Catalog.scan(paths)
    app = Dash(__name__, title=title, assets_folder=str(ASSETS), update_title=None)
    app.index_string = app.index_string.replace(
        "{%css%}", "{%css%}\n<style>\n" + layout.stylesheet() + "\n</style>").replace(
        "{%favicon%}", layout.FAVICON)
    app.layout = layout.layout(catalog)
    for module in (controller, view, panels, exporting, search, atlas, whatif):
        module.register(app, catalog)
    if catalog.evolutions:  # the file menu then also lists the snapshots opened from them
        app.layout = lambda: layout.layout(catalog)
        mount(app, evolution, "lstmviz · evolution", catalog)
    mount(app, comparing, "lstmviz · compare", catalog)
    return app


def mount(app: Dash, page: ModuleType, title: str, catalog: Catalog) -> Dash:
    """A page beside the main one, as a Dash app of its own on the main app's Flask server.

    ``page`` is its module: its ``PREFIX`` (the URL path it answers under), ``layout(catalog)`` and
    ``register(app, catalog)``. It shares the main page's stylesheet, not its scripts.
    """
    sub = Dash(page.__name__, server=app.server, url_base_pathname=page.PREFIX, title=title,
               assets_folder=str(ASSETS), assets_ignore=r".*\.js", update_title=None)
    sub.index_string = sub.index_string.replace("{%css%}", "{%css%}\n<style>\n" + layout.stylesheet()
                                                + "\n</style>")
    sub.layout = page.layout(catalog)
    page.register(sub, catalog)
    return sub
