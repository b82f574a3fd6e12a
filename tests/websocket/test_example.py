"""examples/websocket/echo.py: both styles echo, in process and as a real process."""

from __future__ import annotations

import importlib.util

from brubeck.testing import LiveClient, TestClient
from tests.support.processes import ROOT, free_port, running


def echo_module():
    spec = importlib.util.spec_from_file_location("ws_echo_under_test",
                                                  ROOT / "examples" / "websocket" / "echo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ws_example_echo_and_shout_in_process():
    client = TestClient(echo_module().build_app())
    with client.websocket("/echo") as ws:
        ws.send("take five")
        assert ws.receive() == "take five"
    with client.websocket("/shout") as ws:
        ws.send("take five")
        assert ws.receive() == "TAKE FIVE"
    assert "new WebSocket" in client.get("/").text


def test_ws_example_runs_as_a_process():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(["examples/websocket/echo.py", "--port", str(port)], url=f"{url}/"), \
            LiveClient(url).websocket("/echo") as ws:
        ws.send(b"\x00bytes")
        assert ws.receive() == b"\x00bytes"
