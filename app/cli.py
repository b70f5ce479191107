"""``lstmviz serve`` and ``demo``: the dashboard as commands; they join the ``lstmviz`` group by entry point.

``lstmviz --help`` imports this module to list the commands, so it imports the dashboard (Dash,
the reader, torch) only inside the commands.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lstmviz.errors import OptionError, StoreError
from lstmviz.files import temporaries

if TYPE_CHECKING:
    from app.catalog import Catalog
    from app.models import Models


def catalog_for(paths: tuple[Path, ...], models: Models | None = None) -> Catalog:
    """The files to serve; a file named directly must open, a folder may hold some that do not.

    ``models`` says where the panels that rerun a file's model (What if, where from) find it.

    Raises:
        StoreError: a named file is not a readable extraction, or nothing at all can be shown.
    """
    from app.catalog import Catalog

    catalog = Catalog.scan(paths, models)
    named = {p.resolve() for p in paths if not p.is_dir()}
    for entry in catalog.entries + catalog.evolutions:
        if entry.error is not None and entry.path.resolve() in named:
            raise StoreError(entry.error)
    if not catalog.usable and not any(e.error is None for e in catalog.evolutions):
        where = ", ".join(str(p) for p in paths)
        raise StoreError(f"no lstmviz extraction files in {where}; create one with "
                         "`lstmviz extract MODEL TEXT` (it writes cache/MODEL__TEXT.h5)")
    return catalog


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0 makes it reachable from other machines).")
@click.option("--port", default=8050, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option("--model", "models", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A checkpoint the files were extracted with, when it has moved since (repeatable: "
                   "each file takes the one whose sha256 it recorded). The What if and where-from "
                   "panels rerun it; by default it is looked for where the file recorded it.")
@click.option("--trust-pickle", is_flag=True, help="Allow a whole pickled model, as extraction did.")
@click.option("--debug/--no-debug", default=False, show_default=True,
              help="Dash debug mode: reload on code changes, show the callback graph.")
def serve(paths: tuple[Path, ...], host: str, port: int, models: tuple[Path, ...], trust_pickle: bool,
          debug: bool) -> None:
    """Browse extraction files in the dashboard.

    Give one or more extraction files, or folders of them; the page lists
    every file (model, text, size) and switches between them. Only the
    visible window of a file is read, so files of millions of characters
    open at once.

    Evolution files (lstmviz evolve) are shown on a page of their own,
    /evolution/, with their snapshots one click from the text view;
    /compare/ sets two extractions of the same text side by side.

    \b
    Examples:
        lstmviz serve cache/wiki_val.h5
        lstmviz serve cache/ --port 8060
        lstmviz serve cache/val.h5 --model runs/moved.pt
        lstmviz serve runs/austen/ev1.h5 cache/
    """
    from app.models import Models

    catalog = catalog_for(paths, Models(models, trust_pickle=trust_pickle))
    for entry in catalog.entries + catalog.evolutions:
        if entry.error is not None:
            click.echo(f"Skipping {entry.error}", err=True)  # the error starts with the path
    for path in paths:  # what killed runs left behind, with the command that removes it
        found = temporaries(path) if path.is_dir() else temporaries(path.parent, path.name)
        for temporary in found:
            click.echo(f"Temporary file {temporary.describe()}", err=True)
    run_dashboard(catalog, host, port, debug=debug)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8050, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option("--cache", "cache_dir", default="cache", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the demo's extraction (built on first run, then reused).")
@click.option("--no-browser", is_flag=True, help="Only print the URL (for headless machines).")
def demo(host: str, port: int, cache_dir: Path, no_browser: bool) -> None:
    """Run the bundled example: a Wikipedia char-LSTM over held-out Wikipedia markup.

    The first run extracts every activation of the bundled 3-layer model
    over about 120,000 characters of Wikipedia text into the cache
    folder; later runs reuse it. The dashboard then opens on the
    strongest URL, [[ ]] link or quote cell that the cell search finds.

    \b
    Examples:
        lstmviz demo
        lstmviz demo --no-browser --port 8060
    """
    from app.state import View, to_query
    from lstmviz.demo import demo_extraction, showcase

    check_port(host, port)  # before the first run's extraction, not only after it
    path = demo_extraction(cache_dir)
    click.echo(f"Extraction: {path}")
    cell = showcase(path)
    click.echo(f"Strongest {cell.hypothesis} cell: {cell.neuron} (score {cell.score:.3f}, "
               f"chance baseline {cell.baseline:.3f})")
    catalog = catalog_for((path,))
    view = View(catalog.default().key, cell.neuron, pos=cell.position, why=cell.hypothesis)  # for its caption
    run_dashboard(catalog, host, port, query=to_query(view), open_browser=not no_browser)


def check_port(host: str, port: int) -> None:
    """Fail in one line when the dashboard cannot listen on ``host:port``, before saying it serves.

    Binds the address as the server will (werkzeug's choice of address family, ``SO_REUSEADDR``)
    and lets it go; the server binds it again a moment later.

    Raises:
        OptionError: the port is taken or reserved, or the host is not an address of this machine.
    """
    from werkzeug.serving import get_sockaddr, select_address_family

    family = select_address_family(host, port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(get_sockaddr(host, port, family))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise OptionError(f"port {port} is in use by another program (another dashboard?); stop "
                                  f"it, or choose another port, e.g. --port {port % 65535 + 1}") from None
            if e.errno == errno.EACCES:
                raise OptionError(f"port {port} is reserved for the administrator; choose one above 1023, "
                                  "e.g. --port 8050") from None
            raise OptionError(f"cannot listen on {host}:{port} ({e.strerror or e}); give an address of "
                              "this machine with --host, e.g. 127.0.0.1") from None


def run_dashboard(catalog: Catalog, host: str, port: int, *, debug: bool = False, query: str = "",
                  open_browser: bool = False) -> None:
    """Serve the catalog, printing the URL (and opening it in a browser if asked)."""
    from app.app import create_app  # Dash is imported only when serving

    app = create_app(catalog)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    check_port(host, port)  # "Serving at" only once the address is known to be free
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if not query and not catalog.usable:  # evolution files only: open on the first
        query = f"evolution/?file={catalog.evolutions[0].key}"
    url = f"http://{shown}:{port}/{query}"
    click.echo(f"Serving {len(catalog.usable)} file(s) at {url}  (Ctrl+C to stop)")
    if catalog.evolutions:
        click.echo(f"Evolution files at http://{shown}:{port}/evolution/, comparisons at "
                   f"http://{shown}:{port}/compare/")
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    app.run(host=host, port=port, debug=debug, dev_tools_disable_version_check=True)
