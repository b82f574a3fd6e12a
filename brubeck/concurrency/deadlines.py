"""Time limits for many green threads from one loop timer (a worker's `request_timeout`).

A backend `Timeout` per request made, started, stopped and closed a timer in the
event loop each time: 17% of a Mongrel2 worker's instructions for a hello. Here a
request costs a dict insert and a delete; while any limit runs, one loop callback
per `tick` throws `Expired` into the green threads past theirs, from the loop
itself, as a Timeout does, so a green thread is only ever interrupted where it
waits. All limits of one `Deadlines` have the same length, so the dict's order
(insertion) is the order they fall due in and a check looks only at those due.
A limit fires between `seconds` and `seconds + tick` after it was set.
"""

from __future__ import annotations

from contextlib import suppress
from time import monotonic
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import Backend


class Expired(BaseException):
    """Thrown into a green thread that ran past its limit. A BaseException, as the
    backends' Timeout is, so that a handler's `except Exception` does not swallow it."""

    def __init__(self, key: object) -> None:
        super().__init__(key)
        self.key = key


class Deadlines:
    """`key = start()` in a green thread sets its limit, `cancel(key)` lifts it; past it,
    the thread gets `Expired(key)` where it next waits (or where it waits now)."""

    __slots__ = ("_armed", "_backend", "_due", "seconds", "tick")

    def __init__(self, backend: Backend, seconds: float, tick: float | None = None) -> None:
        self.seconds = seconds
        self.tick = tick if tick is not None else min(1.0, max(seconds / 10, 0.01))
        self._backend = backend
        self._due: dict[Any, float] = {}  # green thread -> when its limit falls
        self._armed = False

    def __len__(self) -> int:
        return len(self._due)

    def start(self) -> Any:
        """Limit the calling green thread; returns the key `cancel` and `Expired` carry."""
        key = self._backend.current()
        self._due.pop(key, None)  # a new limit goes to the end: the order stays due order
        self._due[key] = monotonic() + self.seconds
        if not self._armed:
            self._armed = True
            self._backend.call_later(self.tick, self._check)
        return key

    def cancel(self, key: object) -> None:
        self._due.pop(key, None)

    def _check(self) -> None:
        """In the loop: throw into every green thread past its limit, then look again in a tick
        while limits run."""
        due, now = self._due, monotonic()
        try:
            while due:
                key = next(iter(due))
                if due[key] > now:
                    break
                del due[key]
                if key.dead:
                    continue
                # Runs it to its next wait, then comes back here; if it dies of it,
                # eventlet hands the dead thread's error back here too.
                with suppress(Expired):
                    key.throw(Expired(key))
        finally:  # whatever came back, the limits still running keep their timer
            if due:
                self._backend.call_later(self.tick, self._check)
            else:
                self._armed = False
