"""`lstmviz serve` announces it serves only once it can: a port in use is one line, no banner first."""

import socket

import pytest
from click.testing import CliRunner
from dashboard_files import build

from lstmviz.cli import cli


@pytest.fixture(scope="module")
def h5(tmp_path_factory):
    return build(tmp_path_factory.mktemp("serve") / "tiny.h5")


@pytest.fixture()
def taken_port():
    """A port another program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_a_port_in_use_is_one_line_and_nothing_claims_to_serve(h5, taken_port, monkeypatch):
    monkeypatch.setattr("dash.Dash.run", lambda self, **kw: pytest.fail("the server was started"))
    result = CliRunner().invoke(cli, ["serve", str(h5), "--port", str(taken_port)])
    assert result.exit_code == 1
    assert result.output == (f"Error: port {taken_port} is in use by another program (another dashboard?); "
                             f"stop it, or choose another port, e.g. --port {taken_port + 1}\n")


def test_a_host_that_is_not_this_machine_is_one_line(h5, monkeypatch):
    monkeypatch.setattr("dash.Dash.run", lambda self, **kw: pytest.fail("the server was started"))
    result = CliRunner().invoke(cli, ["serve", str(h5), "--host", "no-such-host.invalid"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot listen on no-such-host.invalid:8050 (")
    assert result.output.endswith("); give an address of this machine with --host, e.g. 127.0.0.1\n")


def test_serving_is_announced_once_the_port_is_free(h5, monkeypatch):
    started = []
    monkeypatch.setattr("dash.Dash.run", lambda self, **kw: started.append(kw["port"]))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = CliRunner().invoke(cli, ["serve", str(h5), "--port", str(port)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Serving 1 file(s) at http://127.0.0.1:{port}/  (Ctrl+C to stop)\n"
    assert started == [port]
