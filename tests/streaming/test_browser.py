"""Issue 15 item 4: a real browser's EventSource (headless Chromium) receives events over
WSGI and behind Mongrel2, and reconnects with Last-Event-ID when a stream ends."""

from __future__ import annotations

import time

from tests.examples.conftest import browser  # noqa: F401  (the fixture)
from tests.streaming import app as streams
from tests.streaming.test_streaming import server  # noqa: F401  (the fixture)


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(0.05)


def test_streaming_4_browser_eventsource_receives_and_resumes_with_last_event_id(
        server, browser):  # noqa: F811  (fixtures)
    driver = browser()
    driver.get(f"{server.url}/page")
    # Each stream sends three events then ends; EventSource reconnects after `retry`
    # (200 ms) and says where it was: the server goes on from there.
    got = wait_for(lambda: (lambda g: g if len(g) >= 9 else None)(
        driver.execute_script("return window.got")))
    driver.execute_script("source.close()")
    assert [data for data, _ in got[:9]] == [f"tick {n}" for n in range(1, 10)]
    assert [last_id for _, last_id in got[:9]] == [str(n) for n in range(1, 10)]
    assert streams.SEEN["last_event_id"][:3] == [None, "3", "6"]
    assert driver.execute_script("return window.errors") >= 2  # each end is an 'error'
