"""The benchmark harness runs end to end: one second per server, outputs written.

No timing is asserted: figures on a shared 2-core machine say nothing about
correctness. The harness runs as a subprocess, as a user would run it, so
this test's monkey-patched process does not drive the load.
"""

import importlib.util
import json
import subprocess
import sys

import pytest

from tests.support.processes import ROOT, python_env

pytestmark = pytest.mark.slow


def run_bench(tmp_path, *args):
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--duration", "1", "--warmup", "0",
         "--connections", "10", "--out", str(tmp_path), *args],
        cwd=ROOT, env=python_env(), capture_output=True, text=True, timeout=480,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def test_harness_writes_json_markdown_and_plot(tmp_path):
    done = run_bench(tmp_path)  # every server the machine can run, one second each
    result = json.loads((tmp_path / "latest.json").read_text())
    measured = {(row["server"], row["scenario"]) for row in result["rows"]}
    assert {row["server"] for row in result["rows"]} == set(result["settings"]["servers"]), \
        result["skipped"]
    assert {("raw-gevent", "hello"), ("tornado", "hello"),
            ("brubeck-gevent-wsgi", "hello"), ("brubeck-gevent-wsgi", "function")} <= measured
    brubeck = next(r for r in result["rows"] if r["server"] == "brubeck-gevent-wsgi")
    assert "vs_baseline" in brubeck and "vs_tornado" in brubeck
    table = (tmp_path / "latest.md").read_text()
    assert "| Brubeck gevent WSGI | hello | 10 |" in table
    assert "| Brubeck gevent WSGI | hello | 10 |" in done.stdout
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "latest.png").stat().st_size > 0


def test_python_load_generator_fallback(tmp_path):
    run_bench(tmp_path, "--servers", "raw-gevent", "--load", "python")
    result = json.loads((tmp_path / "latest.json").read_text())
    assert result["settings"]["tool"] == "python"
    assert result["rows"][0]["requests"] > 0
