"""Drive a server with wrk (or, only if wrk is absent, the bounded Python generator).

Both return the same `Sample`: requests/s, p50/p99 latency in milliseconds and
an error count (socket errors, timeouts and non-2xx/3xx answers added up).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

LUA = Path(__file__).with_name("report.lua")
MARK = "BENCH_JSON "


@dataclass
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    tool: str

    def as_dict(self) -> dict:
        return asdict(self)


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run_wrk(url: str, connections: int, duration: float, threads: int = 1,
            timeout: float = 10.0) -> Sample:
    """One wrk run over keep-alive connections; wrk's own Lua hook reports JSON."""
    threads = max(1, min(threads, connections))
    seconds = max(1, round(duration))
    cmd = [wrk_path() or "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
           "--timeout", f"{int(timeout)}s", "-s", str(LUA), url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + timeout + 30)
    for line in done.stdout.splitlines():
        if line.startswith(MARK):
            raw = json.loads(line[len(MARK):])
            break
    else:
        raise RuntimeError(f"wrk gave no summary (exit {done.returncode}): "
                           f"{done.stdout[-500:]} {done.stderr[-500:]}")
    errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Sample(
        rps=raw["requests"] / (raw["duration_us"] / 1e6),
        p50_ms=raw["p50_us"] / 1000, p99_ms=raw["p99_us"] / 1000,
        errors=errors, requests=raw["requests"], tool="wrk",
    )


def run_python(url: str, connections: int, duration: float, threads: int = 1,
               timeout: float = 10.0) -> Sample:
    """The fallback: `bench.pyload` in its own process, so it does not share our GIL."""
    cmd = [sys.executable, "-m", "bench.pyload", url, str(connections), str(duration),
           str(timeout)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + timeout + 30,
                          cwd=Path(__file__).resolve().parents[1])
    if done.returncode != 0:
        raise RuntimeError(f"bench.pyload failed: {done.stderr[-800:]}")
    return Sample(**json.loads(done.stdout.strip().splitlines()[-1]), tool="python")


def driver(prefer: str = "auto"):
    """wrk when installed (or asked for), else the Python generator."""
    if prefer == "python" or (prefer == "auto" and wrk_path() is None):
        return run_python
    if wrk_path() is None:
        raise SystemExit("wrk is not installed: apt-get install wrk, or use --load python")
    return run_wrk
