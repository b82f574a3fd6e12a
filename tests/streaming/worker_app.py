"""The streaming app as a worker process (`brubeck serve tests/streaming/worker_app.py:app`)."""

from tests.streaming.app import build_app

app = build_app()
