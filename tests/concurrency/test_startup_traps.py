"""Start-up traps (issue #18 items 2 and 3), each in a fresh interpreter, as a user meets them.

2. On eventlet, an app that defines a pydantic model (or imports brubeck.models) before
   `Brubeck()` got "An exception was thrown while monkey_patching for eventlet ...
   PydanticUserError": patching now walks past such objects, quietly, and the app serves.
3. An app that imports the other backend (0.4's demo_longpolling does `import eventlet`
   and calls eventlet.sleep on gevent) hung its worker for good: one warning at start
   names the module and the fix.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from tests.support.processes import ROOT, free_port, python_env, stop, wait_for_http

BACKENDS = ["gevent", "eventlet"]
OTHER = {"gevent": "eventlet", "eventlet": "gevent"}

PYDANTIC_FIRST = """
from pydantic import BaseModel
import brubeck.models


class Note(BaseModel):
    text: str


from brubeck.request_handling import Brubeck


def note(application, message):
    return Note(text="kept").model_dump_json()


app = Brubeck(handler_tuples=[(r"^/note$", note)])
app.run()
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_startup_2_pydantic_model_before_brubeck_patches_quietly_and_serves(backend, tmp_path):
    app = tmp_path / "notes.py"
    app.write_text(PYDANTIC_FIRST)
    port = free_port()
    output = tmp_path / "out.log"
    with output.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, str(app)], cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
            env=python_env(BRUBECK_CONCURRENCY=backend,
                           BRUBECK_CONNECTION=f"wsgi://127.0.0.1:{port}"))
    try:
        url = f"http://127.0.0.1:{port}/note"
        wait_for_http(url, 30, proc)
        with urllib.request.urlopen(url, timeout=10) as reply:
            assert reply.read() == b'{"text":"kept"}'
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    finally:
        stop(proc)
    log = output.read_text()
    assert "Traceback" not in log and "monkey_patching" not in log, log
    assert "PydanticUserError" not in log, log


def mixed_app(tmp_path: Path, other: str) -> Path:
    """0.4's demo_longpolling in miniature: the other backend imported by the app's module."""
    module = tmp_path / "demo_longpolling.py"
    module.write_text(textwrap.dedent(f"""
        import {other}

        from brubeck.request_handling import Brubeck

        app = Brubeck(handler_tuples=[])
    """))
    return module


@pytest.mark.parametrize("backend", BACKENDS)
def test_startup_3_other_backend_imported_warns_once_naming_module_and_fix(backend, tmp_path):
    other = OTHER[backend]
    mixed_app(tmp_path, other)
    with socket.create_server(("127.0.0.1", 0)) as taken:  # so that run() returns at once
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-c", "import demo_longpolling; demo_longpolling.app.run()"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
            env=python_env(BRUBECK_CONCURRENCY=backend,
                           BRUBECK_CONNECTION=f"wsgi://127.0.0.1:{port}",
                           PYTHONPATH=f"{ROOT}:{tmp_path}"))
    output = result.stdout + result.stderr
    warnings = [line for line in output.splitlines() if f"but {other} is imported" in line]
    assert len(warnings) == 1, output  # at Brubeck(), not again at run()
    assert f"runs on {backend}" in warnings[0]
    assert "demo_longpolling" in warnings[0]
    assert "brubeck.concurrency.active().sleep" in warnings[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_startup_3_an_app_with_one_backend_gets_no_warning(backend, tmp_path):
    (tmp_path / "plain.py").write_text(
        "from brubeck.request_handling import Brubeck\napp = Brubeck(handler_tuples=[])\n")
    result = subprocess.run(
        [sys.executable, "-c", "import plain"], cwd=tmp_path, capture_output=True, text=True,
        timeout=60, env=python_env(BRUBECK_CONCURRENCY=backend,
                                   PYTHONPATH=f"{ROOT}:{tmp_path}"))
    assert result.returncode == 0, result.stderr
    assert "is imported" not in result.stderr and "WARNING" not in result.stderr
