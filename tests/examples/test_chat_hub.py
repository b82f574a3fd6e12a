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


@pytest.mark.parametrize("since", ["\u00b2", "\u0661", "1\u00b2", "\uff11"])
def test_security_15_non_ascii_digits_in_since_are_400_not_500(chat_module, since):
    client = TestClient(chat_module.make_app())
    assert client.get("/rooms/r/poll", params={"since": since}).status_code == 400
    assert client.get("/rooms/r/feed", params={"since": since}).status_code == 400


TOKEN = "a-stats-token-of-32-characters!!"


def test_security_15_stats_are_off_without_a_configured_token(chat_module, monkeypatch):
    monkeypatch.delenv("CHAT_STATS_TOKEN", raising=False)
    client = TestClient(chat_module.make_app())
    reply = client.get("/stats")
    assert reply.status_code == 403 and "rss_kib" not in reply.text
    assert "CHAT_STATS_TOKEN" in reply.text  # says how to turn it on


def test_security_15_stats_need_the_token(chat_module, monkeypatch):
    monkeypatch.setenv("CHAT_STATS_TOKEN", TOKEN)
    client = TestClient(chat_module.make_app())
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                    {"Authorization": f"Bearer {TOKEN}x"}, {"X-Forwarded-For": "127.0.0.1"}):
        reply = client.get("/stats", headers=headers)
        assert reply.status_code == 403 and "rss_kib" not in reply.text, headers
    reply = client.get("/stats", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200 and set(reply.json()) >= {"worker", "rss_kib"}


def test_security_15_a_short_stats_token_refuses_to_start(chat_module, monkeypatch):
    monkeypatch.setenv("CHAT_STATS_TOKEN", "short")
    with pytest.raises(SystemExit, match="at least 16"):
        chat_module.make_app()
