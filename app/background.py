"""The dashboard served from a running Python process (a notebook) in a background thread.

``lstmviz serve`` blocks its terminal; a notebook must go on running cells, so here the same app
(:func:`app.app.create_app`) is served by werkzeug's threaded server in a daemon thread, and a
:class:`Dashboard` handle says where it is and stops it. ``Extraction.serve`` in the library
reaches this module only when called, so the library itself never imports Dash.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from html import escape
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

from app.app import create_app
from app.cli import catalog_for, check_port
from app.state import View, to_query


class Dashboard:
    """A dashboard serving in a background thread of this process, until :meth:`stop`.

    Attributes:
        url: where to open it; it reopens on the neuron and position it was started with.
    """

    def __init__(self, server: BaseWSGIServer, url: str):
        self._server = server
        self.url = url
        self._thread = threading.Thread(target=server.serve_forever, name=f"lstmviz dashboard {url}",
                                        daemon=True)  # a kernel that exits does not wait for it
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether it still answers."""
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop serving and free the port; stopping twice does nothing."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> Dashboard:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Dashboard {self.url} ({'running' if self.running else 'stopped'})>"

    def _repr_html_(self) -> str:
        state = "" if self.running else " (stopped)"
        return f'<a href="{escape(self.url)}" target="_blank">{escape(self.url)}</a>{state}'


def serve_in_background(paths: Sequence[str | Path], *, host: str = "127.0.0.1", port: int = 0,
                        neuron: str | None = None, position: int = 0) -> Dashboard:
    """Serve the dashboard over extraction files in a background thread; returns once it listens.

    Args:
        paths: extraction files, or folders of them, as ``lstmviz serve`` takes.
        host: interface to listen on.
        port: port to listen on; 0 picks a free one.
        neuron: the neuron the page opens on (default: the dashboard's own choice).
        position: the first position the page shows.

    Raises:
        StoreError: a file cannot be opened.
        OptionError: the port is taken or reserved, or the host is not an address of this machine.

    >>> # with serve_in_background(["cache/val.h5"], neuron="layer1.c.117") as dashboard: dashboard.url
    """
    catalog = catalog_for(tuple(Path(p) for p in paths))
    if port:
        check_port(host, port)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request in the notebook
    server = make_server(host, port, create_app(catalog).server, threaded=True)
    query = "" if neuron is None else to_query(View(catalog.default().key, neuron, pos=position))
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return Dashboard(server, f"http://{shown}:{server.server_port}/{query}")
