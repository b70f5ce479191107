"""Requests no page would send, over real HTTP: each is answered by a message, never by a server error.

The dashboard trusts nothing that comes back from the browser: the selection, typed text, ids of
clicked items. These tests post crafted values to every server callback of a live app on
127.0.0.1, try path traversal on every route that takes a name, and run several clients at once.
"""

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from browsing import serving
from dashboard_files import build

from app import ids
from app.app import create_app
from app.state import LENGTHS, MAX_TEXT, View

GOOD = View("tiny", "layer0.h.3").to_dict()
MALFORMED = [
    None, 5, "view", [], {}, {"file": "tiny"}, {**GOOD, "extra": 1},
    {**GOOD, "pos": 1.5}, {**GOOD, "pos": "12"}, {**GOOD, "pos": None}, {**GOOD, "pos": True},
    {**GOOD, "pos": -5}, {**GOOD, "pos": 10**15}, {**GOOD, "pos": 2**70},
    {**GOOD, "length": 10**9}, {**GOOD, "length": 0}, {**GOOD, "length": -1}, {**GOOD, "length": "500"},
    {**GOOD, "file": "nope"}, {**GOOD, "file": 3}, {**GOOD, "file": "../../etc/passwd"},
    {**GOOD, "file": None},
    {**GOOD, "neuron": "layer0.h.999"}, {**GOOD, "neuron": "layer9.c.0"}, {**GOOD, "neuron": ""},
    {**GOOD, "neuron": 5}, {**GOOD, "neuron": "x" * 100_000}, {**GOOD, "neuron": "layer0.h.-1"},
    {**GOOD, "mode": "x"}, {**GOOD, "palette": "<script>"}, {**GOOD, "raw_c": "yes"},
    {**GOOD, "mark": "a"}, {**GOOD, "mark": 10**12, "mark_len": 10**12}, {**GOOD, "mark_len": -3},
]
# Values of the other inputs and states that make each callback do its work rather than skip it
TRIGGERS = {ids.TABS: None, ids.EXPORT_HTML: 1, ids.SEARCH_RUN: 1, ids.EXAMPLE_RUN: 1,
            ids.EXAMPLE_SPAN: "10:12", ids.SEARCH_HYPOTHESIS: "quote", ids.UNIT_NEXT: 1}
TABS = {ids.PROFILE: ids.TAB_PROFILE, ids.SATURATION: ids.TAB_SATURATION, ids.SEARCH_RESULTS: ids.TAB_SEARCH}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    build(folder / "tiny.h5")
    with serving(create_app([folder])) as url:
        deps = json.load(urllib.request.urlopen(url + "_dash-dependencies", timeout=30))
        yield url, [d for d in deps if not d.get("clientside_function")]


def _outputs(spec: str):
    if not spec.startswith(".."):
        cid, _, prop = spec.partition(".")
        return {"id": cid, "property": prop}
    return [dict(zip(("id", "property"), p.split(".", 1), strict=True)) for p in spec.strip(".").split("...")]


def _item(i: dict, values: dict):
    """An input or state as the page sends it; a pattern id (``{"type": …}``) takes a list of matches."""
    if i["id"].startswith("{"):
        return values.get(json.loads(i["id"])["type"], [])
    return {**i, "value": values.get(i["id"])}


def post(url: str, dep: dict, values: dict, changed: str | None = None) -> tuple[int, dict | None]:
    """Call one callback as the page would; (HTTP status, JSON reply or None)."""
    first = dep["inputs"][0]
    payload = {
        "output": dep["output"], "outputs": _outputs(dep["output"]),
        "inputs": [_item(i, values) for i in dep["inputs"]],
        "state": [_item(s, values) for s in dep["state"]],
        "changedPropIds": [changed or f"{first['id']}.{first['property']}"],
    }
    request = urllib.request.Request(url + "_dash-update-component", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            body = r.read()
            return r.status, json.loads(body) if body else None
    except urllib.error.HTTPError as e:
        return e.code, None


def _main_output(dep: dict) -> str:
    return _outputs(dep["output"])[0]["id"] if dep["output"].startswith("..") else dep["output"].split(".")[0]


@pytest.mark.parametrize("state", MALFORMED, ids=lambda s: json.dumps(s)[:60])
def test_every_callback_answers_a_malformed_view_without_a_server_error(live, state):
    url, deps = live
    for dep in deps:
        values = {**TRIGGERS, ids.STATE: state, ids.TABS: TABS.get(_main_output(dep))}
        status, reply = post(url, dep, values)
        assert status in (200, 204), (dep["output"], status)


def _answering(deps: list, output: str) -> dict:
    """The callback whose reply carries ``output`` (the text's window and colours come with the view)."""
    return next(d for d in deps if any(o["id"] == output for o in _as_list(_outputs(d["output"]))))


def _as_list(outputs) -> list:
    return outputs if isinstance(outputs, list) else [outputs]


STEP = "unit-next.n_clicks"  # an event that moves from the view the page sends


def test_a_malformed_view_is_explained_on_the_page(live):
    url, deps = live
    window = _answering(deps, ids.WINDOW)
    status, reply = post(url, window, {ids.STATE: {**GOOD, "pos": "12"}, ids.UNIT_NEXT: 1}, changed=STEP)
    assert status == 200
    said = json.dumps(reply["response"][ids.MESSAGE])
    assert "the page sent pos='12', which is not a whole number; reload the page" in said
    status, reply = post(url, window, {ids.STATE: {**GOOD, "file": "../../etc/passwd"}, ids.UNIT_NEXT: 1},
                         changed=STEP)
    assert "is not on this server; pick one from the file list" in json.dumps(reply["response"][ids.MESSAGE])


def test_no_request_reads_more_than_one_window(live):
    url, deps = live
    for output in (ids.WINDOW, ids.VALUES):
        dep = _answering(deps, output)
        for changed in (STEP, "page-next.n_clicks"):  # new colours; a new window and its colours
            values = {ids.STATE: {**GOOD, "length": 10**9}, ids.UNIT_NEXT: 1, ids.PAGE_NEXT: 1}
            status, reply = post(url, dep, values, changed=changed)
            if output not in reply["response"]:
                continue  # a unit step sends no new window
            data = reply["response"][output]["data"]
            assert data["stop"] - data["start"] <= max(LENGTHS)


def test_typed_text_is_bounded(live):
    url, deps = live
    search = next(d for d in deps if _main_output(d) == ids.SEARCH_RESULTS)
    values = {**TRIGGERS, ids.STATE: GOOD, ids.TABS: ids.TAB_SEARCH,
              ids.SEARCH_PATTERN: "a" * (MAX_TEXT + 1)}
    status, reply = post(url, search, values)
    assert status == 200
    assert f"type at most {MAX_TEXT:,}" in json.dumps(reply["response"][ids.SEARCH_RESULTS])


CLICKS = [  # (changed input, its value): clicks on items the page could not have drawn
    (ids.JUMP, {"to": "context", "pos": "x"}), (ids.JUMP, {"to": "context", "pos": None}),
    (ids.JUMP, {"to": "unit", "neuron": 5, "start": 1, "stop": 2}),
    (ids.JUMP, {"to": "unit", "neuron": "layer7.q.1", "start": 1, "stop": 2}),
    (ids.JUMP, {"to": "unit", "neuron": "layer0.h.1", "start": 1, "stop": 2, "why": ["x"]}),
    (ids.JUMP, {"to": "span", "start": "a", "stop": 3}), (ids.JUMP, {"to": "nowhere"}), (ids.JUMP, "x"),
    ({"type": ids.SATURATION_GRAPH, "file": "tiny"}, "x"),
    ({"type": ids.SATURATION_GRAPH, "file": "tiny"}, {"points": []}),
]


@pytest.mark.parametrize(("clicked", "value"), CLICKS, ids=lambda v: json.dumps(v)[:50])
def test_crafted_clicks_get_messages(live, clicked, value):
    url, deps = live
    controller = next(d for d in deps if _main_output(d) == ids.STATE)
    if clicked == ids.JUMP:
        values, changed = {ids.STATE: GOOD, ids.JUMP: value}, f"{ids.JUMP}.data"
    else:
        prop = "clickData"
        values = {ids.STATE: GOOD, clicked["type"]: [{"id": clicked, "property": prop, "value": value}]}
        changed = json.dumps(clicked, separators=(",", ":"), sort_keys=True) + "." + prop
    status, reply = post(url, controller, values, changed=changed)
    assert status in (200, 204)
    if status == 200 and isinstance(value, dict) and value.get("to") in ("context", "unit", "span"):
        assert reply["response"][ids.MESSAGE]["children"]  # a message says what was wrong


TRAVERSALS = [
    prefix + target
    for prefix in ("../", "../../../../", "..%2f", "..%2F..%2F", "%2e%2e/", "%2e%2e%2f", "....//", "..\\",
                   "/", "%252e%252e%252f", "..;/", "./../")
    for target in ("etc/passwd", "root/.bashrc", "proc/self/environ")
]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_traversal_in_a_file_key_or_a_route_reveals_nothing(live, name):
    url, deps = live
    controller = next(d for d in deps if _main_output(d) == ids.STATE)
    status, reply = post(url, controller, {ids.URL: f"?file={name}&neuron=layer0.h.1"}, changed="url.search")
    assert status == 200
    response = reply["response"]
    assert response[ids.STATE]["data"]["file"] == "tiny"  # fell back to the file that is served
    assert "is not on this server" in json.dumps(response[ids.MESSAGE])
    for route in ("assets/", "_dash-component-suites/", "_dash-component-suites/dash/"):
        try:
            with urllib.request.urlopen(url + route + name, timeout=30) as r:
                body = r.read()
        except urllib.error.HTTPError as e:
            body = e.read()
        assert b"root:" not in body and b"PATH=" not in body and b"alias " not in body


def test_eight_clients_at_once_all_get_answers(live):
    """Bounded: 8 clients x 12 steps each, loopback only, every request with its own timeout."""
    url, deps = live
    controller = _answering(deps, ids.WINDOW)
    failures: list = []
    lock = threading.Lock()

    def client(k: int) -> None:
        for step in range(12):
            view = {**GOOD, "pos": (k * 500 + step * 100) % 5000, "neuron": f"layer{k % 2}.c.{step}"}
            status, reply = post(url, controller, {ids.STATE: view, ids.PAGE_NEXT: 1},
                                 changed="page-next.n_clicks")
            if status != 200 or not {ids.WINDOW, ids.VALUES} <= set(reply["response"]):
                with lock:
                    failures.append((k, step, status))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(client, range(8)))
    assert failures == []
