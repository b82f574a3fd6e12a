"""Brubeck under a real gunicorn (issue #18 item 4).

`gunicorn -k gevent app:app` failed with "No module named 'packaging'": gunicorn 27's
gevent worker imports it, and only gunicorn's own `gevent` extra brings it. The
`brubeck[gunicorn]` extra asks for that extra (checked in a fresh venv by hand: with
`brubeck[gevent] gunicorn` the worker fails to load; with `brubeck[gunicorn]` it serves).
Under gunicorn's default sync worker, the app warns at start that long polls block.
"""

from __future__ import annotations

import contextlib
import importlib.util
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
NOT_GREEN = "worker is not green"


@contextlib.contextmanager
def gunicorn(worker: str, tmp_path: Path, **env: str) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-k", worker, "-b", f"127.0.0.1:{port}",
             "--chdir", str(HERE), "shutdown_app:app"],
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
