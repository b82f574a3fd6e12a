"""gunicorn's gevent worker (docs/websockets.rst): HTTP routes work, WebSocket upgrades
do not (gunicorn's own handler owns the socket): the handshake gets a clear 501."""

from __future__ import annotations

import sys

from brubeck.testing import LiveClient, WebSocketRefused
from tests.support.processes import ROOT, free_port, python_env, running


def test_ws_gunicorn_gevent_worker_refuses_upgrade_501_serves_http():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = python_env()
    env.pop("BRUBECK_CONCURRENCY", None)
    args = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1",
            "-b", f"127.0.0.1:{port}", "examples.websocket.echo:build_app()"]
    with running(args, f"{url}/", env=env, cwd=ROOT):
        client = LiveClient(url)
        try:
            assert client.get("/").status_code == 200
            client.websocket("/echo")
        except WebSocketRefused as refused:
            assert refused.status_code == 501
        else:
            raise AssertionError("gunicorn took the upgrade: update docs/websockets.rst")
        finally:
            client.close()
