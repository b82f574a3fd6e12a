"""The chat's rooms and buses in process: timeouts, resets, and Redis between "workers"."""

from __future__ import annotations

import importlib.util
import json
import sys
import time

import pytest

from brubeck import pubsub
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
    assert reply["messages"] == [] and reply["last"] == "0" and not reply["reset"]
    assert 0.25 < time.monotonic() - started < 2


def test_a_client_ahead_of_the_server_starts_over(chat_module):
    """An id this server never gave out (its history was lost): the client gets a reset."""
    client = TestClient(chat_module.make_app())
    client.post("/rooms/r/messages", json={"nick": "a", "text": "one"})
    reply = client.get("/rooms/r/poll", params={"since": "99999999999999-0"}).json()
    assert reply["reset"] and [m["text"] for m in reply["messages"]] == ["one"]
    assert reply["last"] == reply["messages"][-1]["id"]


def test_scaleout_6_a_client_whose_last_id_was_trimmed_starts_over(chat_module):
    """The room keeps 200 messages; a client that saw one of the dropped ones resets."""
    client = TestClient(chat_module.make_app())
    first = client.post("/rooms/busy/messages", json={"nick": "a", "text": "0"}).json()
    for i in range(1, 205):
        client.post("/rooms/busy/messages", json={"nick": "a", "text": str(i)})
    reply = client.get("/rooms/busy/poll", params={"since": first["id"]}).json()
    assert reply["reset"] and len(reply["messages"]) == 200
    assert reply["messages"][0]["text"] == "5"


def test_scaleout_6_a_client_back_with_its_last_id_gets_what_it_missed(chat_module):
    client = TestClient(chat_module.make_app())
    seen = client.post("/rooms/r/messages", json={"nick": "a", "text": "seen"}).json()
    for text in ("missed 1", "missed 2"):
        client.post("/rooms/r/messages", json={"nick": "b", "text": text})
    reply = client.get("/rooms/r/poll", params={"since": seen["id"]}).json()
    assert not reply["reset"]
    assert [m["text"] for m in reply["messages"]] == ["missed 1", "missed 2"]


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
        one, two = hub.open_rooms(url), hub.open_rooms(url)  # two "workers"
        late = None
        try:
            waiter = BACKEND.spawn(two.room("jazz").wait, "0", 5)
            posters = [BACKEND.spawn(rooms.post, "jazz", "n", f"m{i}")
                       for i, rooms in enumerate([one, two] * 10)]
            posted = [job.wait() if hasattr(job, "wait") else job.get() for job in posters]
            found, reset = waiter.wait() if hasattr(waiter, "wait") else waiter.get()
            assert found and not reset
            ids = sorted((m["id"] for m in posted), key=pubsub.parse_id)
            for rooms in (one, two):
                wait_until(lambda r=rooms: r.room("jazz").last_id == ids[-1], 5)
                assert [m["id"] for m in rooms.room("jazz").messages] == ids
            late = hub.open_rooms(url)  # a worker started later loads the history
            assert late.room("jazz").last_id == ids[-1] and "jazz" in late.room_names()
            assert len(late.room("jazz").messages) == 20
        finally:
            for rooms in (one, two, late):
                if rooms is not None:
                    rooms.close()


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


# -- the room's WebSocket (issue #15: the chat gains WebSockets) ---------------------------

def receive_json(socket, timeout: float = 5) -> dict:
    message = socket.receive(timeout)
    assert message is not None, "the socket closed"
    return json.loads(message)


def test_websocket_chat_two_sockets_say_and_type_and_hear_each_other(chat_module):
    client = TestClient(chat_module.make_app())
    with client.websocket("/rooms/jazz/ws?since=0") as ann, \
            client.websocket("/rooms/jazz/ws?since=0") as bob:
        assert receive_json(ann)["type"] == "hello" and receive_json(bob)["type"] == "hello"
        ann.send(json.dumps({"type": "say", "nick": "ann", "text": "Take five?"}))
        for socket in (ann, bob):
            news = receive_json(socket)
            assert news["type"] == "messages" and not news["reset"]
            assert [m["text"] for m in news["messages"]] == ["Take five?"]
            assert news["last"] == news["messages"][-1]["id"]
        bob.send(json.dumps({"type": "typing", "nick": "bob"}))
        assert receive_json(ann) == {"type": "typing", "nick": "bob"}
        # A long-poll client in the same room hears the socket's message too.
        reply = client.get("/rooms/jazz/messages").json()
        assert [m["text"] for m in reply["messages"]] == ["Take five?"]


def test_websocket_chat_a_reconnecting_socket_gets_what_was_said_meanwhile(chat_module):
    client = TestClient(chat_module.make_app())
    seen = client.post("/rooms/r/messages", json={"nick": "a", "text": "seen"}).json()
    client.post("/rooms/r/messages", json={"nick": "b", "text": "missed"})
    with client.websocket(f"/rooms/r/ws?since={seen['id']}") as socket:
        receive_json(socket)  # hello
        news = receive_json(socket)
        assert [m["text"] for m in news["messages"]] == ["missed"] and not news["reset"]
    with client.websocket("/rooms/r/ws?since=99999999999999-0") as socket:
        receive_json(socket)
        news = receive_json(socket)
        assert news["reset"] and [m["text"] for m in news["messages"]] == ["seen", "missed"]


def test_websocket_chat_bad_input_is_refused_or_answered(chat_module):
    from brubeck.testing import WebSocketRefused

    client = TestClient(chat_module.make_app())
    with pytest.raises(WebSocketRefused) as refused:
        client.websocket("/rooms/Not_A_Room/ws")
    assert refused.value.status_code == 404
    with pytest.raises(WebSocketRefused) as refused:
        client.websocket("/rooms/r/ws?since=%C2%B2")
    assert refused.value.status_code == 400
    with client.websocket("/rooms/r/ws") as socket:
        receive_json(socket)
        for bad in ("not json", json.dumps({"type": "say", "nick": "a b", "text": "x"}),
                    json.dumps({"nick": "a", "text": "x"})):
            socket.send(bad)
            assert receive_json(socket)["type"] == "error"
