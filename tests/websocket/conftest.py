"""WebSocket fixtures: the same tests over every transport that takes an upgrade.

`serve(app)` gives a client (`TestClient` or `LiveClient`) reaching `app` over
the transport of the test's parameter; its `.websocket(path)` opens the
session. `WS_TRANSPORTS` lists them all; `WS_LIVE` those with a real socket
and real framing (hand-made frames need one). A transport joins by adding its
name to the lists and a branch to `_client` (Mongrel2: a `live_mongrel2`-like
server serving the app).
"""

from __future__ import annotations

import pytest

from brubeck.testing import LiveClient, TestClient

WS_TRANSPORTS = ["inprocess", "wsgi"]
WS_LIVE = ["wsgi"]


def _client(transport, request, app):
    if transport == "inprocess":
        return TestClient(app)
    if transport == "wsgi":
        server = request.getfixturevalue("live_wsgi_server")
        server.app = app
        return LiveClient(server.url)
    raise AssertionError(f"unknown WebSocket transport {transport}")


@pytest.fixture(params=WS_TRANSPORTS)
def serve(request):
    """`serve(app)` -> a client reaching `app` over each transport in turn."""
    return lambda app: _client(request.param, request, app)


@pytest.fixture(params=WS_LIVE)
def serve_live(request):
    """`serve_live(app)` -> a LiveClient over each transport with real framing."""
    return lambda app: _client(request.param, request, app)
