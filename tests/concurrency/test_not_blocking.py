"""Handlers that wait do not hold up others, on the running backend, through a real server.

Latency bounds here only prove that nothing blocks: each is a quarter of the
slow operation's duration, far above (over 5x) a normal request's latency.
"""

import time

import pytest

from brubeck import concurrency
from brubeck.testing import LiveClient
from tests.suite.app import build_app


@pytest.fixture
def server(live_wsgi_server):
    live_wsgi_server.app = build_app()
    return live_wsgi_server


def timed_get(url, path):
    client = LiveClient(url)
    start = time.perf_counter()
    response = client.get(path)
    client.close()
    return response, time.perf_counter() - start


def normal_latency(url):
    return min(timed_get(url, "/brubeck")[1] for _ in range(5))


def fast_request_during(url, slow_path, slow_seconds):
    """Start the slow request, then a fast one; when did the fast one finish?

    Measured from the slow request's start, because a blocked loop would also
    hold up this (in-process) client before its fast request even starts.
    """
    backend = concurrency.active()
    start = time.perf_counter()
    slow = backend.spawn(timed_get, url, slow_path)
    backend.sleep(slow_seconds / 10)  # let the slow request reach its handler
    fast, _ = timed_get(url, "/brubeck")
    fast_done = time.perf_counter() - start
    slow_response, slow_elapsed = slow.get() if hasattr(slow, "get") else slow.wait()
    return fast, fast_done, slow_response, slow_elapsed


def test_sleeping_handler_does_not_delay_a_fast_request(server):
    baseline = normal_latency(server.url)
    fast, fast_done, slow, slow_elapsed = fast_request_during(
        server.url, "/slow?seconds=2", 2.0)
    assert fast.status_code == 200 and slow.text == "slept"
    assert slow_elapsed >= 2.0
    bound = 0.2 + 0.5  # the head start plus a quarter of the sleep
    assert 5 * baseline <= 0.5
    assert fast_done < bound


def test_run_in_thread_keeps_the_loop_responsive(server):
    _fast, fast_done, slow, slow_elapsed = fast_request_during(
        server.url, "/thread?ms=400", 0.4)
    assert slow.text == "computed" and slow_elapsed >= 0.4
    assert fast_done < 0.04 + 0.1


def test_inline_c_work_blocks_the_loop(server):
    """The control: the same work called inline does stall other requests."""
    _fast, fast_done, slow, _slow_elapsed = fast_request_during(
        server.url, "/thread?ms=400&inline=1", 0.4)
    assert slow.text == "computed"
    assert fast_done > 0.35
