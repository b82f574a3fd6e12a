"""Counting what one request costs in process: Python calls and allocated bytes.

Time is not measured here (that is bench/'s job, on a quiet machine): calls
and allocations are the same on every run of the same code, so a test can hold
them to a recorded baseline and fail the day a change makes them grow.
"""

from __future__ import annotations

import json
import os
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

BASELINES = Path(__file__).with_name("baselines.json")
#: Set to record this Python's (and backend's) figures instead of checking them.
RECORD = os.environ.get("BRUBECK_PERF_RECORD") == "1"
#: Growth allowed over a recorded figure: library patch releases move a few calls.
CALL_MARGIN, BYTE_MARGIN = 0.10, 0.25
#: Without a figure for this Python, the nearest recorded one with this much more room.
OTHER_PYTHON_MARGIN = 0.5


def calls(fn: Callable[[], Any]) -> int:
    """Python and C function calls made by `fn()` (sys.setprofile's call and c_call)."""
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count


def peak_bytes(fn: Callable[[], Any]) -> int:
    """The most memory `fn()` held at once above what was allocated before it."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def measure(fn: Callable[[], Any], warmup: int = 30, runs: int = 5) -> dict[str, int]:
    """Calls and peak bytes of one `fn()`, the least over `runs` after `warmup` (caches,
    lazily built tables and first-use imports are not a request's cost)."""
    for _ in range(warmup):
        fn()
    return {"calls": min(calls(fn) for _ in range(runs)),
            "peak_bytes": min(peak_bytes(fn) for _ in range(runs))}


def python_key() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _load() -> dict[str, Any]:
    return json.loads(BASELINES.read_text()) if BASELINES.exists() else {}


def baseline(path: str) -> tuple[dict[str, int] | None, float]:
    """The recorded figures for `path` on this Python, and the extra margin they need
    (more when only another Python's figures exist)."""
    recorded = _load()
    mine = recorded.get(python_key(), {})
    if path in mine:
        return mine[path], 0.0
    others = sorted((k for k in recorded if path in recorded[k]),
                    key=lambda k: abs(float(k.split(".")[1]) - sys.version_info.minor))
    if others:
        return recorded[others[0]][path], OTHER_PYTHON_MARGIN
    return None, 0.0


def record(path: str, figures: dict[str, int]) -> None:
    recorded = _load()
    recorded.setdefault(python_key(), {})[path] = figures
    BASELINES.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")


def check(path: str, figures: dict[str, int]) -> None:
    """Fail if `figures` grew past the baseline's margins (or record them)."""
    if RECORD:
        record(path, figures)
        return
    expected, extra = baseline(path)
    assert expected is not None, f"no baseline for {path}: run with BRUBECK_PERF_RECORD=1"
    call_limit = int(expected["calls"] * (1 + CALL_MARGIN + extra)) + 5
    byte_limit = int(expected["peak_bytes"] * (1 + BYTE_MARGIN + extra)) + 1024
    assert figures["calls"] <= call_limit, (
        f"{path}: {figures['calls']} calls per request, recorded {expected['calls']}"
        f" (limit {call_limit}); if the growth is worth it, re-record with"
        f" BRUBECK_PERF_RECORD=1")
    assert figures["peak_bytes"] <= byte_limit, (
        f"{path}: {figures['peak_bytes']} bytes at peak per request, recorded"
        f" {expected['peak_bytes']} (limit {byte_limit}); re-record if worth it")
