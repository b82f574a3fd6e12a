"""The Redis bus with real processes and a real redis-server (issue #16 item 6).

Worker processes are `tests/pubsub/peer.py`, run with this test run's backend
and stopped by PID; Redis's own counters (INFO commandstats) show how many
XREADs a process issued.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

from brubeck import concurrency, pubsub
from tests.support.processes import python_env, stop
from tests.support.redis import redis_server

BACKEND = concurrency.active()
PEER = Path(__file__).with_name("peer.py")


def result(job):
    return job.get() if hasattr(job, "get") else job.wait()


def wait_until(predicate, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        BACKEND.sleep(0.02)


def command_calls(client: redis.Redis, command: str) -> int:
    return client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test alone, so its command counters are ours."""
    with redis_server(tmp_path) as url:
        yield url


@pytest.fixture
def prefix():
    return f"test:{uuid.uuid4().hex[:12]}:"


class Peer:
    """A peer.py process; its output lines in a file (never an unread pipe)."""

    def __init__(self, tmp_path: Path, url: str, prefix: str, channel: str, *options: str):
        self.out = tmp_path / f"peer-{uuid.uuid4().hex[:8]}.out"
        self.file = self.out.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(PEER), url, prefix, channel, *options],
            env=python_env(BRUBECK_CONCURRENCY=BACKEND.name), stdout=self.file,
            stderr=subprocess.STDOUT)

    def lines(self) -> list[str]:
        return self.out.read_text().splitlines()

    def messages(self) -> list[tuple[str, str]]:
        return [tuple(line.split(" ", 1)) for line in self.lines()
                if line != "ready" and " " in line]

    def wait_ready(self) -> None:
        wait_until(lambda: "ready" in self.lines() or self.proc.poll() is not None, 20,
                   "peer did not start")
        assert self.proc.poll() is None, self.out.read_text()

    def finish(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            BACKEND.sleep(0.05)
        code = self.proc.poll()
        self.close()
        assert code is not None, f"peer still running after {timeout}s"
        return code

    def close(self) -> None:
        stop(self.proc)
        self.file.close()


def test_scaleout_6_two_worker_processes_see_each_others_messages_in_one_order(
        tmp_path, own_redis, prefix):
    peers = [Peer(tmp_path, own_redis, prefix, "both", "--after", "0", "--publish", "25",
                  "--expect", "50") for _ in range(2)]
    try:
        for peer in peers:
            peer.wait_ready()
        assert [peer.finish() for peer in peers] == [0, 0], [p.lines()[-3:] for p in peers]
    finally:
        for peer in peers:
            peer.close()
    first, second = (peer.messages() for peer in peers)
    assert len(first) == 50 and first == second  # the same messages, in the same order
    pids = {data.split(":")[0] for _id, data in first}
    assert pids == {str(peer.proc.pid) for peer in peers}
    assert [pubsub.parse_id(i) for i, _ in first] == sorted(pubsub.parse_id(i) for i, _ in first)


def test_scaleout_6_a_restarted_subscriber_with_its_last_seen_id_loses_nothing(
        tmp_path, own_redis, prefix):
    total = 300
    bus = pubsub.connect(own_redis, prefix=prefix)
    first = Peer(tmp_path, own_redis, prefix, "steady", "--expect", str(total))
    first.wait_ready()
    sent: list[str] = []

    def publish() -> None:
        for i in range(total):
            sent.append(bus.publish("steady", str(i)))
            BACKEND.sleep(0.005)

    publisher = BACKEND.spawn(publish)
    try:
        wait_until(lambda: len(first.messages()) >= 50, 20, "the subscriber received nothing")
        os.kill(first.proc.pid, signal.SIGKILL)  # a worker dies mid-stream
        first.proc.wait(10)
        first.close()
        seen = first.messages()
        assert len(sent) < total  # the publisher is still going
        second = Peer(tmp_path, own_redis, prefix, "steady", "--after", seen[-1][0],
                      "--expect", str(total - len(seen)))
        assert second.finish() == 0, second.lines()[-3:]
        result(publisher)
    finally:
        bus.close()
    received = seen + second.messages()
    assert [data for _id, data in received] == [str(i) for i in range(total)]
    assert [i for i, _data in received] == sent


def test_scaleout_6_100_local_waiters_share_one_xread(own_redis, prefix):
    """Fan-out: one blocking read per process, not one per waiter."""
    bus = pubsub.connect(own_redis, prefix=prefix)
    other = pubsub.connect(own_redis, prefix=prefix)  # another worker publishes
    counters = redis.Redis.from_url(own_redis)
    try:
        bus.wait("crowd", None, 0)
        waiters = [BACKEND.spawn(bus.wait, "crowd", None, 20) for _ in range(100)]
        wait_until(lambda: bus.waiting("crowd") == 100, 10, "not all 100 waiters asleep")
        reads_before = command_calls(counters, "xread")
        sent = other.publish("crowd", "for everyone")
        got = [result(w) for w in waiters]
        reads = command_calls(counters, "xread") - reads_before
    finally:
        bus.close()
        other.close()
    assert all([m.id for m in messages] == [sent] for messages in got)
    # The read that was blocked when the message came, plus the next one it starts.
    assert 1 <= reads <= 2, reads
    assert command_calls(counters, "xread") < 10  # all along, not 100+


def test_scaleout_6_a_new_channel_joins_a_blocked_read_at_once(own_redis, prefix):
    """CLIENT UNBLOCK: a channel followed while the reader sleeps in XREAD is read at once."""
    bus = pubsub.connect(own_redis, prefix=prefix, block_ms=10_000)
    other = pubsub.connect(own_redis, prefix=prefix)
    try:
        bus.wait("first", None, 0)
        BACKEND.sleep(0.2)  # the reader is now blocked in XREAD on "first" alone
        waiter = BACKEND.spawn(bus.wait, "second", None, 10)
        BACKEND.sleep(0.2)
        started = time.monotonic()
        other.publish("second", "here")
        assert [m.data for m in result(waiter)] == ["here"]
        assert time.monotonic() - started < 2  # 5x below the 10 s block it would wait out
    finally:
        bus.close()
        other.close()


def test_scaleout_6_the_reader_reconnects_without_losing_messages(own_redis, prefix):
    bus = pubsub.connect(own_redis, prefix=prefix)
    other = pubsub.connect(own_redis, prefix=prefix)
    admin = redis.Redis.from_url(own_redis)
    try:
        bus.wait("wire", None, 0)
        BACKEND.sleep(0.2)
        reader_id = bus._reader_id
        assert reader_id is not None
        admin.client_kill_filter(_id=reader_id)
        sent = [other.publish("wire", str(i)) for i in range(20)]  # while it reconnects
        got: list[pubsub.Message] = []
        position = "0"
        deadline = time.monotonic() + 10
        while len(got) < 20 and time.monotonic() < deadline:
            found = bus.wait("wire", position, 1)
            got += found
            position = found[-1].id if found else position
        assert [m.id for m in got] == sent
        assert bus._reader_id not in (None, reader_id)  # a new connection
    finally:
        bus.close()
        other.close()


def test_a_bus_closed_while_its_reader_connects_leaves_no_socket_open(own_redis, prefix,
                                                                      monkeypatch):
    """close() kills the reader wherever it is, even mid-handshake (connect, CLIENT ID):
    its connection is closed, not left for the garbage collector."""
    import gc

    unraisable: list = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    for attempt in range(40):
        bus = pubsub.connect(own_redis, prefix=prefix)
        bus.wait("x", None, 0)  # starts the reader, which connects
        BACKEND.sleep(attempt * 0.0005)
        bus.close()
    gc.collect()
    assert [str(u.exc_value) for u in unraisable] == []


def test_a_closed_bus_leaves_no_connection_open_on_redis(own_redis, prefix):
    """close() disconnects the bus's pool too: redis-py closes a pool on close() only
    if the client made it, and this one is made by the bus."""
    admin = redis.Redis.from_url(own_redis)
    try:
        bus = pubsub.connect(own_redis, prefix=prefix)
        bus.publish("x", "1")  # a pool connection
        bus.wait("x", None, 0)  # the reader's own connection
        wait_until(lambda: bus._reader_id is not None, 10, "the reader did not connect")
        assert len(admin.client_list()) >= 3
        bus.close()
        wait_until(lambda: len(admin.client_list()) == 1, 10,
                   "the bus's connections are still open 10 s after close()")
    finally:
        admin.close()
