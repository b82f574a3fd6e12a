"""Green threads that stay for the next job, in place of one spawned per job.

A green thread costs more than its greenlet object: CPython 3.11+ gives each one
its own frame stack, mapped on its first call and unmapped when it ends, with
page faults in between and, in a process with other threads (pyzmq's I/O
thread), a TLB shootdown. For a Mongrel2 worker spawning one per request that
was a sixth of its CPU. `Runners` parks a finished green thread and hands it
the next job instead.

A job that blocks (sleeps, waits on a socket or a queue) never holds up the
jobs behind it: before a runner starts one while more wait, it makes sure
another runner is on its way for them. Jobs that do not block are run one after
the other by the same runner, which is as fair as spawning was: a spawned green
thread also ran to its first wait before the next one started.

Green-thread-local state (`threading.local` once patched) outlives a job, as it
outlives a request on a keep-alive connection served by one green thread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from . import Backend, GreenEvent

Job = TypeVar("Job")

KEEP = 256  # parked runners kept for the next burst; beyond that, a finished one ends


class Runners(Generic[Job]):
    """`submit(job)` runs `run(job)` in a green thread, reusing parked ones.

    `run` must not raise: an exception ends its runner, and the jobs it would have
    taken go to the others. `close()` ends the parked runners (a connection's
    `run()` calls it on its way out).
    """

    def __init__(self, backend: Backend, run: Callable[[Job], None], keep: int = KEEP) -> None:
        self._backend = backend
        self._run = run
        self._keep = keep
        self._jobs: deque[Job] = deque()
        self._parked: list[GreenEvent] = []
        self._coming = 0  # runners woken or spawned that have not yet looked for a job
        self._closed = False

    def submit(self, job: Job) -> None:
        self._jobs.append(job)
        if not self._coming:
            self._call_one()

    def close(self) -> None:
        self._closed = True
        parked, self._parked = self._parked, []
        self._coming += len(parked)
        for wake in parked:
            wake.set()

    def _call_one(self) -> None:
        self._coming += 1
        if self._parked:
            self._parked.pop().set()
        else:
            self._backend.spawn(self._runner)

    def _runner(self) -> None:
        jobs, run = self._jobs, self._run
        wake: GreenEvent | None = None
        try:
            while True:
                self._coming -= 1
                while jobs:
                    job = jobs.popleft()
                    if jobs and not self._coming:  # someone for the rest, should this one wait
                        self._call_one()
                    run(job)
                if self._closed or len(self._parked) >= self._keep:
                    return
                if wake is None:
                    wake = self._backend.Event()
                wake.clear()
                self._parked.append(wake)
                wake.wait()
        except BaseException:  # killed (parked or in a job): nobody may wake it again
            if wake is not None and wake in self._parked:
                self._parked.remove(wake)
            if jobs and not self._coming and not self._closed:
                self._call_one()  # the jobs this runner would have taken
            raise

    @property
    def parked(self) -> int:
        """Runners waiting for a job (for tests and metrics)."""
        return len(self._parked)

    def __repr__(self) -> str:
        return (f"<Runners {len(self._jobs)} queued, {len(self._parked)} parked,"
                f" {self._coming} coming>")
