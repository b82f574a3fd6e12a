"""Instructions per request, in process, under callgrind: the figures noise cannot move.

    python -m bench.instructions             # the Jinja2 page, hello, Template.render

Timings on a shared machine move by more than a template's render costs;
instruction counts do not. Each measurement is a fresh interpreter under
`valgrind --tool=callgrind` that warms every path up the same way, then
makes `--calls` calls of one kind (none for the baseline run): the
difference of two totals, divided by the calls, is one call's instructions.
The requests go through the bench app's WSGI callable (bench/apps/brubeck_app.py),
Brubeck's whole request path without a socket.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("/hello", "/page", "render")  # two requests, and Jinja2's own render of the page
WARMUP = 300


def _environ(path: str) -> dict:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "",
            "SERVER_NAME": "bench", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost", "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""), "wsgi.errors": io.StringIO()}


def _calls(kind: str, count: int) -> None:
    """Run in the measured interpreter: warm every kind up, then `count` calls of `kind`."""
    from bench.apps.brubeck_app import app
    from bench.render import page_template

    template = page_template()

    def start_response(*args: object) -> None:
        return None

    def call(what: str) -> None:
        if what == "render":
            template.render(title="Brubeck", items=range(10)).encode("utf-8")
        else:
            b"".join(app(_environ(what), start_response))

    for _ in range(WARMUP):
        for what in KINDS:
            call(what)
    for _ in range(count):
        call(kind)


def _collected(kind: str, count: int) -> int:
    """Instructions callgrind counted for one interpreter making `count` calls of `kind`."""
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={scratch}/out",
             sys.executable, "-m", "bench.instructions", "--calls-of", kind, str(count)],
            cwd=ROOT, capture_output=True, text=True, timeout=900,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind failed ({done.returncode}): {done.stderr[-500:]}")
    return int(found.group(1))


def page_instructions(calls: int = 2000) -> dict[str, float] | None:
    """Instructions per call: `hello` and `page` (WSGI requests), `page_above_hello`, and
    `render` (Jinja2's `Template.render` of the page); None without valgrind or Jinja2."""
    if shutil.which("valgrind") is None:
        return None
    try:
        from bench.render import page_template
        page_template()
    except ImportError:
        return None
    baseline = _collected("/hello", 0)
    per_call = {kind: (_collected(kind, calls) - baseline) / calls for kind in KINDS}
    hello, page = per_call["/hello"], per_call["/page"]
    return {"hello": hello, "page": page, "page_above_hello": page - hello,
            "render": per_call["render"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--calls-of", nargs=2, metavar=("KIND", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.calls_of:
        _calls(args.calls_of[0], int(args.calls_of[1]))
        return 0
    counts = page_instructions(args.calls)
    if counts is None:
        print("needs valgrind and Jinja2", file=sys.stderr)
        return 1
    for name, value in counts.items():
        print(f"{name:18} {value / 1000:8.1f}k instructions")
    ratio = counts["page_above_hello"] / counts["render"]
    print(f"page above hello / Template.render: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
