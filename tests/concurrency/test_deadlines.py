"""`Deadlines`: many green threads' time limits from one loop timer, on the running backend.

Times here only prove that a limit fires and that a lifted one does not: each
bound is several ticks wide (a limit fires between `seconds` and `seconds + tick`).
"""

import time

import pytest

from brubeck import concurrency
from brubeck.concurrency.deadlines import Deadlines, Expired

SECONDS, TICK = 0.05, 0.01


@pytest.fixture
def backend():
    return concurrency.active()


def limited(backend, deadlines, work, outcome):
    """Run `work` in a green thread under a limit; `outcome` gets what happened, and when."""
    def run():
        started = time.monotonic()
        key = deadlines.start()
        try:
            work()
            outcome.append(("finished", time.monotonic() - started))
        except Expired as expired:
            outcome.append(("expired" if expired.key is key else "someone else's",
                            time.monotonic() - started))
        finally:
            deadlines.cancel(key)
    return backend.spawn(run)


def test_a_thread_past_its_limit_gets_expired_where_it_waits(backend):
    deadlines, outcome = Deadlines(backend, SECONDS, TICK), []
    limited(backend, deadlines, lambda: backend.sleep(5), outcome)
    for _ in range(500):  # bounded: 5 s
        if outcome:
            break
        backend.sleep(0.01)
    assert outcome and outcome[0][0] == "expired"
    assert SECONDS <= outcome[0][1] < 1.0  # not the 5 s sleep
    assert len(deadlines) == 0


def test_a_lifted_limit_never_fires(backend):
    deadlines, outcome = Deadlines(backend, SECONDS, TICK), []
    limited(backend, deadlines, lambda: backend.sleep(0.001), outcome)
    backend.sleep(SECONDS * 6)
    assert [what for what, _ in outcome] == ["finished"]


def test_an_except_exception_does_not_swallow_it(backend):
    deadlines, outcome = Deadlines(backend, SECONDS, TICK), []

    def stubborn():
        try:
            backend.sleep(5)
        except Exception:  # what a handler may write: the limit still ends it
            outcome.append(("swallowed", 0))
    limited(backend, deadlines, stubborn, outcome)
    backend.sleep(0.5)
    assert [what for what, _ in outcome] == ["expired"]


def test_a_busy_thread_gets_it_at_its_next_wait(backend):
    """Like a Timeout, the limit interrupts only where the thread waits: a CPU-bound
    stretch runs to its end, then the next switch raises."""
    deadlines, outcome, reached = Deadlines(backend, SECONDS, TICK), [], []

    def busy_then_wait():
        until = time.monotonic() + SECONDS * 3
        while time.monotonic() < until:
            pass
        reached.append("end of the busy stretch")
        backend.sleep(5)
    limited(backend, deadlines, busy_then_wait, outcome)
    backend.sleep(0.5)
    assert reached == ["end of the busy stretch"]
    assert [what for what, _ in outcome] == ["expired"]


def test_many_limits_fire_each_on_its_own_thread_and_the_timer_stops(backend):
    deadlines, outcome = Deadlines(backend, SECONDS, TICK), []
    for index in range(300):
        if index % 2:
            limited(backend, deadlines, lambda: backend.sleep(5), outcome)
        else:
            limited(backend, deadlines, lambda: backend.sleep(0.001), outcome)
    for _ in range(500):  # bounded: 5 s
        if len(outcome) == 300:
            break
        backend.sleep(0.01)
    assert sorted(what for what, _ in outcome) == ["expired"] * 150 + ["finished"] * 150
    assert len(deadlines) == 0
    backend.sleep(TICK * 3)
    assert not deadlines._armed  # no timer runs while no limit does


def test_a_limit_set_again_counts_from_the_new_start(backend):
    """A thread that lifts its limit and sets a new one moves to the end of the order."""
    seconds = 0.4
    deadlines, outcome = Deadlines(backend, seconds, TICK), []

    def twice():
        key = deadlines.start()
        backend.sleep(seconds / 2)
        deadlines.cancel(key)
        deadlines.start()
        backend.sleep(seconds * 0.75)  # past the first limit, 0.1 s before the second
        outcome.append("second limit not reached yet")
        backend.sleep(5)
    limited(backend, deadlines, twice, outcome)
    backend.sleep(1.5)
    assert outcome[0] == "second limit not reached yet"
    assert outcome[1][0] == "expired"


def test_a_thread_that_lets_it_escape_does_not_stop_the_others(backend):
    """A green thread may die of its limit (eventlet then hands the error to the loop,
    where the check runs): the other limits due, and later ones, still fire."""
    deadlines, outcome = Deadlines(backend, SECONDS, TICK), []

    def careless():
        deadlines.start()
        backend.sleep(5)  # Expired ends this thread

    backend.spawn(careless)
    limited(backend, deadlines, lambda: backend.sleep(5), outcome)
    backend.sleep(0.5)
    limited(backend, deadlines, lambda: backend.sleep(5), outcome)
    backend.sleep(0.5)
    assert [what for what, _ in outcome] == ["expired", "expired"]
    assert len(deadlines) == 0
