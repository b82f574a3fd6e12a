"""Streams behind Mongrel2 and the per-host dispatcher (issue 15 item 1, dispatcher spec):
the head and chunks are non-final sends the dispatcher publishes while it keeps holding
the connection; the last send is final and releases it. Real Mongrel2, a dispatcher
process and two worker processes on this run's backend."""

from __future__ import annotations

import contextlib
import time

from brubeck import concurrency
from tests.mongrel2.test_dispatcher import DispatcherProcess
from tests.streaming.rawhttp import StreamClient
from tests.streaming.test_streaming import events_of
from tests.support.mongrel2 import mongrel2_server
from tests.support.processes import free_port, python_env, running

BACKEND = concurrency.active()
APP = "tests/streaming/worker_app.py:app"


@contextlib.contextmanager
def dispatched(tmp_path, workers=("1.0", "2.0")):
    with mongrel2_server(tmp_path / "m2") as m2, contextlib.ExitStack() as stack:
        worker_addr = f"tcp://127.0.0.1:{free_port()}"
        dispatcher = DispatcherProcess(m2.config.pull_addr, m2.config.pub_addr, worker_addr,
                                       tmp_path / "dispatcher.log")
        stack.callback(dispatcher.close)
        for worker_id in workers:
            env = python_env(BRUBECK_CONNECTION=f"mongrel2+dispatcher://{worker_addr}",
                             BRUBECK_WORKER_ID=worker_id, BRUBECK_CONCURRENCY=BACKEND.name)
            stack.enter_context(running(["-m", "brubeck", "serve", APP], env=env))
            dispatcher.wait_ready(worker_id)
        yield m2, dispatcher


def held(dispatcher) -> int:
    return dispatcher.call("stats")["held"]


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_streaming_1_dispatched_stream_is_held_until_its_final_send(tmp_path):
    with dispatched(tmp_path) as (m2, dispatcher):
        client = StreamClient(m2.url, "/forever")
        try:
            assert client.chunked
            assert client.next_chunk().startswith(b"tick 0")  # non-final sends arrive
            assert client.next_chunk().startswith(b"tick 1")
            assert held(dispatcher) == 1  # still held: nothing final was sent
        finally:
            client.close()
        # The client left: Mongrel2's disconnect notice reaches the holding worker, the
        # stream's handler ends, and the dispatcher holds nothing any more.
        assert wait_for(lambda: held(dispatcher) == 0), dispatcher.call("stats")


def test_streaming_2_dispatched_event_streams_end_with_a_final_send(tmp_path):
    with dispatched(tmp_path) as (m2, dispatcher):
        for last in (None, "3", "6"):  # the same connection id reaches either worker
            client = StreamClient(m2.url, "/events?count=3",
                                  headers={"Last-Event-ID": last} if last else None)
            try:
                events = events_of(b"".join(client.rest()))
            finally:
                client.close()
            start = int(last or 0)
            assert [e["id"] for e in events] == [str(n) for n in range(start + 1, start + 4)]
        assert wait_for(lambda: held(dispatcher) == 0), dispatcher.call("stats")
        stats = dispatcher.call("stats")
        assert stats["queued"] == 0
