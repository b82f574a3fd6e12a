"""WebSockets on the WSGI servers at shutdown (issue 16): the drain closes an open WebSocket
with 1001 ("going away", the client reconnects elsewhere) instead of waiting out
`shutdown_timeout` for it. A real server of the active backend, in this process."""

from __future__ import annotations

import time

from brubeck.concurrency.process import Shutdown
from brubeck.testing import LiveClient
from tests.conftest import BACKEND, listen_on_free_port
from tests.websocket.app import build_app

SHUTDOWN_TIMEOUT = 30.0


def wait_dead(thread, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not thread.dead and time.monotonic() < deadline:
        BACKEND.sleep(0.05)
    return bool(thread.dead)


def test_shutdown_3_open_websocket_closed_1001_without_holding_the_drain():
    sock = listen_on_free_port()
    port = sock.getsockname()[1]
    shutdown = Shutdown(SHUTDOWN_TIMEOUT)
    server = BACKEND.spawn(BACKEND.serve_wsgi, build_app(), sock=sock, shutdown=shutdown)
    try:
        ws = LiveClient(f"http://127.0.0.1:{port}").websocket("/echo")
        ws.send("hi")
        assert ws.receive() == "hi"
        started = time.monotonic()
        shutdown.request("SIGTERM")
        assert ws.receive(timeout=10) is None
        assert ws.close_code == 1001
        ws.close()
        assert wait_dead(server, 10), "the drain waited for the WebSocket"
        assert time.monotonic() - started < SHUTDOWN_TIMEOUT / 3
    finally:
        shutdown.request()  # a second request cuts any drain short
        wait_dead(server, 10)
        sock.close()
