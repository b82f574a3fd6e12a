"""Real servers in their own processes: the CLI, a 0.4-style app file, gunicorn."""

import sys
import urllib.request

import pytest

from tests.support.processes import ROOT, free_port, python_env, running


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.status, reply.read().decode()


@pytest.mark.parametrize("backend", ["gevent", "eventlet"])
def test_cli_serves_the_demo_on_each_backend(backend):
    port = free_port()
    url = f"http://127.0.0.1:{port}/brubeck"
    args = ["-m", "brubeck", "serve", "examples/hello/app.py:app", "--port", str(port),
            "--concurrency", backend]
    with running(args, url):
        assert fetch(url) == (200, "Take five, dude!\n")


@pytest.mark.parametrize("backend", ["gevent", "eventlet"])
def test_demo_file_runs_as_written_with_connection_override(backend):
    port = free_port()
    url = f"http://127.0.0.1:{port}/fun/ann"
    env = python_env(BRUBECK_CONCURRENCY=backend, BRUBECK_CONNECTION=f"wsgi://127.0.0.1:{port}")
    with running(["examples/hello/app.py"], url, env=env):
        assert fetch(url) == (200, "Take five, ann!\n")


def test_gunicorn_gevent_worker_serves_the_app():
    port = free_port()
    url = f"http://127.0.0.1:{port}/brubeck"
    env = python_env()
    env.pop("BRUBECK_CONCURRENCY", None)
    args = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1",
            "-b", f"127.0.0.1:{port}", "--chdir", str(ROOT / "tests" / "suite"),
            "tests.suite.app:app"]
    with running(args, url, env=env, cwd=ROOT):
        assert fetch(url) == (200, "Take five")
        _status, body = fetch(f"http://127.0.0.1:{port}/fun/gunicorn")
        assert body == "Take five, gunicorn!"
