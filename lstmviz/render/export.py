"""Export a span of text coloured by neurons as a snippet that pastes into any blog post.

The figures are those of Karpathy's "The Unreasonable Effectiveness of Recurrent Neural Networks":
the text coloured character by character by one cell, optionally with the top-5 prediction
strips beneath. ``lstmviz export`` and the dashboard's Export button both describe the figure as
an :class:`~lstmviz.render.spec.ExportSpec` and call :func:`render`, which is deterministic: the
same file and spec give byte-identical output (no timestamps, no paths other than the file's own
name).
Each snippet records, as a comment, the lstmviz version, the model and text hashes and the exact
command that recreates it.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from pathlib import Path

from lstmviz import __version__
from lstmviz.errors import OptionError
from lstmviz.files import atomic_path
from lstmviz.render import html, svg
from lstmviz.render.snippet import Snippet, gather
from lstmviz.render.spec import DEFAULTS, ExportSpec
from lstmviz.render.style import quantity
from lstmviz.store.reader import States


def shell_quote(value: str) -> str:
    r"""Quote for a POSIX shell; values that could upset an HTML comment use bash's ``$'…'``.

    ``$'…'`` spells ``-``, ``<``, ``>`` and ``&`` as ``\x2d``, ``\x3c``, ``\x3e``, ``\x26``, so the
    quoted value never holds ``--`` or a tag (which could close or corrupt the provenance
    comment), and control characters never break the line. A character that is not printable is
    written as its UTF-8 bytes: U+0085 as ``\xc2\x85``, since bash reads ``\x85`` as the lone byte
    0x85, and leaves ``\u0085`` as those six characters in a locale that is not UTF-8; the bytes
    give back the exact character in every locale. An undecodable byte of the command line
    (U+DC80 to U+DCFF, :pep:`383`) is written as that byte. A NUL cannot be given back: no
    command line holds one.

    >>> shell_quote("quote cell"), shell_quote("a --> b"), shell_quote("\x85")
    ("'quote cell'", "$'a \\x2d\\x2d\\x3e b'", "$'\\xc2\\x85'")
    """
    if "--" not in value and value.isprintable() and not any(ch in value for ch in "<>&"):
        return shlex.quote(value)
    escapes = {"-": "\\x2d", "<": "\\x3c", ">": "\\x3e", "&": "\\x26", "\\": "\\\\", "'": "\\'",
               "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    out = []
    for ch in value:
        if ch in escapes:
            out.append(escapes[ch])
        elif not ch.isprintable():
            out.append("".join(f"\\x{byte:02x}" for byte in _utf8(ch)))
        else:
            out.append(ch)
    return "$'" + "".join(out) + "'"


def _utf8(ch: str) -> bytes:
    """The bytes of one character on a command line: UTF-8, or the byte a PEP 383 surrogate stands for."""
    try:
        return ch.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate no command line can hold; its bytes stay visible
        return ch.encode("utf-8", "surrogatepass")


def export_command(source_name: str, spec: ExportSpec) -> str:
    """The canonical ``lstmviz export`` command that recreates a snippet.

    Only the file's name is used, never its folder; options at their defaults are left out
    (each other option of the spec is written ``--field-name``); ``-o`` is left out too (the
    content does not depend on it).

    >>> export_command("runs/val.h5", ExportSpec(["layer1.c.117"], 1200, 400, strips=True))
    'lstmviz export val.h5 --neuron layer1.c.117 --start 1200 --length 400 --strips'
    """
    words = ["lstmviz", "export", shell_quote(Path(source_name).name)]
    for neuron in spec.neurons:
        words += ["--neuron", str(neuron)]
    words += ["--start", str(spec.start), "--length", str(spec.length)]
    for name, default in DEFAULTS.items():
        value = getattr(spec, name)
        if value != default:
            option = "--" + name.replace("_", "-")
            words += [option] if isinstance(value, bool) else [option, shell_quote(str(value))]
    return " ".join(words)


def default_output_name(spec: ExportSpec) -> str:
    """The file name used when no ``-o`` is given: ``<neuron>_<start>.<format>``.

    >>> default_output_name(ExportSpec(["layer1.c.117"], 1200, 400))
    'layer1.c.117_1200.html'
    >>> default_output_name(ExportSpec(["layer0.h.1", "layer0.h.2"], 0, 10, format="svg"))
    'layer0.h.1+1_0.svg'
    """
    more = f"+{len(spec.neurons) - 1}" if len(spec.neurons) > 1 else ""
    return f"{spec.neurons[0]}{more}_{spec.start}.{spec.format}"


def _attr(attrs: dict, key: str) -> str | None:
    value = attrs.get(key)
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _plain(text: str) -> str:
    """Text from the file made safe for the comment: one line, no ``<`` or ``>``, never ``--``."""
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    text = text.replace("<", "\u2039").replace(">", "\u203a")
    while "--" in text:
        text = text.replace("--", "-\u2010")
    return text


def source_lines(states: States, source_name: str) -> list[str]:
    """The file, model and text a figure comes from, as lines safe inside ``<!-- -->``.

    Only names are given, never folders, with the sha256 hashes recorded at extraction; values
    from the file are reduced to one line without ``<``, ``>`` or ``--``.
    """
    attrs = states.attrs

    def described(name_key: str, sha_key: str) -> str:
        name = _attr(attrs, name_key)
        sha = _attr(attrs, sha_key)
        shown = f"{_plain(Path(name).name)} " if name else ""
        return shown + (f"sha256 {_plain(sha)}" if sha else "sha256 not recorded in the file")

    return [f"file: {_plain(Path(source_name).name)}", f"model: {described('model_path', 'model_sha256')}",
            f"text: {described('text_path', 'text_sha256')}"]


def provenance(states: States, snippet: Snippet, command: str, source_name: str) -> str:
    """The provenance lines, safe inside ``<!-- -->``: no ``<`` or ``>`` at all, so no tag.

    Values from the file are reduced to one line without ``<``, ``>`` or ``--`` (:func:`source_lines`);
    the command quotes any value holding one with ``$'…'`` (see :func:`shell_quote`), and its own
    ``--option`` words follow a space, so nothing in the comment can read as ``-->``, ``--!>``,
    ``<!--`` or a tag.
    """
    neurons = "; ".join(
        f"{band.neuron} ({quantity(band.neuron.kind, snippet.raw_c)}, colours over "
        f"{band.lo:.6g} to {band.hi:.6g})"
        for band in snippet.bands
    )
    lines = [
        f"lstmviz {__version__} export",
        *source_lines(states, source_name),
        f"neurons: {neurons}",
        f"span: positions {snippet.start} to {snippet.stop - 1} ({snippet.stop - snippet.start} characters)",
        f"palette: {snippet.palette}",
        f"command: {command}",
    ]
    return "\n".join(lines)


def _clean(text: str | None, multiline: bool) -> str | None:
    """A title or caption fit to show: controls dropped, newlines kept only where allowed."""
    if text is None:
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    if not multiline:
        text = text.replace("\n", " ")
    text = text.encode("utf-8", "replace").decode("utf-8")  # undecodable argv bytes
    text = "".join(ch for ch in text if ch == "\n" or ch.isprintable())
    return text if text.strip() else None


@dataclass
class _Figure:
    snippet: Snippet
    provenance: str
    scope: str
    title: str | None
    caption: str | None
    page_title: str


def _figure(states: States, spec: ExportSpec, source_name: str | None) -> _Figure:
    snippet = gather(states, spec)
    name = source_name if source_name is not None else states.path.name
    text = provenance(states, snippet, export_command(name, spec), name)
    scope = "lv-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
    shown = ", ".join(str(b.neuron) for b in snippet.bands)
    title = _clean(spec.title, multiline=False)
    page_title = title or f"{shown}, positions {spec.start} to {snippet.stop - 1} (lstmviz)"
    return _Figure(snippet, text, scope, title, _clean(spec.caption, multiline=True), page_title)


def render(states: States, spec: ExportSpec, *, source_name: str | None = None) -> str:
    """The figure ``spec`` describes, as self-contained HTML or as SVG (``spec.format``).

    HTML is a whole page, or with ``spec.fragment`` one ``<div>`` whose styles are scoped under
    a class unique to the figure. SVG is rectangles and text; ``spec.fragment`` leaves out the
    XML declaration, for an ``<svg>`` inlined into HTML.

    Args:
        states: an open extraction file.
        spec: the neurons, span and options (see :class:`~lstmviz.render.spec.ExportSpec`).
        source_name: the file name recorded in the provenance (default: the states file's name).

    Raises:
        StoreError: a span outside the text.
        UnknownActivation: a neuron the file does not hold.

    >>> # with open_states("val.h5") as s: html = render(s, ExportSpec(["layer1.c.117"], 1200, 400))
    """
    fig = _figure(states, spec, source_name)
    if spec.format == "svg":
        return svg.document(fig.snippet, scope=fig.scope, metadata=fig.provenance, title=fig.title,
                            caption=fig.caption, fragment=spec.fragment)
    body = html.fragment(fig.snippet, scope=fig.scope, comment=fig.provenance, title=fig.title,
                         caption=fig.caption)
    return body if spec.fragment else html.page(body, title=fig.page_title)


def write_snippet(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` whole or not at all: a temporary sibling, renamed when complete.

    Raises:
        OptionError: the path is a folder, its folder does not exist, or it cannot be written.
    """
    path = Path(path)
    try:
        if path.is_dir():
            raise OptionError(f"{path} is a folder; give a file name, e.g. -o {path / 'snippet.html'}")
        folder = path.parent
        if not folder.is_dir():
            why = "is a file, not a folder;" if folder.exists() else "does not exist; create it or"
            raise OptionError(f"cannot write {path}: the folder {folder} {why} choose another -o")
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    except OSError as e:
        raise OptionError(f"cannot write {path}: {e.strerror}; choose another -o") from None
    return path
