"""Brubeck under a real gunicorn (issue #18 item 4).

`gunicorn -k gevent app:app` failed with "No module named 'packaging'": gunicorn 27's
gevent worker imports it, and only gunicorn's own `gevent` extra brings it. The
`brubeck[gunicorn]` extra asks for that extra (checked in a fresh venv by hand: with
`brubeck[gevent] gunicorn` the worker fails to load; with `brubeck[gunicorn]` it serves).
Under gunicorn's default sync worker, the app warns at start that long polls block.
Hooks, request ids and the access log (items 0, 10, 9) work under gunicorn as under `brubeck serve`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import Requirement

from tests.support.processes import ROOT, free_port, python_env, stop, wait_for_http

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

HERE = Path(__file__).parent
MIDDLEWARE_APP = HERE.parent / "middleware"  # its app.py: hooks, request ids, access log
NOT_GREEN = "worker is not green"


@contextlib.contextmanager
def gunicorn(worker: str, tmp_path: Path, chdir: Path = HERE, app: str = "shutdown_app:app",
             **env: str) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-k", worker, "-b", f"127.0.0.1:{port}",
             "--chdir", str(chdir), app],
            cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
            env=python_env(**env))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/pid", 30, proc)
        yield url, log
    except BaseException:
        print(log.read_text()[-3000:])
        raise
    finally:
        stop(proc)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.read()


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={k.replace("_", "-"): v
                                                   for k, v in headers.items()})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()


def json_lines(log: Path, want: int, timeout: float = 10.0) -> list[dict]:
    """The JSON lines in gunicorn's output, but the start-up probes' (`/pid`), once there
    are `want` of them (a line is written as the reply goes out: wait, bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_text(errors="replace")
        lines = text[:text.rfind("\n") + 1].splitlines()  # whole lines only
        found = [json.loads(text) for text in lines if text.startswith("{")]
        found = [line for line in found if line["path"] != "/pid"]
        if len(found) >= want or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_startup_4_gunicorn_gevent_worker_serves_long_polls_side_by_side(tmp_path):
    # gunicorn has no eventlet worker any more: its gevent worker means the gevent backend.
    with gunicorn("gevent", tmp_path, BRUBECK_CONCURRENCY="gevent") as (url, log):
        started = time.monotonic()
        slow = subprocess.Popen([sys.executable, "-c",
                                 f"import urllib.request; urllib.request.urlopen("
                                 f"'{url}/slow/2000', timeout=30).read()"])
        time.sleep(0.3)
        assert get(f"{url}/pid").strip().isdigit()
        assert time.monotonic() - started < 2.0  # not behind the long poll
        assert slow.wait(30) == 0
    assert NOT_GREEN not in log.read_text()


def test_startup_4_gunicorn_sync_worker_warns_that_long_polls_block(tmp_path):
    with gunicorn("sync", tmp_path) as (url, log):
        assert get(f"{url}/pid").strip().isdigit()
    lines = [line for line in log.read_text().splitlines() if NOT_GREEN in line]
    assert len(lines) == 1, log.read_text()
    assert "gunicorn's sync worker" in lines[0] and "brubeck[gunicorn]" in lines[0]


def test_middleware_0_9_10_under_gunicorn_gevent_worker(tmp_path):
    """The before/after hooks on a class handler and a function route, an incoming request
    id echoed (a missing one generated), and one JSON access-log line per request."""
    with gunicorn("gevent", tmp_path, MIDDLEWARE_APP, "app:app", BRUBECK_CONCURRENCY="gevent",
                  BRUBECK_ACCESS_LOG="json") as (url, log):
        status, headers, body = fetch(f"{url}/hello")
        assert (status, headers["x-hooked"], body) == (200, "class", b"hello")
        generated = headers["x-request-id"]
        status, headers, body = fetch(f"{url}/fun", X_Request_Id="gunicorn-fun-1")
        assert (status, headers["x-hooked"], body) == (200, "other", b"fun")
        assert headers["x-request-id"] == "gunicorn-fun-1"
        status, headers, body = fetch(f"{url}/whoami", X_Request_Id="gunicorn-who-2")
        assert headers["x-request-id"] == "gunicorn-who-2"
        assert json.loads(body)["request_id"] == "gunicorn-who-2"  # self.message.request_id
        lines = json_lines(log, 3)
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    by_id = {line["request_id"]: line for line in lines}
    assert sorted(by_id) == sorted([generated, "gunicorn-fun-1", "gunicorn-who-2"])
    assert len(lines) == 3  # one line a request
    hello, fun = by_id[generated], by_id["gunicorn-fun-1"]
    assert (hello["method"], hello["path"], hello["status"], hello["bytes"]) == \
        ("GET", "/hello", 200, 5)
    assert (fun["method"], fun["path"], fun["status"], fun["bytes"]) == ("GET", "/fun", 200, 3)
    assert all(isinstance(line["duration_ms"], float) for line in lines)
    assert set(hello) == {"remote", "method", "path", "status", "bytes", "duration_ms",
                          "request_id"}


def test_startup_4_the_gunicorn_extra_brings_what_its_gevent_worker_imports():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    spec = importlib.util.spec_from_file_location("pins", ROOT / "scripts" / "pins.py")
    pins = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pins)
    brought: set[str] = set()
    for line in extras["gunicorn"]:
        requirement = Requirement(line)
        brought |= {requirement.name, *pins.closure(requirement.name, requirement.extras)}
    assert {"gunicorn", "gevent", "packaging"} <= brought
