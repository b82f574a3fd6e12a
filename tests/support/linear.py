"""Linear-time checks: time(2n) < 3 x time(n) in this thread's CPU time.

Shared by the security tests of every untrusted-input parser (tests/hostile) and by
the encoders that must not go quadratic (tests/streaming): one way to measure, with
the allocator settled, the cycle collector out and a retry for noise.
"""

from __future__ import annotations

import contextlib
import gc
import math
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

from brubeck.limits import MiB

REPEATS = 5
ATTEMPTS = 3
BATCH = 0.01  # CPU seconds per timed batch at n
DEADLINE = 20.0  # seconds for one shape, both sizes and all repeats


class TooSlow(AssertionError):
    pass


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging) when the block runs longer than `seconds`."""
    def expire(signum: int, frame: Any) -> None:
        raise TooSlow(f"still parsing after {seconds:g} s: not linear")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def settle_allocator() -> None:
    """Let glibc's malloc keep freed multi-MiB blocks (a no-op elsewhere).

    Its thresholds adapt to the largest block freed so far (up to 32 MiB): until
    then, a call at 2n may hand its buffers back to the kernel and fault fresh
    pages in on the next call while the call at n reuses its own, which makes
    the larger size look up to 10 times slower for reasons that have nothing to
    do with the parser. One large block, freed, settles them for the run.
    """
    block = bytes(30 * MiB)
    del block


@contextlib.contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Keep the cycle collector out of the timings.

    A parse that builds many containers (json.loads of 1 MiB of `[]`) sets off
    a full collection once the young objects outnumber a quarter of all the
    process holds: that may happen at 2n and not at n, and then costs the size
    of the whole test process, not of the input.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def cpu_time(parse: Callable[[Any], object], data: Any, calls: int) -> float:
    """CPU seconds this thread spent on `calls` parses: time other processes take
    from us on a loaded machine is not counted."""
    start = time.thread_time()
    for _ in range(calls):
        parse(data)
    return time.thread_time() - start


def assert_linear(parse: Callable[[Any], object], make: Callable[[int], Any],
                  n: int) -> tuple[float, float]:
    """time(make(2n)) < 3 x time(make(n)); returns both times (seconds per batch).

    Small inputs are parsed in batches of about BATCH seconds of CPU. Sizes
    alternate, so both see the same cache weather, and the minimum of several
    repeats counts. A measurement that fails is taken again, twice at most:
    noise rarely repeats, a quadratic parser fails every time.
    """
    small, large = make(n), make(2 * n)
    settle_allocator()
    with deadline(DEADLINE), no_cyclic_gc():
        parse(small)  # first calls fill lazy tables (urllib's hex table, regex caches)
        calls = max(1, round(BATCH / max(cpu_time(parse, small, 1), 1e-6)))
        for _ in range(ATTEMPTS):
            gc.collect()
            t_n = t_2n = math.inf
            for _ in range(REPEATS):
                t_n = min(t_n, cpu_time(parse, small, calls))
                t_2n = min(t_2n, cpu_time(parse, large, calls))
            print(f"n={n}: {t_n * 1000:.2f} ms, 2n: {t_2n * 1000:.2f} ms, "
                  f"ratio {t_2n / t_n:.2f} ({calls} call(s) per batch)")
            if t_2n < 3 * t_n:
                break
    assert t_2n < 3 * t_n, f"n={n}: {t_n:.4f} s, 2n: {t_2n:.4f} s: worse than linear"
    return t_n, t_2n
