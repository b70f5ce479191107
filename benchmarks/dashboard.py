"""How fast the dashboard's server side answers, on a large extraction, against bare h5py reads.

Builds an extraction of ``--chars`` characters (default 5 million) for a 3-layer, 512-unit model
and times what the server does for each interaction, at random positions and neurons:

* change neuron  - the controller's reply, which carries the neuron's values over the window;
* move window    - the controller's reply, which carries the window's text, guesses and values;
* open profile   - the profile panel from the precomputed summaries (histogram, coloured contexts);
* find           - the next match of 12 characters taken from a random place (the first search
                   builds the text cache, reported apart).

Each is compared with a bare ``h5py`` read of the same data (the unit's column over the window;
for a move also the tokens and predictions). JSON encoding of each reply is included, as Dash does
it. The file is written directly with :class:`lstmviz.store.writer.StatesWriter` from random activations
and summaries: running the real extractor over 5 million characters takes hours on 2 CPU cores,
and what is timed here (reads of one window, one unit's summary) does not depend on the values.
The tokens are real text (the Python standard library's source), repeated to length.

With ``--browser`` it also serves the file and drives headless Chromium (viewport 1400 x 900): the
first draw of a URL, and for pages of ``--lengths`` characters with strips the time from a key
press (``]`` next unit, ``→`` next page) until the frame showing the new view is painted, measured
inside the page, with the server requests each step sends.

    python benchmarks/dashboard.py                  # 5M chars: about 30 GB, a few minutes to write
    python benchmarks/dashboard.py --chars 500000   # quicker
    python benchmarks/dashboard.py --browser        # also time the page in headless Chromium
    python benchmarks/dashboard.py --file bench.h5 --no-server --browser --lengths 500 2000

With ``--wherefrom N`` it times instead the "where from" colouring (app/wherefrom.py) on real extractions
of the bundled model over the first N characters of its text, since provenance needs real gates:
one with float32 gates (read from the file) and one without (the model replayed from the text's
start): the controller's reply to a click whose look-back is 2,000 characters, and a unit step at
the same origin (the layer's gates kept); with ``--browser`` also the click to the painted frame.

    python benchmarks/dashboard.py --wherefrom 20000 --browser
"""

from __future__ import annotations

import argparse
import inspect
import logging
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
from plotly.io.json import to_json_plotly
from tqdm import tqdm

from app import data, figures, profiles
from app.catalog import Catalog, cached_states
from app.control import reply
from app.state import View
from lstmviz.model.config import LSTMConfig
from lstmviz.model.vocab import Vocab
from lstmviz.names import Neuron, act_name, h5_path
from lstmviz.store.spec import N_BINS, N_TOP, TOP_K, Predictions
from lstmviz.store.writer import StatesWriter

BLOCK = 1 << 16  # rows written at once (a multiple of CHUNK_ROWS)
WINDOW = 500  # characters of the default grid view


def source_text(n: int) -> str:
    """Real text of ``n`` characters: stdlib module sources, repeated."""
    import argparse as a
    import collections
    import dataclasses
    import email.message
    import json as j
    text = "".join(inspect.getsource(m) for m in (inspect, collections, dataclasses, a, j, email.message))
    return (text * (n // len(text) + 1))[:n]


def build(path: Path, n: int, n_layer: int, n_hidden: int, seed: int = 0) -> Path:
    """Write a complete extraction of random activations over real text, block by block."""
    rng = np.random.default_rng(seed)
    text = source_text(n)
    vocab = Vocab.from_text(text)
    names = [act_name(layer, k) for layer in range(n_layer) for k in ("h", "c")]
    config = LSTMConfig(vocab_size=len(vocab), n_layer=n_layer, n_hidden=n_hidden)
    writer = StatesWriter(path, n_tokens=n, config=config, vocab=vocab, names=names, c_dtype="float16",
                          attrs={"model_path": "random.pt", "text_path": "stdlib.txt"})
    pool = [np.tanh(rng.standard_normal((BLOCK, n_hidden), dtype=np.float32)).astype(np.float16)
            for _ in range(4)]
    V = len(vocab)
    with tqdm(total=n, unit="char", unit_scale=True, desc="write", file=sys.stderr) as bar:
        for k, start in enumerate(range(0, n, BLOCK)):
            stop = min(start + BLOCK, n)
            rows = stop - start
            writer.write_tokens(start, vocab.encode(text[start:stop]).astype(np.int32))
            writer.write_activations(start, {name: pool[(k + i) % 4][:rows] for i, name in enumerate(names)})
            probs = rng.dirichlet(np.ones(V), size=rows).astype(np.float32)
            probs = np.sort(probs, axis=1)[:, ::-1][:, :TOP_K]
            p_next = probs[:, 0].copy()
            writer.write_predictions(start, Predictions(
                top_ids=rng.integers(0, V, size=(rows, TOP_K), dtype=np.int32), top_probs=probs,
                p_next=p_next, loss_nats=-np.log(p_next), loss_bits=-np.log2(p_next)))
            bar.update(rows)
    for name in names:
        top = np.sort(rng.integers(0, n, size=(n_hidden, N_TOP)), axis=1)
        writer.write_summary(name, {
            "mean": np.zeros(n_hidden), "std": np.full(n_hidden, 0.5), "min": np.full(n_hidden, -1.0),
            "max": np.ones(n_hidden), "hist": rng.multinomial(n, np.full(N_BINS, 1 / N_BINS), size=n_hidden),
            "hist_lo": np.full(n_hidden, -1.0), "hist_hi": np.ones(n_hidden),
            "sat_hi": rng.random(n_hidden), "sat_lo": rng.random(n_hidden),
            "top_pos": top, "top_val": np.ones((n_hidden, N_TOP)),
            "bottom_pos": top[:, ::-1], "bottom_val": -np.ones((n_hidden, N_TOP)),
        })
    return writer.finish()


def timed(fn, *args) -> float:
    """Milliseconds one call takes."""
    t = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - t) * 1000


def encode(value) -> str:
    """JSON as Dash encodes a callback's reply (components and figures included)."""
    return to_json_plotly(value)


def report(rows: dict[str, tuple[list[float], list[float]]]) -> None:
    print(f"\n{'interaction':<16}{'median ms':>10}{'p95 ms':>9}{'h5py median':>13}{'h5py p95':>10}"
          f"{'ratio':>8}")
    for label, (ours, bare) in rows.items():
        med, p95 = statistics.median(ours), float(np.percentile(ours, 95))
        bmed, bp95 = statistics.median(bare), float(np.percentile(bare, 95))
        print(f"{label:<16}{med:>10.1f}{p95:>9.1f}{bmed:>13.2f}{bp95:>10.2f}{med / max(bmed, 1e-6):>7.1f}×")


class Interactions:
    """What the server does for each interaction, and the bare h5py read it is compared with."""

    def __init__(self, path: Path):
        self.catalog = Catalog.scan([path])
        self.key = self.catalog.default().key
        self.states = cached_states(path)
        self.f = h5py.File(path, "r")

    def change_neuron(self, v: View) -> None:
        """Next unit: the controller's one reply, the new unit's values over the same window in it."""
        encode(reply(self.catalog, ("unit_step", 1), v.to_dict()))

    def move_window(self, v: View, target: int) -> None:
        """Jump elsewhere: the controller's one reply, with the new window's text, guesses and values."""
        encode(reply(self.catalog, ("goto", target), v.to_dict()))

    def open_profile(self, v: View) -> None:
        """The profile panel of a neuron, as the profile callback returns it."""
        encode(figures.profile_panel(profiles.profile(self.states, v.neuron)))

    def find(self, query: str, origin: int) -> None:
        """The next match of a string after a position."""
        data.find(self.states, query, origin)

    def bare_column(self, neuron: str, start: int) -> None:
        """Baseline: h5py reads one unit's column over the window."""
        n = Neuron.parse(neuron)
        self.f[h5_path(n.name)][start : start + WINDOW, n.unit]

    def bare_window(self, neuron: str, start: int) -> None:
        """Baseline: h5py reads the window's tokens, predictions and one unit's column."""
        self.f["tokens"][start : start + WINDOW + 1]
        for key in ("top_ids", "top_probs", "p_next", "loss_nats", "loss_bits"):
            self.f["predictions"][key][start : start + WINDOW]
        self.bare_column(neuron, start)

    def bare_tokens(self, start: int) -> None:
        """Baseline: h5py reads the window's tokens (a search scans the cached text instead)."""
        self.f["tokens"][start : start + WINDOW]

    def bare_summary(self, neuron: str) -> None:
        """Baseline: h5py reads the unit's histogram and extreme positions."""
        n = Neuron.parse(neuron)
        for key in ("hist", "top_pos", "bottom_pos"):
            self.f[f"/summaries{h5_path(n.name)}/{key}"][n.unit]


def server_side(path: Path, samples: int, seed: int) -> None:
    run = Interactions(path)
    states = run.states
    rng = np.random.default_rng(seed)
    L, H, n = states.n_layer, states.n_hidden, states.n_tokens

    def random_view() -> View:
        layer, kind, unit = int(rng.integers(L)), str(rng.choice(["h", "c"])), int(rng.integers(H))
        return View(run.key, str(Neuron(layer, kind, unit)), pos=int(rng.integers(0, n - WINDOW)))

    rows: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in
                                                        ("change neuron", "move window", "open profile",
                                                         "find next")}
    first_find = timed(run.find, "isinstance(", 0)
    for _ in range(samples):
        v = random_view()
        shown = Neuron.parse(v.neuron)
        rows["change neuron"][0].append(timed(run.change_neuron, v))
        rows["change neuron"][1].append(timed(run.bare_column, str(replace(shown, unit=(shown.unit + 1) % H)),
                                              v.pos))
        target = int(rng.integers(0, n - WINDOW))
        rows["move window"][0].append(timed(run.move_window, v, target))
        rows["move window"][1].append(timed(run.bare_window, v.neuron, target))
        w = random_view()
        rows["open profile"][0].append(timed(run.open_profile, w))
        rows["open profile"][1].append(timed(run.bare_summary, w.neuron))
        origin = int(rng.integers(0, n - WINDOW))
        at = int(rng.integers(0, n - 12))
        query = "".join(states.symbols(at, at + 12))  # 12 characters from somewhere in the text
        rows["find next"][0].append(timed(run.find, query, origin))
        rows["find next"][1].append(timed(run.bare_tokens, origin))
    print(f"file: {path.name} ({path.stat().st_size / 1e9:.1f} GB, {n:,} chars, {L} layers × {H} units), "
          f"{samples} random interactions of each kind, window {WINDOW} chars")
    report(rows)
    print(f"\nfirst find (builds the per-file text cache of {n:,} chars): {first_find:.0f} ms")


# Timing inside the page: from the key press (seen first, in the capture phase, before the
# dashboard's own handler) until the frame that shows the new view has been painted (the first task
# after the next animation frame), and the dashboard's server requests in between.
TIMING = """
window.__lv = {key: 0, done: null, want: null, requests: 0};
window.addEventListener('keydown', () => { __lv.key = performance.now(); __lv.requests = 0; }, true);
const fetch0 = window.fetch;
window.fetch = function (url) {
    if (String(url).includes('_dash-update-component')) __lv.requests++;
    return fetch0.apply(this, arguments);
};
new MutationObserver(() => {
    const w = __lv.want, view = document.querySelector('.lv-view');
    if (!w || !view || view.dataset[w[0]] !== w[1]) return;
    __lv.want = null;
    requestAnimationFrame(() => setTimeout(() => { __lv.done = performance.now() - __lv.key; }));
}).observe(document, {subtree: true, childList: true, attributes: true});
"""


def _step_ms(page, key: str, attr: str, value: str) -> tuple[float, int]:
    """Key press to painted view in ms, and the server requests the step sent (counted 0.5 s on)."""
    page.evaluate("w => { __lv.done = null; __lv.want = w; }", [attr, value])
    page.keyboard.press(key)
    page.wait_for_function("__lv.done !== null", timeout=30_000)
    ms = page.evaluate("__lv.done")
    time.sleep(0.5)  # let any request the step causes be sent, and the page settle
    return ms, page.evaluate("__lv.requests")


def browser_side(path: Path, lengths: tuple[int, ...], steps: int, loads: int) -> None:
    """Time the page in headless Chromium: first draw of a URL, and key press to painted view."""
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from app.app import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    httpd = make_server("127.0.0.1", 0, create_app([path]).server, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_port}/"
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    print("\nbrowser (headless Chromium, viewport 1400 x 900), median [min–max]:")
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=shutil.which("chromium"),
                                                   headless=True, args=args,
                                                   viewport={"width": 1400, "height": 900})
        ctx.add_init_script(TIMING)
        first = []
        for k in range(loads):  # the first load fetches the scripts; later ones find them cached
            page = ctx.new_page()
            t = time.perf_counter()
            page.goto(f"{url}?neuron=layer0.c.{k}&pos={1000 + k}")
            page.wait_for_selector(f'.lv-view[data-neuron="layer0.c.{k}"]', timeout=60_000)
            page.evaluate("() => new Promise(done => requestAnimationFrame(() => setTimeout(done)))")
            first.append((time.perf_counter() - t) * 1000)
            page.close()
        print(f"  first draw of a URL   {_spread(first)} ms (the first load, scripts not cached: "
              f"{first[0]:.0f} ms)")
        for length in lengths:
            page = ctx.new_page()
            page.goto(f"{url}?neuron=layer0.c.0&pos=1000&len={length}")
            page.wait_for_selector('.lv-view[data-neuron="layer0.c.0"]', timeout=60_000)
            time.sleep(1.0)
            flick = [_step_ms(page, "]", "neuron", f"layer0.c.{unit}") for unit in range(1, steps + 1)]
            move = [_step_ms(page, "ArrowRight", "start", str(1000 + k * length))
                    for k in range(1, steps + 1)]
            cells = page.locator(".lv-view .lv-ch").count() + page.locator(".lv-view .lv-p").count()
            page.close()
            for label, runs in (("next unit", flick), ("next page", move)):
                requests = sorted({n for _, n in runs})
                print(f"  {length:>5} chars {label:<10}{_spread([ms for ms, _ in runs])} ms key to paint, "
                      f"{'/'.join(map(str, requests))} request(s) per step ({cells:,} cells)")
        ctx.close()
    httpd.shutdown()


def wherefrom_files(folder: Path, chars: int) -> dict[str, Path]:
    """The bundled model's extractions of its text's first ``chars`` characters: float32 gates, and none."""
    from lstmviz.demo import MODEL
    from lstmviz.demo import TEXT as DEMO_TEXT
    from lstmviz.extraction.extract import extract_file
    from lstmviz.extraction.options import Options

    text = folder / "wiki_val_start.txt"
    text.write_text(DEMO_TEXT.read_text(encoding="utf-8")[:chars], encoding="utf-8")
    made = {}
    for label, options in (("float32 gates", Options(gates=True, dtype="float32")), ("replayed", Options())):
        out = folder / f"wherefrom_{label.split()[0]}.h5"
        if not out.exists():
            t = time.perf_counter()
            extract_file(MODEL, text, out, options, unknown="replace:\ufffd", force=True)
            print(f"extracted {out.name} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        made[label] = out
    return made


def wherefrom_server(files: dict[str, Path], samples: int, seed: int) -> None:
    """The controller's reply to a where-from click (look-back 2,000), and a unit step at that origin."""
    from app.state import LOOK_BACK

    rng = np.random.default_rng(seed)
    print(f"\nwhere from: the controller's reply, look-back {LOOK_BACK:,} characters, window {WINDOW}; "
          "median [min–max] ms")
    for label, path in files.items():
        catalog = Catalog.scan([path])
        key = catalog.default().key
        states = cached_states(path)
        n, L, H = states.n_tokens, states.n_layer, states.n_hidden
        clicks, steps = [], []
        for k in range(samples):
            origin = int(rng.integers(LOOK_BACK, n)) if k else n - 1  # the first: the text's last character
            view = View(key, str(Neuron(int(rng.integers(L)), "c", int(rng.integers(H)))),
                        pos=max(0, origin - WINDOW // 2))
            t = time.perf_counter()
            out = reply(catalog, ("origin", origin), view.to_dict())
            encode(out)
            clicks.append((time.perf_counter() - t) * 1000)
            assert out["values"]["origin"] == origin, out["message"]
            t = time.perf_counter()
            encode(reply(catalog, ("unit_step", 1), out["state"]))
            steps.append((time.perf_counter() - t) * 1000)
        each = " ".join(f"{ms:.0f}" for ms in clicks)
        print(f"  {label:<14} clicks (ms, in order): {each}", file=sys.stderr)
        print(f"  {label:<14} click {_spread(clicks)} (at the text's end: {clicks[0]:.0f}); unit step at "
              f"the same origin {_spread(steps)}  ({n:,} chars, {L} × {H})")


# A click counts from when the page first sees it, as a key press does (TIMING)
CLICKED = ("window.addEventListener('click', () => { __lv.key = performance.now(); __lv.requests = 0; }, "
           "true);")


def wherefrom_browser(path: Path, clicks: int) -> None:
    """Click on a character in where-from mode until the frame showing its provenance is painted."""
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from app.app import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    httpd = make_server("127.0.0.1", 0, create_app([path]).server, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_port}/"
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=shutil.which("chromium"),
                                                   headless=True, args=args,
                                                   viewport={"width": 1400, "height": 900})
        ctx.add_init_script(TIMING + CLICKED)
        page = ctx.new_page()
        start = 4000
        page.goto(f"{url}?neuron=layer2.c.182&pos={start}&len=2000")
        page.wait_for_selector('.lv-view[data-neuron="layer2.c.182"]:not([data-more])', timeout=60_000)
        page.click("button.lv-wherefrom")
        time.sleep(1.0)
        runs = []
        for k in range(clicks):
            origin = start + 1500 + 10 * k
            page.evaluate("w => { __lv.done = null; __lv.want = w; }", ["origin", str(origin)])
            page.click(f'.lv-view .lv-ch[data-i="{origin}"]')
            page.wait_for_function("__lv.done !== null", timeout=60_000)
            ms = page.evaluate("__lv.done")
            time.sleep(0.5)
            runs.append((ms, page.evaluate("__lv.requests")))
        ctx.close()
    httpd.shutdown()
    requests = sorted({n for _, n in runs})
    print(f"  browser, {path.name}: click to painted provenance {_spread([ms for ms, _ in runs])} ms, "
          f"{'/'.join(map(str, requests))} request(s) per click (window 2,000 characters)")


def _spread(ms: list[float]) -> str:
    return f"{statistics.median(ms):6.0f} [{min(ms):.0f}–{max(ms):.0f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chars", type=int, default=5_000_000, help="characters in the file (default 5M)")
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--samples", type=int, default=100, help="random interactions timed per kind")
    ap.add_argument("--file", type=Path, help="reuse (or keep) the file here instead of a temporary one")
    ap.add_argument("--browser", action="store_true", help="also time the page in headless Chromium")
    ap.add_argument("--lengths", type=int, nargs="+", default=[500, 2000],
                    help="characters per page timed in the browser (default 500 2000)")
    ap.add_argument("--steps", type=int, default=15, help="unit and page steps timed per length")
    ap.add_argument("--loads", type=int, default=5, help="page loads timed for the first draw")
    ap.add_argument("--no-server", action="store_true", help="skip the server-side timings")
    ap.add_argument("--wherefrom", type=int, metavar="N",
                    help="time the where-from colouring instead, on extractions of N chars")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    tmp = None
    path = args.file
    if path is None:
        tmp = tempfile.TemporaryDirectory(prefix="lstmviz-bench-")
        path = Path(tmp.name) / "bench.h5"
    try:
        if args.wherefrom:  # real extractions of their own, kept beside --file when one is named
            files = wherefrom_files(path.parent, args.wherefrom)
            wherefrom_server(files, min(args.samples, 20), args.seed)
            if args.browser:
                wherefrom_browser(files["float32 gates"], args.steps)
            return
        if not path.exists():
            t = time.perf_counter()
            build(path, args.chars, args.layers, args.hidden, args.seed)
            print(f"built {path} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        if not args.no_server:
            server_side(path, args.samples, args.seed)
        if args.browser:
            browser_side(path, tuple(args.lengths), args.steps, args.loads)
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
