"""The chat's rooms and buses in process: timeouts, resets, and Redis between "workers"."""

from __future__ import annotations

import importlib.util
import sys
import time

import pytest

from brubeck.testing import TestClient
from tests.support.processes import ROOT

from .conftest import BACKEND, redis_server, wait_until

CHAT = ROOT / "examples" / "chat"


@pytest.fixture
def chat_module(monkeypatch):
    """examples/chat/app.py loaded under its own name, with a 0.3 s poll timeout."""
    monkeypatch.setenv("CHAT_POLL_TIMEOUT", "0.3")
    monkeypatch.syspath_prepend(str(CHAT))
    spec = importlib.util.spec_from_file_location("chat_app_under_test", CHAT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("chat_app_under_test", None)


def test_a_long_poll_with_no_news_returns_empty_after_the_timeout(chat_module):
    client = TestClient(chat_module.make_app())
    started = time.monotonic()
    reply = client.get("/rooms/quiet/poll", params={"since": 0}).json()
    assert reply["messages"] == [] and reply["last"] == 0 and not reply["reset"]
    assert 0.25 < time.monotonic() - started < 2


def test_a_client_ahead_of_the_server_starts_over(chat_module):
    client = TestClient(chat_module.make_app())
    client.post("/rooms/r/messages", json={"nick": "a", "text": "one"})
    reply = client.get("/rooms/r/poll", params={"since": 41}).json()
    assert reply["reset"] and [m["text"] for m in reply["messages"]] == ["one"]


def test_bad_input_is_refused(chat_module):
    client = TestClient(chat_module.make_app())
    assert client.post("/rooms/r/messages", json={"nick": "a b", "text": "x"}).status_code == 400
    assert client.post("/rooms/r/messages", json={"nick": "a", "text": " "}).status_code == 400
    assert client.get("/rooms/r/poll", params={"since": "-1"}).status_code == 400
    assert client.get("/rooms/Not_A_Room").status_code == 404


def test_redis_carries_messages_between_workers_in_order(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(CHAT))
    import hub

    with redis_server(tmp_path) as url:
        one, two = hub.RedisBus(url), hub.RedisBus(url)  # two "workers"
        one.start()
        two.start()
        try:
            waiter = BACKEND.spawn(two.room("jazz").wait, 0, 5)
            posters = [BACKEND.spawn(bus.post, "jazz", "n", f"m{i}")
                       for i, bus in enumerate([one, two] * 10)]
            for job in posters:
                job.wait() if hasattr(job, "wait") else job.join()
            found, reset = waiter.wait() if hasattr(waiter, "wait") else waiter.get()
            assert found and not reset
            for bus in (one, two):
                wait_until(lambda b=bus: b.room("jazz").last_id == 20, 5)
                assert [m["id"] for m in bus.room("jazz").messages] == list(range(1, 21))
            late = hub.RedisBus(url)  # a worker started later loads the history
            assert late.room("jazz").last_id == 20 and "jazz" in late.room_names()
        finally:
            one.stop()
            two.stop()
