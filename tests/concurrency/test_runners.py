"""`Runners`: green threads kept between jobs, on the running backend.

What must hold whatever the reuse: every job runs, a job that blocks never holds
up the ones behind it, a runner that dies hands its queue on, and `close()`
ends the parked ones.
"""

import greenlet
import pytest

from brubeck import concurrency
from brubeck.concurrency.runners import Runners
from tests.support.green import wait_for


@pytest.fixture
def backend():
    return concurrency.active()


def test_jobs_that_do_not_wait_run_in_order_on_one_or_two_green_threads(backend):
    done, threads = [], set()

    def run(job):
        done.append(job)
        threads.add(greenlet.getcurrent())

    runners = Runners(backend, run)
    for job in range(500):
        runners.submit(job)
    assert wait_for(lambda: len(done) == 500)
    assert done == list(range(500))
    assert len(threads) <= 2  # not one green thread per job
    runners.close()


def test_a_burst_after_a_pause_reuses_the_parked_threads(backend):
    threads = []
    runners = Runners(backend, lambda job: threads.append(greenlet.getcurrent()))
    for burst in range(1, 4):
        for job in range(10):
            runners.submit(job)
        def served(expected=10 * burst):
            return len(threads) == expected and runners.parked
        assert wait_for(served)
    assert len(set(threads)) <= 2
    runners.close()


def test_a_job_that_waits_does_not_hold_up_the_jobs_behind_it(backend):
    release = backend.Event()
    done = []

    def run(job):
        if job == "slow":
            release.wait(10)
        done.append(job)

    runners = Runners(backend, run)
    runners.submit("slow")
    for job in range(5):
        runners.submit(job)
    assert wait_for(lambda: len(done) == 5)
    assert done == [0, 1, 2, 3, 4]  # while "slow" still waits
    release.set()
    assert wait_for(lambda: done[-1] == "slow")
    runners.close()


def test_every_waiting_job_gets_its_own_green_thread(backend):
    """100 jobs that all wait at once: all 100 are waiting together, none queued behind."""
    release = backend.Event()
    waiting = []

    def run(job):
        waiting.append(job)
        release.wait(10)

    runners = Runners(backend, run)
    for job in range(100):
        runners.submit(job)
    assert wait_for(lambda: len(waiting) == 100)
    release.set()
    assert wait_for(lambda: runners.parked > 0)
    runners.close()


def test_a_runner_that_dies_hands_its_queue_on(backend):
    done = []

    def run(job):
        if job == "fatal":
            raise greenlet.GreenletExit  # what kill() raises in it
        done.append(job)

    runners = Runners(backend, run)
    for job in ("fatal", 1, 2, 3):
        runners.submit(job)
    assert wait_for(lambda: done == [1, 2, 3])
    runners.close()


def test_parked_threads_are_bounded(backend):
    release = backend.Event()
    runners = Runners(backend, lambda job: release.wait(10), keep=3)
    for job in range(20):
        runners.submit(job)
    backend.sleep(0.05)
    release.set()
    assert wait_for(lambda: runners.parked == 3)
    backend.sleep(0.05)
    assert runners.parked == 3
    runners.close()


def test_close_ends_the_parked_threads(backend):
    threads = []
    runners = Runners(backend, lambda job: threads.append(greenlet.getcurrent()))
    for job in range(3):
        runners.submit(job)
    assert wait_for(lambda: runners.parked > 0)
    runners.close()
    assert wait_for(lambda: all(thread.dead for thread in threads))
    assert runners.parked == 0


def test_a_parked_thread_that_is_killed_is_never_handed_a_job(backend):
    threads, done = [], []

    def run(job):
        threads.append(greenlet.getcurrent())
        done.append(job)

    runners = Runners(backend, run)
    runners.submit(0)
    assert wait_for(lambda: runners.parked == 1)
    threads[0].kill()  # gevent's Greenlet and eventlet's GreenThread both have kill()
    assert wait_for(lambda: runners.parked == 0)
    runners.submit(1)
    assert wait_for(lambda: done == [0, 1])
    runners.close()
