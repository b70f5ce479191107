"""Figures of the Python API are `lstmviz export`'s, and the dashboard serves from a running Python."""

import re
import socket
import urllib.request

import pytest
from dashboard_files import build

import lstmviz
from lstmviz.errors import ExtractionClosed, OptionError, PositionOutOfRange, UnknownKey
from lstmviz.render.export import render
from lstmviz.render.spec import ExportSpec
from lstmviz.store.reader import open_states


@pytest.fixture(scope="module")
def h5(tmp_path_factory):
    return build(tmp_path_factory.mktemp("figures") / "tiny.h5")


@pytest.fixture()
def ex(h5):
    with lstmviz.open(h5) as opened:
        yield opened


def exported(h5, neurons, start, length, **options) -> str:
    with open_states(h5) as s:
        return render(s, ExportSpec(neurons, start, length, **options))


def test_a_figure_shows_inline_as_the_export_fragment(ex, h5):
    figure = ex.show("layer1.c.3", 120, 80, strips=True, palette="diverging")
    html = figure._repr_html_()
    assert html == exported(h5, ["layer1.c.3"], 120, 80, strips=True, palette="diverging", fragment=True)
    assert html == figure.to_html()
    assert html.startswith('<div class="lv-snippet lv-') and html.count('class="lv-strip"') > 0
    bands = re.findall(r'<div class="lv-band"[^>]*>(.*?)</div>', html)
    assert sum(band.count("<span") for band in bands) == 80  # one coloured cell per character
    for outside in ("<script", "src=", "href=", "url(", "@import", "http"):
        assert outside not in html.split("-->", 1)[1]  # the provenance comment may name nothing either
    assert repr(figure) == "<Figure of layer1.c.3 at positions 120..199>"


def test_several_neurons_stack_as_bands(ex, h5):
    figure = ex.show(["layer1.c.3", "layer0.h.2", "layer0.gates.f.1"], 0, 120, width=40, title="three")
    html = figure.to_html()
    assert html == exported(h5, ["layer1.c.3", "layer0.h.2", "layer0.gates.f.1"], 0, 120, width=40,
                            title="three", fragment=True)
    assert re.findall(r'data-neuron="([^"]+)"', html)[:3] == ["layer1.c.3", "layer0.h.2", "layer0.gates.f.1"]


def test_html_pages_and_svg_are_the_export_commands(ex, h5):
    figure = ex.show("layer0.c.5", 300, 150, raw_c=True, caption="c itself")
    assert figure.to_html(fragment=False) == exported(h5, ["layer0.c.5"], 300, 150, raw_c=True,
                                                      caption="c itself")
    assert figure.to_svg() == exported(h5, ["layer0.c.5"], 300, 150, raw_c=True, caption="c itself",
                                       format="svg")
    assert figure.to_svg().startswith("<?xml") and figure.to_svg(fragment=True).startswith("<svg")


def test_saving_follows_the_output_rules(ex, h5, tmp_path):
    figure = ex.show("layer0.c.5", 300, 150)
    page = figure.save(tmp_path / "new" / "cell.html")
    assert page == tmp_path / "new" / "cell.html"
    assert page.read_text() == exported(h5, ["layer0.c.5"], 300, 150)
    svg = exported(h5, ["layer0.c.5"], 300, 150, format="svg")
    assert figure.save(tmp_path / "cell.SVG").read_text() == svg
    with pytest.raises(OptionError, match=r"cell.html already exists; pass --force to replace it"):
        figure.save(page)  # a user's file is replaced only when asked
    figure.save(page, force=True)  # as a notebook cell run twice asks
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["cell.html"]  # no temporary left
    with pytest.raises(OptionError, match=r"cell.png: cannot tell the format from the name; end it in "
                                          r"\.html or \.svg$"):
        figure.save(tmp_path / "cell.png")
    (tmp_path / "link.html").symlink_to(h5)  # a name that leads to the extraction itself
    with pytest.raises(OptionError, match="-o names an input of this run; choose another output file$"):
        figure.save(tmp_path / "link.html")
    assert h5.read_bytes()[:4] == b"\x89HDF"


def test_bad_figures_are_the_errors_of_the_views(ex):
    with pytest.raises(UnknownKey, match=r"^'layer0\.c' is not a neuron; write layer.kind.unit"):
        ex.show("layer0.c", 0, 10)
    with pytest.raises(KeyError):
        ex.show(["layer0.c.1", "layer0.c.99"], 0, 10)
    with pytest.raises(PositionOutOfRange, match=r"^span 5990:6010 is not within the text of tiny.h5"):
        ex.show("layer0.c.1", 5990, 20)
    with pytest.raises(OptionError, match=r"^unknown palette 'neon'; choose one of blog, "):
        ex.show("layer0.c.1", 0, 10, palette="neon")


def test_a_figure_made_before_closing_still_shows_but_renders_nothing_new(h5):
    with lstmviz.open(h5) as ex:
        figure = ex.show("layer0.c.1", 0, 10)
    assert figure._repr_html_().startswith("<div")
    with pytest.raises(ExtractionClosed):
        figure.to_svg()


# --- the dashboard --------------------------------------------------------------------------------


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert reply.status == 200
        return reply.read().decode()


def test_serve_starts_the_dashboard_on_the_file_and_stops_it(h5):
    with lstmviz.open(h5) as ex:
        dashboard = ex.serve(neuron="layer1.c.3", position=400)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?file=tiny&neuron=layer1\.c\.3&pos=400&mode=grid",
                            dashboard.url)
        assert dashboard.running and repr(dashboard) == f"<Dashboard {dashboard.url} (running)>"
        assert "<title>lstmviz</title>" in get(dashboard.url)
        assert "tiny" in get(dashboard.url.split("?")[0] + "_dash-layout")
        assert dashboard._repr_html_() == (f'<a href="{dashboard.url.replace("&", "&amp;")}" '
                                           f'target="_blank">{dashboard.url.replace("&", "&amp;")}</a>')
        second = ex.serve()
        assert second.url != dashboard.url and second.url.endswith("/")
        dashboard.stop()
        dashboard.stop()
        assert not dashboard.running and repr(dashboard).endswith("(stopped)>")
        port = int(dashboard.url.split(":")[2].split("/")[0])
        with socket.socket() as again:  # the port is free again
            again.bind(("127.0.0.1", port))
    assert not second.running  # closing the extraction stops its dashboards


def test_serve_refuses_a_taken_port_as_lstmviz_serve_does(ex):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(OptionError) as e:
            ex.serve(port)
    assert str(e.value) == (f"port {port} is in use by another program (another dashboard?); stop it, or "
                            f"choose another port, e.g. --port {port + 1}")
    with pytest.raises(UnknownKey, match="^layer1.c has units 0..15; there is no unit 99$"):
        ex.serve(neuron="layer1.c.99")
    with pytest.raises(PositionOutOfRange):
        ex.serve(position=10**6)
