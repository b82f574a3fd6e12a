"""CPU seconds used by a process tree, from /proc: a yardstick that other load cannot bend.

On a shared machine requests/s falls whenever something else runs; requests
per CPU-second of the server (and its workers, and Mongrel2) moves much less,
so its ratio is the steadier measure of how much work a request costs.
"""

from __future__ import annotations

import os

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()  # fields after the command name


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat(int(name))
            if fields:
                tree.setdefault(int(fields[1]), []).append(int(name))
    return tree


def tree_cpu_seconds(pids: list[int]) -> float | None:
    """User+system CPU of `pids` and all their descendants; None without /proc."""
    if not os.path.isdir("/proc"):
        return None
    tree = _children()
    total, todo, seen = 0, list(pids), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        fields = _stat(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])  # utime, stime
        todo.extend(tree.get(pid, ()))
    return total / TICKS
