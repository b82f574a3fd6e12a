"""brubeck.pubsub's behaviour, the same on every bus (issue #16 item 6).

Each test runs on the in-process bus and on Redis Streams (a real
redis-server); with Redis the publisher and the subscriber are separate buses,
as two workers would be, so messages go through Redis and the reader.
"""

from __future__ import annotations

import time

import pytest

from brubeck import concurrency, pubsub

BACKEND = concurrency.active()


def result(job):
    """The return value of a spawned green thread, on either backend."""
    return job.get() if hasattr(job, "get") else job.wait()


@pytest.fixture
def pair(kind, make_bus):
    """(publisher, subscriber): one bus in memory, two buses (two "workers") on Redis."""
    def make(**options):
        first = make_bus(kind, **options)
        return (first, first) if kind == "memory" else (first, make_bus(kind, **options))
    return make


def test_scaleout_6_published_messages_arrive_in_order_with_their_ids(pair):
    publisher, subscriber = pair()
    ids = [publisher.publish("news", f"m{i}") for i in range(5)]
    assert [pubsub.parse_id(i) for i in ids] == sorted(pubsub.parse_id(i) for i in ids)
    assert len(set(ids)) == 5
    got = subscriber.wait("news", "0", timeout=5)
    assert [(m.id, m.data, m.channel) for m in got] == [
        (i, f"m{n}", "news") for n, i in enumerate(ids)]
    assert subscriber.last_id("news") == ids[-1]
    assert "news" in publisher.channels()


def test_scaleout_6_a_wait_without_news_returns_empty_after_its_timeout(pair):
    _publisher, subscriber = pair()
    started = time.monotonic()
    assert subscriber.wait("quiet", None, timeout=0.3) == []
    assert 0.25 < time.monotonic() - started < 3
    assert subscriber.wait("quiet", None, timeout=0) == []


def test_scaleout_6_a_sleeping_waiter_wakes_when_another_worker_publishes(pair):
    publisher, subscriber = pair()
    subscriber.wait("room", None, timeout=0)  # followed: the reader watches it
    waiter = BACKEND.spawn(subscriber.wait, "room", None, 10)
    BACKEND.sleep(0.1)
    assert subscriber.waiting("room") == 1
    sent = publisher.publish("room", "hello")
    started = time.monotonic()
    got = result(waiter)
    assert [(m.id, m.data) for m in got] == [(sent, "hello")]
    assert time.monotonic() - started < 2  # woken, not timed out (10 s)


def test_scaleout_6_resubscribing_with_the_last_seen_id_gets_what_was_missed(pair):
    publisher, subscriber = pair()
    with subscriber.subscribe("feed") as feed:
        publisher.publish("feed", "one")
        publisher.publish("feed", "two")
        assert [feed.get(5).data, feed.get(5).data] == ["one", "two"]
        last_seen = feed.position
    missed = [publisher.publish("feed", text) for text in ("three", "four", "five")]
    with subscriber.subscribe("feed", after=last_seen) as feed:
        got = [feed.get(5) for _ in range(3)]
        assert [m.id for m in got] == missed
        assert [m.data for m in got] == ["three", "four", "five"]
        assert feed.get(0.1) is None


def test_scaleout_6_a_trimmed_last_seen_id_raises_gap_then_reads_on_from_what_is_kept(pair):
    publisher, subscriber = pair(maxlen=5)
    ids = [publisher.publish("short", f"m{i}") for i in range(10)]
    with pytest.raises(pubsub.Gap) as gap:
        subscriber.wait("short", ids[1], timeout=1)
    assert gap.value.channel == "short" and gap.value.after == ids[1]
    kept = subscriber.wait("short", gap.value.resume, timeout=1)
    assert [m.data for m in kept] == [f"m{i}" for i in range(5, 10)]
    # A subscription raises once, then continues with what is kept.
    with subscriber.subscribe("short", after=ids[0]) as feed:
        with pytest.raises(pubsub.Gap):
            feed.get(1)
        assert [feed.get(1).data for _ in range(5)] == [f"m{i}" for i in range(5, 10)]
    # An id still kept is no gap.
    assert [m.data for m in subscriber.wait("short", ids[5], 1)] == [
        f"m{i}" for i in range(6, 10)]


def test_scaleout_6_an_id_the_stream_never_gave_out_raises_gap(pair):
    """A client from before the history was lost (a restart of the store) starts over."""
    publisher, subscriber = pair()
    newest = publisher.publish("lost", "only")
    ms, _ = pubsub.parse_id(newest)
    with pytest.raises(pubsub.Gap) as gap:
        subscriber.wait("lost", f"{ms + 10**9}-0", timeout=1)
    assert gap.value.resume == newest
    assert subscriber.wait("lost", gap.value.resume, timeout=0) == []


def test_scaleout_6_watchers_see_each_message_before_waiters_wake(pair):
    publisher, subscriber = pair()
    seen: list[str] = []
    order: list[str] = []
    stop = subscriber.watch("w", lambda m: (seen.append(m.data), order.append("watcher")))
    waiter = BACKEND.spawn(lambda: (subscriber.wait("w", None, 10), order.append("waiter")))
    BACKEND.sleep(0.1)
    publisher.publish("w", "a")
    result(waiter)
    assert order == ["watcher", "waiter"]
    stop()
    publisher.publish("w", "b")
    subscriber.wait("w", None, 0.3)
    assert seen == ["a"]


def test_scaleout_6_history_is_the_newest_kept_messages_oldest_first(pair):
    publisher, subscriber = pair(maxlen=3)
    for i in range(5):
        publisher.publish("h", str(i))
    assert [m.data for m in subscriber.history("h")] == ["2", "3", "4"]
    assert [m.data for m in subscriber.history("h", 2)] == ["3", "4"]
    assert subscriber.history("empty") == []


@pytest.mark.parametrize("text", ["", "-1", "1-", "a-b", "\u00b2", "1-\u0661", "9" * 21, "1-2-3"])
def test_scaleout_6_a_bad_id_is_a_value_error(text, pair):
    _publisher, subscriber = pair()
    with pytest.raises(ValueError):
        pubsub.parse_id(text)
    with pytest.raises(ValueError):
        subscriber.wait("c", text, timeout=0)


def test_scaleout_6_messages_are_text(pair):
    publisher, _subscriber = pair()
    with pytest.raises(TypeError):
        publisher.publish("c", b"bytes")


def test_scaleout_6_connect_reads_the_url():
    bus = pubsub.connect("memory://?maxlen=7")
    assert bus.maxlen == 7
    for url in ("nats://x", "memory://?maxlen=0", "memory://?maxlen=x"):
        with pytest.raises(ValueError):
            pubsub.connect(url)


def test_scaleout_6_the_module_functions_use_the_configured_bus(monkeypatch):
    monkeypatch.setenv(pubsub.ENV_VAR, "memory://?maxlen=2")
    bus = pubsub.configure()
    try:
        assert pubsub.default() is bus and bus.maxlen == 2
        first = pubsub.publish("m", "x")
        assert [m.data for m in pubsub.wait("m", "0", 0)] == ["x"]
        with pubsub.subscribe("m", after=first) as feed:
            pubsub.publish("m", "y")
            assert feed.get(1).data == "y"
        assert [m.data for m in pubsub.history("m")] == ["x", "y"]
    finally:
        pubsub.configure("memory://")


def ticker_gaps(seconds: float, interval: float = 0.02) -> list[float]:
    """A green thread's tick gaps over `seconds`: long gaps mean the loop was blocked."""
    gaps, last = [], time.monotonic()
    deadline = last + seconds
    while time.monotonic() < deadline:
        BACKEND.sleep(interval)
        now = time.monotonic()
        gaps.append(now - last)
        last = now
    return gaps


#: What a blocking call would hold the loop for: Redis's XREAD BLOCK, a waiter's timeout.
BLOCKING = 2.0
BOUND = BLOCKING / 5


def test_scaleout_6_waiting_does_not_block_the_loop(pair, kind):
    """Subscribers asleep (and, on Redis, the reader blocked in XREAD) leave the loop free.

    A blocking XREAD or wait would stall the ticker for 2 s; the bound is 5x
    below that, and the control below shows a blocked loop fails it.
    """
    publisher, subscriber = pair(**({"block_ms": int(BLOCKING * 1000)} if kind == "redis" else {}))
    subscriber.wait("idle", None, 0)
    waiters = [BACKEND.spawn(subscriber.wait, "idle", None, BLOCKING) for _ in range(3)]
    gaps = ticker_gaps(BLOCKING + 0.5)
    assert max(gaps) < BOUND, max(gaps)
    assert all(result(w) == [] for w in waiters)
    publisher.publish("idle", "done")


def test_scaleout_6_the_blocking_control_fails_the_ticker_bound():
    """The control: work that holds the loop (CPU, inline) stalls the ticker past the bound."""
    ticker = BACKEND.spawn(ticker_gaps, 1.5 * BOUND + 0.3)
    BACKEND.sleep(0.05)
    end = time.monotonic() + 1.5 * BOUND
    while time.monotonic() < end:
        pass
    assert max(result(ticker)) > BOUND


def test_scaleout_6_many_waiters_ahead_of_the_reader_ask_the_store_once(make_bus, monkeypatch):
    """Clients that saw a message this worker has not read yet: one store question for all."""
    bus = make_bus("memory")
    bus.publish("c", "seen elsewhere")
    ahead = (pubsub.parse_id(bus.last_id("c"))[0] + 1, 0)
    asked = []

    def slow_store_last(channel):
        asked.append(channel.name)
        BACKEND.sleep(0.1)
        return ahead

    monkeypatch.setattr(bus, "_store_last", slow_store_last)
    waiters = [BACKEND.spawn(bus.wait, "c", pubsub.format_id(ahead), 0.3) for _ in range(100)]
    assert all(result(w) == [] for w in waiters)  # no Gap: the store has that id
    assert asked == ["c"]


def test_scaleout_6_waiters_arriving_together_on_a_new_channel_all_wake(pair):
    """The first use of a channel loads it (I/O on Redis); those arriving meanwhile share it."""
    publisher, subscriber = pair()
    since = publisher.publish("fresh", "before")
    waiters = [BACKEND.spawn(subscriber.wait, "fresh", since, 10) for _ in range(20)]
    BACKEND.sleep(0.2)
    sent = publisher.publish("fresh", "after")
    assert all([m.id for m in result(w)] == [sent] for w in waiters)
