"""The cell atlas as one self-contained HTML page: the file's interpretable cells at a glance.

What it shows is chosen by :mod:`lstmviz.search.atlas`; this module lays it out. Each card is one
unit: what it tracks, its score against the hypothesis' baseline, its causal score (or a dash),
its best context coloured exactly as an export colours it (the same :mod:`lstmviz.render.snippet`
and :mod:`lstmviz.render.html`, under one stylesheet for the whole page) and a histogram of its
values over the file, drawn as a small inline SVG from the file's summaries. The page has no
script, no link and no external reference: it opens offline, and the dashboard shows it as it is.
A comment at the top records the lstmviz version, the file, model and text, and the command that
recreates the page.
"""

from __future__ import annotations

from html import escape

import numpy as np

from lstmviz import __version__
from lstmviz.intervene.causal import CHARS
from lstmviz.kinds import KINDS
from lstmviz.names import Neuron
from lstmviz.render import html, style
from lstmviz.render.export import shell_quote, source_lines
from lstmviz.render.snippet import gather
from lstmviz.render.spec import ExportSpec
from lstmviz.search import atlas as choose
from lstmviz.search.atlas import Atlas, Card
from lstmviz.store.reader import States

SCOPE = "lv-atlas-fig"  # the class every snippet of the page sits under, with one stylesheet
BEFORE, AFTER = 80, 40  # characters of context around a card's peak
WIDTH = 60  # characters per line of a card's context
PALETTE = "blog"
HIST_W, HIST_H, HIST_LABEL = 220, 48, 12  # px: the histogram's bars and the row of its labels
RAW_C_SATURATED = 0.5  # a cell whose tanh(c) is saturated at more positions is coloured by c itself

PAGE_CSS = """
body{margin:0;background:#fbfbfc;color:#1d2430;font-size:14px;line-height:1.45;
font-family:-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1400px;margin:0 auto;padding:12px 16px 40px}
h1{font-size:22px;margin:8px 0 2px}
h2{font-size:18px;margin:28px 0 6px;border-bottom:1px solid #d8dce3;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.sub,.note,.hyp-note{color:#5f6b7a}
.summary{background:#fff;border:1px solid #d8dce3;padding:10px 14px;margin:12px 0}
.big{font-size:20px;font-weight:600}
.alert{background:#fff6e0;border-left:4px solid #e0a400;padding:8px 12px;margin:10px 0}
table.share{border-collapse:collapse;margin-top:6px}
table.share th,table.share td{padding:2px 14px 2px 0;text-align:right}
table.share th:first-child,table.share td:first-child{text-align:left}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(590px,1fr));gap:12px}
.card{background:#fff;border:1px solid #d8dce3;border-radius:4px;padding:8px 10px}
.card.below{border-style:dashed;opacity:.85}
.card-head{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.neuron{font-family:ui-monospace,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-weight:700;font-size:15px}
.what{color:#5f6b7a}
.tag{font-size:12px;padding:0 6px;border-radius:3px;background:#eef0f3;color:#5f6b7a}
table.stats{border-collapse:collapse;margin:4px 0;font-size:13px}
table.stats th{font-weight:normal;color:#5f6b7a;text-align:left;padding:0 4px 0 0}
table.stats td{font-family:ui-monospace,Menlo,Consolas,monospace;padding:0 14px 0 0}
ul.facts{margin:4px 0;padding-left:20px;font-size:13px}
.card-body{display:flex;gap:10px;align-items:flex-start;flex-wrap:wrap}
.card .lv-snippet{margin:0;padding:4px 6px;flex:1 1 auto}
.hist text{font-size:10px;fill:#5f6b7a}
.hist .bars{fill:#5f6b7a}
.hist .zero{stroke:#b00;stroke-width:1}
.where{font-size:12px;color:#5f6b7a;margin:2px 0}
ul.closest{padding-left:20px;margin:4px 0}
.legend{margin:8px 0}
"""


def atlas_command(source_name: str, *, margin: float = choose.MARGIN, top: int = choose.PER_HYPOTHESIS,
                  unexplained: int = choose.UNEXPLAINED, causal: bool = False, causal_chars: int = CHARS,
                  model: str | None = None, trust_pickle: bool = False) -> str:
    """The ``lstmviz atlas`` command that recreates a page; options at their defaults are left out.

    Files are named without their folders (``--model`` too), as every recorded command names them.

    >>> atlas_command("runs/val.h5", margin=0.1)
    'lstmviz atlas val.h5 --margin 0.1'
    >>> atlas_command("runs/val.h5", causal=True, causal_chars=20000, model="runs/m.pt")
    'lstmviz atlas val.h5 --causal --causal-chars 20000 --model m.pt'
    """
    words = ["lstmviz", "atlas", shell_quote(_name(source_name))]
    for option, value, default in (("--margin", margin, choose.MARGIN), ("--top", top, choose.PER_HYPOTHESIS),
                                   ("--unexplained", unexplained, choose.UNEXPLAINED)):
        if value != default:
            words += [option, f"{value:g}"]
    if causal:
        words.append("--causal")
        if causal_chars != CHARS:
            words += ["--causal-chars", str(causal_chars)]
        if model is not None:
            words += ["--model", shell_quote(_name(model))]
        if trust_pickle:
            words.append("--trust-pickle")
    return " ".join(words)


def _name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def page(states: States, atlas: Atlas, *, command: str, source_name: str | None = None) -> str:
    """The whole atlas page of ``atlas``, a file opened as ``states``; ``command`` recreates it.

    Deterministic: the same file and options give the same bytes.
    """
    name = source_name if source_name is not None else states.path.name
    classes = html.ColourClasses()
    body = [_header(states, atlas, name), _summary(atlas), _legend(atlas, classes), _causal_note(atlas)]
    body += _tracked(states, atlas, classes)
    body += _unexplained(states, atlas, classes)
    if atlas.skipped:
        body.append(f'<p class="note">Constant on this text, so no unit can track them: '
                    f'{escape(", ".join(atlas.skipped))}.</p>')
    body.append(_reading(atlas))
    comment = "\n".join([f"lstmviz {__version__} atlas", *source_lines(states, name), f"command: {command}"])
    css = [style.stylesheet("." + SCOPE), *style.colour_rules("." + SCOPE, PALETTE, classes.used),
           f".{SCOPE} .lv-mark{{outline:2px solid #e0a400;outline-offset:-2px}}"]
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Cell atlas of {escape(name)} (lstmviz)</title>\n"
        f"<!--\n{comment}\n-->\n"
        f"<style>{PAGE_CSS}" + "\n".join(css) + "\n</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )


def _header(states: States, atlas: Atlas, name: str) -> str:
    units = sum(n for _, n in atlas.clear.values())
    layers = f"{states.n_layer} layer{'s' if states.n_layer != 1 else ''} of {states.n_hidden} units"
    return (f"<h1>Cell atlas of {escape(name)}</h1>\n"
            f'<p class="sub">{atlas.n_positions:,} characters · {layers} · {units:,} units ranked against '
            f"{len(atlas.tracked)} hypotheses</p>")


def _share(n: int, of: int) -> str:
    return f"{n / of:.1%}" if of else "–"


def _kind_label(kind: str) -> str:
    """A kind and, where it differs, what its colour shows: ``c (tanh(c))``, ``h``, ``gates.f (…)``."""
    shown = style.quantity(kind)
    return kind if shown == kind else f"{kind} ({shown})"


def _summary(atlas: Atlas) -> str:
    n, of = atlas.cells
    head = (f'<p><span class="big">{n:,} of {of:,} cells ({_share(n, of)})</span> clear the baseline of some '
            f"hypothesis by {atlas.margin:g} or more. Karpathy's post guessed that about 5 % of cells are "
            "interpretable.</p>")
    rows = "".join(f"<tr><td>{escape(_kind_label(kind))}</td><td>{k:,}</td>"
                   f"<td>{total:,}</td><td>{_share(k, total)}</td></tr>"
                   for kind, (k, total) in atlas.clear.items())
    table = ('<table class="share"><thead><tr><th>units</th><th>clear</th><th>of</th><th>share</th></tr>'
             f"</thead><tbody>{rows}</tbody></table>")
    alert = f'<p class="alert">{escape(atlas.message())}</p>' if atlas.message() else ""
    return f'<section class="summary">\n{head}\n{alert}\n{table}\n</section>'


def _legend(atlas: Atlas, classes: html.ColourClasses) -> str:
    shown = [c for cards in (*atlas.tracked.values(), atlas.unexplained) for c in cards]
    kinds = dict.fromkeys(Neuron.parse(c.neuron).kind for c in shown)
    ranges: dict[tuple[float, float], list[str]] = {}
    for kind in kinds:
        ranges.setdefault(KINDS[kind].display_range, []).append(style.quantity(kind))
    rows = [html.scale(", ".join(names), lo, hi, "k", classes) for (lo, hi), names in ranges.items()]
    return (f'<div class="legend"><div class="lv-snippet {SCOPE}"><div class="lv-legend">{"".join(rows)}'
            '</div></div><div class="where">Each context is coloured as <code>lstmviz export</code> colours '
            "it, its strongest character outlined; a cell whose tanh(c) is saturated at most positions is "
            "coloured by c itself, over its range in the whole file.</div></div>")


def _tracked(states: States, atlas: Atlas, classes: html.ColourClasses) -> list[str]:
    out = ["<h2>Cells that track a hypothesis</h2>"]
    clearing = atlas.clearing
    if not clearing:
        out.append(f'<p class="note">None: no unit clears its baseline by {atlas.margin:g}.</p>')
        if atlas.closest is not None:
            out += ["<h3>The closest</h3>", '<div class="cards">',
                    _card(states, atlas.closest, atlas.margin, classes, causal=bool(atlas.causal)), "</div>"]
    for hyp, cards in clearing.items():
        first = cards[0]
        out.append(f'<h3>{escape(hyp)} <span class="hyp-note">· {escape(first.description)} · '
                   f"{escape(first.measure)}, baseline {first.baseline:.3f}</span></h3>")
        out.append('<div class="cards">')
        out += [_card(states, c, atlas.margin, classes, causal=bool(atlas.causal)) for c in cards]
        out.append("</div>")
    rest = [(h, cs[0]) for h, cs in atlas.tracked.items() if h not in clearing]
    if rest:
        items = "".join(f"<li><b>{escape(h)}</b> ({escape(c.description)}): best {escape(c.neuron)}, "
                        f"{escape(c.measure)} {c.score:.3f}, baseline {c.baseline:.3f}, "
                        f"margin {c.margin:+.3f}</li>" for h, c in rest)
        out += ["<h3>Hypotheses no unit clears</h3>", f'<ul class="closest">{items}</ul>']
    return out


def _unexplained(states: States, atlas: Atlas, classes: html.ColourClasses) -> list[str]:
    out = ["<h2>Unexplained: strong, structured, no hypothesis</h2>",
           '<p class="note">Units no hypothesis explains whose value spreads widely and persists from '
           "one character to the next: cells to look at next, with their strongest contexts.</p>"]
    if not atlas.unexplained:
        out.append('<p class="note">None: every unit clears some hypothesis, or none is active.</p>')
        return out
    out.append('<div class="cards">')
    out += [_card(states, c, atlas.margin, classes, unexplained=True) for c in atlas.unexplained]
    out.append("</div>")
    return out


def _direction(card: Card, binary: bool) -> str:
    if binary:
        return "higher inside" if card.direction == "+" else "lower inside"
    return "rises with it" if card.direction == "+" else "falls as it rises"


def _card(states: States, card: Card, margin: float, classes: html.ColourClasses, *,
          unexplained: bool = False, causal: bool = False) -> str:
    n = Neuron.parse(card.neuron)
    binary = card.measure == "AUROC"
    below = not unexplained and card.margin < margin
    score = "—" if card.causal is None else f"{card.causal:.3g}"
    if card.causal_bits is not None:
        score += f"</td><th>Δbits</th><td>{card.causal_bits:+.3f}"
    if unexplained:
        why = "no hypothesis fits an unexplained unit, so it has no causal score"
    elif card.causal is not None:
        why = "causal percentile: the share of random units of its layer and kind costing less silenced"
    else:
        why = ("no region of the hypothesis closes in the characters silenced" if causal else
               "causal percentile, with lstmviz atlas --causal")
    if unexplained:
        what = (f'<span class="what">interest {card.interest:.2f}; closest: {escape(card.hypothesis)}, '
                f"margin {card.margin:+.3f}</span>")
    else:
        what = (f'<span class="what">{escape(card.hypothesis)}: {_direction(card, binary)}</span>'
                + (' <span class="tag">below the margin</span>' if below else ""))
    stats = (f'<table class="stats"><tr><th>{escape(card.measure)}</th><td>{card.score:.3f}</td>'
             f"<th>baseline</th><td>{card.baseline:.3f}</td><th>margin</th><td>{card.margin:+.3f}</td>"
             f'<th title="{why}">causal</th>'
             f"<td>{score}</td></tr></table>")
    facts = "".join(f"<li>{escape(f)}</li>" for f in card.facts)
    contexts = "".join(_context(states, n, p, classes) for p in card.contexts)
    return (f'<div class="card{" below" if below else ""}" data-neuron="{card.neuron}">'
            f'<div class="card-head"><span class="neuron">{card.neuron}</span> {what}</div>'
            f"{stats}" + (f'<ul class="facts">{facts}</ul>' if facts else "")
            + f'<div class="card-body"><div>{contexts}</div>{_histogram(states, n)}</div></div>')


def _causal_note(atlas: Atlas) -> str:
    """What the causal numbers mean and how they were measured; empty without causal scores."""
    if not atlas.causal:
        return ""
    info = atlas.causal
    how = "held at its mean over the file" if info["ablation"] == "mean" else "held at 0"
    return (f'<p class="note causal-note"><b>causal</b>: each unit that tracks a hypothesis was silenced '
            f"({how}) over the first {info['chars']:,} characters, and so were {atlas.n_random} or more "
            "random units of its layer and kind, each alone. <b>Δbits</b> is how much worse the model "
            "then predicts, in bits per character, where a region of the hypothesis closes; <b>causal</b> "
            "is the percentile of that among the random units (100: none costs more); — where no region "
            "of the hypothesis closes in those characters. Unexplained units have none: no hypothesis "
            "fits them.</p>")


def raw_c(states: States, n: Neuron) -> bool:
    """Colour a cell's context by c itself: tanh(c) is saturated at most positions (a counter).

    Over its whole-file range, as ``lstmviz export --raw-c`` colours it; in tanh(c) such a cell
    would be one flat colour.
    """
    if KINDS[n.kind].display is None:
        return False
    summary = states.summary(n.name)
    return float(summary["sat_hi"][n.unit] + summary["sat_lo"][n.unit]) > RAW_C_SATURATED


def _context(states: States, n: Neuron, peak: int, classes: html.ColourClasses) -> str:
    """The text around ``peak`` coloured by the unit, as an export colours it, the peak outlined."""
    start = max(0, peak - BEFORE)
    stop = min(states.n_tokens, peak + AFTER)
    raw = raw_c(states, n)
    snippet = gather(states, ExportSpec([n], start, stop - start, palette=PALETTE, width=WIDTH, raw_c=raw))
    scale = f" · coloured by c over ±{style.tick(snippet.bands[0].hi)} (tanh(c) saturates)" if raw else ""
    return (f'<div class="where">position {peak:,}{scale}</div>'
            f'<div class="lv-snippet {SCOPE}">{html.text(snippet, classes, mark=peak - start)}</div>')


def _histogram(states: States, n: Neuron) -> str:
    """The unit's histogram over the whole file, from the summaries; heights by square root."""
    summary = states.summary(n.name)
    counts = np.asarray(summary["hist"][n.unit], dtype=np.float64)
    lo, hi = float(summary["hist_lo"][n.unit]), float(summary["hist_hi"][n.unit])
    heights = np.sqrt(counts / counts.max()) * HIST_H if counts.max() > 0 else np.zeros_like(counts)
    w = HIST_W / len(counts)
    bars = "".join(f"M{k * w:.2f} {HIST_H}v{-h:.2f}h{w:.2f}v{h:.2f}z" for k, h in enumerate(heights) if h > 0)
    zero = ""
    if lo < 0 < hi:
        x = (0 - lo) / (hi - lo) * HIST_W
        zero = f'<line class="zero" x1="{x:.2f}" y1="0" x2="{x:.2f}" y2="{HIST_H}"/>'
    what = f"{n.kind} of {n} over the file, {style.tick(lo)} to {style.tick(hi)}"
    return (f'<svg class="hist" width="{HIST_W}" height="{HIST_H + HIST_LABEL}" '
            f'viewBox="0 0 {HIST_W} {HIST_H + HIST_LABEL}" role="img"><title>{escape(what)}</title>'
            f'<path class="bars" d="{bars}"/>{zero}'
            f'<text x="0" y="{HIST_H + 10}">{style.tick(lo)}</text>'
            f'<text x="{HIST_W / 2:g}" y="{HIST_H + 10}" text-anchor="middle">{escape(n.kind)}</text>'
            f'<text x="{HIST_W}" y="{HIST_H + 10}" text-anchor="end">{style.tick(hi)}</text></svg>')


def _reading(atlas: Atlas) -> str:
    return (
        '<h2>How to read it</h2><ul class="note">'
        "<li><b>score</b>: AUROC (shown as max(AUROC, 1 − AUROC)) for a yes/no hypothesis such as "
        "“inside quotes”, |Pearson r| for a number such as bracket depth.</li>"
        "<li><b>baseline</b>: what chance reaches: the best score of any unit against shifted copies of "
        "the hypothesis, or of a guess from the current character alone, whichever is higher.</li>"
        f"<li><b>margin</b> = score − baseline; a unit clears a hypothesis at {atlas.margin:g} or more "
        "(the best units of random networks stay below 0.05).</li>"
        "<li><b>causal</b>: with <code>--causal</code>, the unit's causal percentile: how much worse the "
        "model predicts where a region of the hypothesis closes with the unit silenced (<b>Δbits</b>, bits "
        "per character), ranked among random units of its layer and kind (100: above them all); — "
        "without it, and on unexplained units.</li>"
        "<li><b>unexplained</b>: units with no margin at the threshold, ranked by the spread of their "
        "shown value (standard deviation over half its range) times its lag-1 autocorrelation over the "
        f"first {choose.SAMPLE_ROWS:,} characters.</li>"
        "<li>The histogram counts the unit's values over the whole file (square-root heights; a red line "
        "marks 0).</li></ul>"
    )
