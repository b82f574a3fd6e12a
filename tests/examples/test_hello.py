"""examples/hello: the name a client sends comes back as text, never as HTML."""

from __future__ import annotations

import importlib.util

from brubeck.testing import TestClient
from tests.support.processes import ROOT

SCRIPT = "<script>alert(1)</script>"


def hello_app():
    spec = importlib.util.spec_from_file_location("hello_under_test",
                                                  ROOT / "examples" / "hello" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def test_security_15_hello_reflects_the_name_as_plain_text():
    client = TestClient(hello_app())
    reply = client.get("/brubeck", params={"name": SCRIPT})
    assert reply.status_code == 200 and reply.text == f"Take five, {SCRIPT}!\n"
    assert reply.headers["content-type"] == "text/plain; charset=utf-8"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert client.get("/brubeck").text == "Take five, dude!\n"


def test_security_15_hello_function_route_is_plain_text_too():
    reply = TestClient(hello_app()).get("/fun/miles")
    assert reply.text == "Take five, miles!\n"
    assert reply.headers["content-type"] == "text/plain; charset=utf-8"
