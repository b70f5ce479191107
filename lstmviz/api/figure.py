"""A figure of an extraction that shows itself in a notebook: ``ex.show("layer2.c.182", 0, 300)``.

It is the figure ``lstmviz export`` writes, from the same renderer
(:func:`lstmviz.render.export.render`): inline styles, every text escaped, no script and no link,
so it shows the same in JupyterLab, VS Code and a notebook viewer that strips scripts. Jupyter
asks for ``_repr_html_``, which is the HTML fragment (one ``<div>`` with styles scoped to it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from lstmviz.api.views import python_errors
from lstmviz.errors import OptionError
from lstmviz.files import check_output
from lstmviz.render.export import default_output_name, render, write_snippet
from lstmviz.render.spec import ExportSpec
from lstmviz.store.reader import States

# the suffixes :meth:`Figure.save` knows, and the format each is written in
SUFFIXES = {".html": "html", ".htm": "html", ".svg": "svg"}


class Figure:
    """Neurons colouring a span of text; rendered once for the notebook, again for each other format.

    Attributes:
        spec: what the figure shows (:class:`~lstmviz.render.spec.ExportSpec`), as the command
            recorded in each output recreates it.
    """

    def __init__(self, opened: Callable[[], States], spec: ExportSpec):
        self._opened = opened
        self.spec = replace(spec, format="html", fragment=True)
        self._html = self._render(self.spec)  # at once: errors belong to the call that made it

    def _render(self, spec: ExportSpec) -> str:
        with python_errors():
            return render(self._opened(), spec)

    def _repr_html_(self) -> str:
        return self._html

    def __repr__(self) -> str:
        shown = ", ".join(str(n) for n in self.spec.neurons)
        return f"<Figure of {shown} at positions {self.spec.start}..{self.spec.stop - 1}>"

    def to_html(self, *, fragment: bool = True) -> str:
        """The figure as HTML: the ``<div>`` a notebook shows (to paste into a page or post), or a page.

        Args:
            fragment: True for the ``<div>`` alone, False for a whole page that opens offline.
        """
        return self._html if fragment else self._render(replace(self.spec, fragment=False))

    def to_svg(self, *, fragment: bool = False) -> str:
        """The figure as SVG: rectangles and text, for papers and slides.

        Args:
            fragment: leave out the XML declaration, for an ``<svg>`` inlined into HTML.
        """
        return self._render(replace(self.spec, format="svg", fragment=fragment))

    def save(self, path: str | Path, *, force: bool = False) -> Path:
        """Write the figure to ``path``: a whole HTML page for ``.html``, an SVG file for ``.svg``.

        As every output of lstmviz, the file appears only once complete, its folder is created when
        missing, the extraction itself is never overwritten, and another file only with ``force``.

        Args:
            path: the file; its suffix chooses the format.
            force: replace a file already there, as ``lstmviz export --force`` does.

        Returns:
            The path written.

        Raises:
            OptionError: an unknown suffix, an existing file without ``force``, a folder or an
                unwritable place.
        """
        fmt = SUFFIXES.get(Path(path).suffix.lower())
        if fmt is None:
            raise OptionError(f"{path}: cannot tell the format from the name; end it in .html or .svg")
        spec = replace(self.spec, format=fmt, fragment=False)
        states = self._opened()
        target = check_output(path, (states.path,), example=default_output_name(spec), force=force)
        return write_snippet(target, self._render(spec))
