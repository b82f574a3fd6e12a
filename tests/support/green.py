"""Waiting in tests that run green: poll a condition while other green threads run."""

from __future__ import annotations

from collections.abc import Callable

from brubeck import concurrency


def wait_for(condition: Callable[[], object], seconds: float = 5.0, step: float = 0.01) -> bool:
    """Whether `condition()` came true within `seconds` (bounded), sleeping green between
    looks so the green threads under test get to run."""
    backend = concurrency.active()
    for _ in range(int(seconds / step)):
        if condition():
            return True
        backend.sleep(step)
    return bool(condition())
