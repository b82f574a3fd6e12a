"""`python -m bench`: every server, one after another, under the same load, in one run.

    python -m bench                               # 10 s per row, 100 and 500 connections
    python -m bench --rounds 3                    # repeat; ratios are per round, spread shown
    python -m bench --duration 1 --servers raw-gevent,brubeck-gevent-wsgi --connections 10

Each round starts every server in turn on a free loopback port, as its own
process, drives each of its scenarios at each connection count, and stops it.
Odd rounds go through the servers in reverse, so drift in the machine's load
does not always favour the same side of a ratio.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench import load, report
from bench.cpu import tree_cpu_seconds
from bench.instructions import page_instructions
from bench.machine import describe
from bench.render import jinja2_render_us
from bench.servers import all_servers

RESULTS = Path(__file__).with_name("results")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per row")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before each row")
    parser.add_argument("--connections", default="100,500", help="comma-separated counts")
    parser.add_argument("--servers", default="*", help="comma-separated names or globs")
    parser.add_argument("--scenarios", default="*",
                        help="hello,function,json,jinja2,render or globs")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--load", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.* go")
    parser.add_argument("--instructions", action=argparse.BooleanOptionalAction, default=True,
                        help="count the Jinja2 page's instructions under callgrind (if installed)")
    parser.add_argument("--list", action="store_true", help="list the servers and exit")
    return parser.parse_args(argv)


def _matches(name: str, patterns: str) -> bool:
    return any(fnmatch.fnmatch(name, p.strip()) for p in patterns.split(","))


def _answers(url: str) -> bool:
    """A scenario is measured only if its path answers 200 (the Jinja2 page may be absent)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _measure(drive: Callable, args: argparse.Namespace, base: str, scenario: str, url: str,
             conns: int, pids: list[int]) -> dict:
    """One row of one round: warm up, then load `url`; the sample, with the server's CPU
    seconds (and Jinja2's render time in the `render` scenario)."""
    if args.warmup > 0:
        drive(url, conns, args.warmup, args.threads)
    if scenario == "render":
        _render_time(base)  # from now on
    cpu_before = tree_cpu_seconds(pids)
    sample = drive(url, conns, args.duration, args.threads)
    cpu_after = tree_cpu_seconds(pids)
    record = sample.as_dict()
    if cpu_before is not None and cpu_after is not None:
        record["cpu_s"] = cpu_after - cpu_before
    if scenario == "render":
        record["render_us"] = _render_time(base)
    return record


def _render_time(base: str) -> float | None:
    """Mean CPU us of Jinja2's renders in the `render` scenario since the last call (of
    the worker that answers, behind several), or None (bench/apps/brubeck_app.py)."""
    try:
        with urllib.request.urlopen(base + "/render-time", timeout=5) as reply:
            return json.loads(reply.read())["us"]
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return None


def run(args: argparse.Namespace) -> dict:
    servers = [s for s in all_servers() if _matches(s.name, args.servers)]
    levels = [int(c) for c in args.connections.split(",")]
    drive = load.driver(args.load)
    tool = "wrk" if drive is load.run_wrk else "python"
    skipped: list[str] = []
    samples: dict[tuple[str, str, int], list] = {}
    workdir = Path(tempfile.mkdtemp(prefix="brubeck-bench-"))
    machine = describe()
    for server in list(servers):
        gone = server.missing()
        if gone:
            skipped.append(f"{server.name} (needs {', '.join(gone)})")
            servers.remove(server)
    for round_no in range(args.rounds):
        order = servers if round_no % 2 == 0 else servers[::-1]
        for server in order:
            log = workdir / f"{server.name}.log"
            scenarios = [s for s in server.paths if _matches(s, args.scenarios)]
            if not scenarios:
                continue
            try:
                with server.running(workdir, log) as (base, pids):
                    for scenario in scenarios:
                        url = base + server.paths[scenario]
                        if not _answers(url):
                            path = server.paths[scenario]
                            note = f"{server.name} {scenario} (no 200 from {path})"
                            if note not in skipped:
                                skipped.append(note)
                            continue
                        for conns in levels:
                            record = _measure(drive, args, base, scenario, url, conns, pids)
                            key = (server.name, scenario, conns)
                            samples.setdefault(key, [None] * args.rounds)[round_no] = record
                            print(f"[round {round_no + 1}] {server.label:28} {scenario:8} "
                                  f"c={conns:<4} {record['rps']:9.0f} req/s  "
                                  f"p50 {record['p50_ms']:7.2f} ms  "
                                  f"p99 {record['p99_ms']:7.2f} ms  "
                                  f"errors {record['errors']}", flush=True)
            except (RuntimeError, TimeoutError) as error:
                skipped.append(f"{server.name} round {round_no + 1}: {error} (log: {log})")
                print(f"!! {server.name}: {error}", file=sys.stderr, flush=True)
    by_name = {s.name: s for s in servers}
    ordered = dict(sorted(samples.items(), key=lambda kv: (
        [s.name for s in servers].index(kv[0][0]), kv[0][2],
        list(by_name[kv[0][0]].paths).index(kv[0][1]))))
    rows = report.build_rows(by_name, ordered)
    render_us = jinja2_render_us()
    instructions = page_instructions() if args.instructions else None
    return {
        "made": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine,
        "settings": {"duration": args.duration, "warmup": args.warmup, "connections": levels,
                     "rounds": args.rounds, "threads": args.threads, "tool": tool,
                     "servers": [s.name for s in servers]},
        "rows": rows,
        "jinja2_render_us": render_us,
        "jinja2_instructions": instructions,
        "targets": report.targets(rows, levels, args.duration, render_us, instructions),
        "skipped": skipped,
        "logs": str(workdir),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for server in all_servers():
            print(f"{server.name:24} {server.label:30} {','.join(server.paths)}")
        return 0
    result = run(args)
    print()
    print(report.markdown(result), end="")
    written = report.write(result, args.out)
    if not any(p.suffix == ".png" for p in written):
        print("matplotlib is not installed: no plot (pip install matplotlib)", file=sys.stderr)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
