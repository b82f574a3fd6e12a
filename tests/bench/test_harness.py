"""The benchmark harness runs end to end: one second per server, outputs written.

No timing is asserted: figures on a shared 2-core machine say nothing about
correctness. The harness runs as a subprocess, as a user would run it, so
this test's monkey-patched process does not drive the load.
"""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.support.processes import ROOT, python_env

pytestmark = pytest.mark.slow


def run_bench(tmp_path, *args):
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--duration", "1", "--warmup", "0",
         "--connections", "10", "--no-instructions", "--out", str(tmp_path), *args],
        cwd=ROOT, env=python_env(), capture_output=True, text=True, timeout=480,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


#: The suite runs once per backend; each run smoke-tests that backend's half of the
#: servers, so the two runs cover every server once.
SERVERS = {
    "gevent": "raw-gevent,tornado,falcon-gevent,m2-raw-pyzmq,m2-zmq-green,brubeck-gevent-*",
    "eventlet": "raw-eventlet,tornado,m2-zmq-green,m2-zmq-green-2,brubeck-eventlet-*",
}
BACKEND = os.environ.get("BRUBECK_CONCURRENCY") or "gevent"


def test_harness_writes_json_markdown_and_plot(tmp_path):
    done = run_bench(tmp_path, "--servers", SERVERS[BACKEND])  # one second each
    result = json.loads((tmp_path / "latest.json").read_text())
    measured = {(row["server"], row["scenario"]) for row in result["rows"]}
    assert {row["server"] for row in result["rows"]} == set(result["settings"]["servers"]), \
        result["skipped"]
    raw, ours = f"raw-{BACKEND}", f"brubeck-{BACKEND}-wsgi"
    assert {(raw, "hello"), ("tornado", "hello"), (ours, "hello"), (ours, "function"),
            (ours, "render"),
            (f"brubeck-{BACKEND}-m2-1", "hello")} <= measured
    brubeck = next(r for r in result["rows"] if r["server"] == ours)
    assert "vs_baseline" in brubeck and "vs_tornado" in brubeck
    render = next(r for r in result["rows"] if (r["server"], r["scenario"]) == (ours, "render"))
    assert render["render_us"]["median"] > 0  # Jinja2's render, timed inside the server
    page = [t for t in result["targets"]
            if t["target"].startswith(f"Brubeck {BACKEND} WSGI jinja2")]
    assert page and "render by hand" in page[0]["text"], result["targets"]
    assert "above hello" in page[0]["text"] and page[0]["met"] in (True, False)
    title = f"| Brubeck {BACKEND} WSGI | hello | 10 |"
    assert title in (tmp_path / "latest.md").read_text()
    assert title in done.stdout
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "latest.png").stat().st_size > 0


def test_python_load_generator_fallback(tmp_path):
    run_bench(tmp_path, "--servers", "raw-gevent", "--load", "python")
    result = json.loads((tmp_path / "latest.json").read_text())
    assert result["settings"]["tool"] == "python"
    assert result["rows"][0]["requests"] > 0
