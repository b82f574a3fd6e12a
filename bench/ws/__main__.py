"""`python -m bench.ws`: WebSocket echo and fan-out, every server in one run.

    python -m bench.ws                        # 10 s echo, 50 clients; fan-out to 1,000, 9 rounds
    python -m bench.ws --rounds 3 --seconds 5 --servers 'brubeck-gevent-*,tornado'

Each server runs as its own process(es) on a free loopback port: Brubeck on
{gevent, eventlet} x {its WSGI server, Mongrel2 with one worker PULLing directly,
and with one worker behind the dispatcher}, Tornado 6 and the `websockets`
library's asyncio server. The load is
bench/ws/client.py in this process. Odd rounds go through the servers in reverse.
Ratios divide by Tornado's figure of the same round; results go to
bench/results/ws.md and ws.json.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.machine import describe, one_line
from bench.servers import ROOT, free_port, python_env, stop
from bench.ws import client

RESULTS = Path(__file__).resolve().parents[1] / "results"
APP = "bench/ws/brubeck_app.py:app"
BASELINE = "tornado"


def _brubeck_wsgi(backend: str):
    def command(port: int, workdir: Path) -> list[str]:
        return [sys.executable, "-m", "brubeck", "serve", APP, "--port", str(port),
                "--concurrency", backend, "--log-level", "WARNING"]
    return command


def _brubeck_mongrel2(backend: str, dispatcher: bool = True):
    def command(port: int, workdir: Path) -> list[str]:
        chroot = workdir / f"m2-{backend}-{port}"
        return [sys.executable, "-m", "brubeck", "serve", APP, "--mongrel2", "--workers", "1",
                "--mongrel2-dir", str(chroot), "--port", str(port), "--concurrency", backend,
                "--log-level", "WARNING", "--dispatcher" if dispatcher else "--no-dispatcher"]
    return command


def _module(name: str):
    def command(port: int, workdir: Path) -> list[str]:
        return [sys.executable, "-m", f"bench.ws.{name}", str(port)]
    return command


SERVERS = {
    "brubeck-gevent-wsgi": _brubeck_wsgi("gevent"),
    "brubeck-eventlet-wsgi": _brubeck_wsgi("eventlet"),
    "brubeck-gevent-mongrel2": _brubeck_mongrel2("gevent", dispatcher=False),
    "brubeck-eventlet-mongrel2": _brubeck_mongrel2("eventlet", dispatcher=False),
    "brubeck-gevent-mongrel2-dispatcher": _brubeck_mongrel2("gevent"),
    "brubeck-eventlet-mongrel2-dispatcher": _brubeck_mongrel2("eventlet"),
    "tornado": _module("tornado_app"),
    "websockets": _module("websockets_app"),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ws", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="echo seconds per server")
    parser.add_argument("--clients", type=int, default=50, help="echo clients")
    parser.add_argument("--fan-clients", type=int, default=1000)
    parser.add_argument("--fan-rounds", type=int, default=9, help="broadcasts per server")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--servers", default="*", help="comma-separated names or globs")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def _kill_mongrel2(workdir: Path) -> None:
    """The supervisor runs Mongrel2 in its own session; make sure it is gone (by pid file)."""
    for pid_file in workdir.glob("m2-*/run/mongrel2.pid"):
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
        pid_file.unlink(missing_ok=True)


@contextlib.contextmanager
def running(name: str, workdir: Path) -> Iterator[int]:
    port = free_port()
    log = open(workdir / f"{name}.log", "ab")
    proc = subprocess.Popen(SERVERS[name](port, workdir), cwd=ROOT, env=python_env(),
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {log.name}")
            try:
                client.close_all(client.connect(port, "/echo", 1, timeout=5))
                break
            except (OSError, RuntimeError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield port
    finally:
        stop(proc, timeout=40)
        _kill_mongrel2(workdir)
        log.close()


def measure(name: str, args: argparse.Namespace, workdir: Path) -> dict:
    with running(name, workdir) as port:
        client.echo(port, "/echo", args.clients, min(1.0, args.seconds))  # warm-up
        result = client.echo(port, "/echo", args.clients, args.seconds)
        result.update(client.fan_out(port, "/fan", args.fan_clients, args.fan_rounds))
    print(f"  {name:28} echo {result['round_trips_per_s']:8.0f}/s  fan-out to "
          f"{args.fan_clients}: {result['fan_out_ms_median']:.1f} ms median", flush=True)
    return result


def run(args: argparse.Namespace) -> dict:
    names = [n for n in SERVERS if any(fnmatch.fnmatch(n, p.strip())
                                       for p in args.servers.split(","))]
    samples: dict[str, list[dict]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="bench-ws-") as tmp:
        for round_ in range(args.rounds):
            print(f"round {round_ + 1} of {args.rounds}", flush=True)
            for name in (names if round_ % 2 == 0 else names[::-1]):
                samples[name].append(measure(name, args, Path(tmp)))
    return {"machine": describe(), "args": {k: str(v) for k, v in vars(args).items()},
            "samples": samples}


def _ratios(samples: dict, key: str, name: str) -> list[float]:
    """Per round: this server's figure over the baseline's of the same round."""
    if BASELINE not in samples:
        return []
    return [mine[key] / base[key] for mine, base in zip(samples[name], samples[BASELINE],
                                                         strict=False)
            if mine.get(key) and base.get(key)]


def _cell(values: list[float], fmt: str) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return format(values[0], fmt)
    return f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)}–" \
           f"{format(max(values), fmt)})"


def markdown(result: dict) -> str:
    samples = result["samples"]
    args = result["args"]
    lines = [
        "# WebSocket benchmark (`python -m bench.ws`)", "",
        f"Machine: {one_line(result['machine'])}; load average at start "
        f"{result['machine']['load_average']}.", "",
        f"Echo: {args['clients']} clients, each sends a 26-byte text message and waits for "
        f"it back, for {args['seconds']} s. Fan-out: {args['fan_clients']} clients in one "
        f"room, one sends, the server relays to all; time from the send until the last "
        f"client has it ({args['fan_rounds']} broadcasts, median). {args['rounds']} "
        f"round(s); ratios are against Tornado in the same round (median, range).", "",
        "| server | echo round trips/s | vs Tornado | fan-out to "
        f"{args['fan_clients']}, ms (median) | vs Tornado | first client, ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, runs in samples.items():
        echo = [r["round_trips_per_s"] for r in runs]
        fan = [r["fan_out_ms_median"] for r in runs]
        wrong = sum(r["wrong"] for r in runs) + sum(r["missing"] for r in runs)
        flag = f" ({wrong} wrong or missing)" if wrong else ""
        lines.append(f"| {name}{flag} | {_cell(echo, ',.0f')} | "
                     f"{_cell(_ratios(samples, 'round_trips_per_s', name), '.2f')} | "
                     f"{_cell(fan, '.1f')} | "
                     f"{_cell(_ratios(samples, 'fan_out_ms_median', name), '.2f')} | "
                     f"{_cell([r['first_ms_median'] for r in runs], '.1f')} |")
    lines.append("")
    goals = []
    if "brubeck-gevent-wsgi" in samples and BASELINE in samples:
        ratio = _ratios(samples, "round_trips_per_s", "brubeck-gevent-wsgi")
        goals.append(f"- Brubeck gevent (WSGI) above Tornado on echo: "
                     f"{'met' if ratio and statistics.median(ratio) > 1 else 'NOT met'} "
                     f"(ratio {_cell(ratio, '.2f')}).")
    for name in samples:
        if "mongrel2" in name:
            fan = [r["fan_out_ms_median"] for r in samples[name] if r["fan_out_ms_median"]]
            goals.append(f"- {name} fan-out to {args['fan_clients']} under 50 ms: "
                         f"{'met' if fan and statistics.median(fan) < 50 else 'NOT met'} "
                         f"({_cell(fan, '.1f')} ms).")
    if goals:
        lines += ["Goals (issue 15):", "", *goals, ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ws.json").write_text(json.dumps(result, indent=1))
    text = markdown(result)
    (args.out / "ws.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
