"""WebSocketHandler's API (issue 15), the same over every transport (see conftest)."""

from __future__ import annotations

import contextlib
import time

import pytest

from brubeck.testing import WebSocketRefused
from tests.support.green import wait_for
from tests.websocket.app import EVENTS, ROOM, build_app


@pytest.fixture
def client(serve):
    EVENTS.clear()
    ROOM.clear()
    return serve(build_app())


def test_ws_api_text_and_binary_echo(client):
    with client.websocket("/echo") as ws:
        ws.send("héllo")
        assert ws.receive() == "héllo"
        ws.send(b"\x00\xff")
        assert ws.receive() == b"\x00\xff"


def test_ws_api_write_message_json_for_dicts(client):
    with client.websocket("/commands") as ws:
        ws.send("json")
        assert ws.receive() == '{"a":1}'


def test_ws_api_synchronous_receive_loop_with_url_groups(client):
    ws = client.websocket("/sync/ann")
    assert ws.receive() == "hello ann"
    ws.send("one")
    assert ws.receive() == "ann: one"
    ws.send("wait")
    assert ws.receive() == "timed out"
    ws.close(1000)
    assert ws.close_code == 1000
    assert wait_for(lambda: ("sync closed", 1000) in EVENTS)


def test_ws_api_server_close_with_code_and_reason(client):
    ws = client.websocket("/commands")
    ws.send("close")
    assert ws.receive() is None
    assert (ws.close_code, ws.close_reason) == (4000, "bye")
    assert wait_for(lambda: "write after close refused" in EVENTS)
    assert wait_for(lambda: any(e[0] == "closed" for e in EVENTS if isinstance(e, tuple)))
    ws.close()


def test_ws_api_client_close_code_reaches_on_close(client):
    ws = client.websocket("/commands")
    ws.close(4001, "done")
    assert ws.close_code == 4001
    assert wait_for(lambda: ("closed", 4001, "done") in EVENTS)
    assert EVENTS.count("open") == 1


def test_ws_api_messages_during_open_then_after_arrive_in_order(client):
    with client.websocket("/ordered") as ws:
        for n in range(5):  # while open() still sleeps: they wait for it
            ws.send(str(n))
        assert [ws.receive() for _ in range(5)] == [str(n) for n in range(5)]
        # After open(): on_message at once (over sockets, in the reader). Ten, not
        # more: Mongrel2 1.12 disconnects a client with over 16 replies queued for it.
        for n in range(5, 15):
            ws.send(str(n))
        assert [ws.receive() for _ in range(10)] == [str(n) for n in range(5, 15)]
    assert EVENTS[:6] == ["opened", "0", "1", "2", "3", "4"]


def test_ws_api_on_close_runs_once_after_the_message_that_closed(client):
    ws = client.websocket("/ordered")
    ws.send("x")
    assert ws.receive() == "x"
    ws.send("close")
    assert ws.receive() is None
    assert (ws.close_code, ws.close_reason) == (4002, "asked")
    assert wait_for(lambda: "on_close" in EVENTS)
    ws.close()
    time.sleep(0.1)
    assert EVENTS[-3:] == ["close", "close returned", "on_close"]


def test_ws_api_a_receive_loop_after_the_hand_over_still_ends_with_on_close(live_wsgi_server):
    """Over sockets on_message runs in the reader once open() returned; a green thread
    that then loops on receive() takes the messages back, and on_close still runs once.
    (Over WSGI only: elsewhere that loop and the session would share the messages.)"""
    from brubeck.testing import LiveClient

    EVENTS.clear()
    live_wsgi_server.app = build_app()
    client = LiveClient(live_wsgi_server.url)
    try:
        ws = client.websocket("/takeover")
        ws.send("take over")
        assert ws.receive() == "looping"
        ws.send("a")
        assert ws.receive() == "loop:a"
        ws.close()
        assert wait_for(lambda: {"on_close", "loop ended"} <= set(EVENTS))
        time.sleep(0.1)
        assert EVENTS.count("on_close") == 1
    finally:
        client.close()


def test_ws_api_server_ping_answered_by_pong(client):
    with client.websocket("/commands") as ws:
        ws.send("ping")
        assert ws.receive() == "pong:abc"


def test_ws_api_client_ping_gets_pong(client):
    with client.websocket("/echo") as ws:
        ws.ping(b"xyz")
        ws.send("after")
        assert ws.receive() == "after"
        assert ws.pongs == [b"xyz"]


@pytest.mark.parametrize(("path", "word"), [("/commands", "raise"), ("/ordered", "receive")])
def test_ws_api_handler_exception_closes_1011(client, path, word):
    """A crash in on_message, or receive() inside it (refused: the next message is the
    next on_message call), closes with 1011; on_close runs once."""
    ws = client.websocket(path)
    ws.send(word)
    assert ws.receive() is None
    assert ws.close_code == 1011
    ws.close()

    def closes():
        return [e for e in EVENTS if e == "on_close" or (isinstance(e, tuple) and e[0] == "closed")]

    assert wait_for(closes)
    time.sleep(0.1)
    assert len(closes()) == 1


def test_ws_api_oversize_message_closes_1009(client):
    ws = client.websocket("/small")
    ws.send("x" * 1000)
    assert ws.receive() == "x" * 1000
    ws.send("x" * 1001)
    assert ws.receive() is None
    assert ws.close_code == 1009
    ws.close()


def test_ws_handshake_subprotocol_selected(client):
    with client.websocket("/chat", subprotocols=["x", "chat"]) as ws:
        assert ws.subprotocol == "chat"
        assert ws.receive() == "proto:chat"
    with client.websocket("/chat", subprotocols=["x"]) as ws:
        assert ws.subprotocol is None
        assert ws.receive() == "proto:None"


def test_ws_handshake_origin_refused_403(client):
    with pytest.raises(WebSocketRefused) as refused:
        client.websocket("/echo", headers={"Origin": "http://evil.example"})
    assert refused.value.status_code == 403


def test_ws_handshake_same_origin_accepted(client):
    host = "testserver" if not hasattr(client, "port") else f"{client.host}:{client.port}"
    with client.websocket("/echo", headers={"Origin": f"http://{host}"}) as ws:
        ws.send("ok")
        assert ws.receive() == "ok"


def test_ws_handshake_auth_refused_403(client):
    with pytest.raises(WebSocketRefused) as refused:
        client.websocket("/private")
    assert refused.value.status_code == 403
    with client.websocket("/private", headers={"X-User": "jd"}) as ws:
        assert ws.receive() == "hi jd"


def test_ws_handshake_plain_get_gets_426(client):
    response = client.get("/echo")
    assert response.status_code == 426
    assert response.headers["Sec-WebSocket-Version"] == "13"


def test_ws_handshake_bad_version_426(client):
    with pytest.raises(WebSocketRefused) as refused:
        client.websocket("/echo", headers={"Sec-WebSocket-Version": "8"})
    assert refused.value.status_code == 426
    assert refused.value.response.headers["Sec-WebSocket-Version"] == "13"


def test_ws_handshake_bad_key_400(client):
    with pytest.raises(WebSocketRefused) as refused:
        client.websocket("/echo", headers={"Sec-WebSocket-Key": "c2hvcnQ="})
    assert refused.value.status_code == 400


def test_ws_handshake_unknown_path_404(client):
    with pytest.raises(WebSocketRefused) as refused:
        client.websocket("/nowhere")
    assert refused.value.status_code == 404


def test_ws_broadcast_reaches_every_client(client):
    sockets = [client.websocket("/chat") for _ in range(3)]
    for ws in sockets:
        assert ws.receive() == "proto:None"
    assert wait_for(lambda: len(ROOM) == 3)
    sockets[0].send("to all")
    assert [ws.receive() for ws in sockets] == ["to all"] * 3
    for ws in sockets:
        ws.close()
    assert wait_for(lambda: not ROOM)


def test_ws_ping_interval_drops_a_client_that_never_answers(client):
    from brubeck import concurrency

    ws = client.websocket("/pinged")  # pings every 0.05 s, drops after 0.15 s of silence
    concurrency.active().sleep(0.6)  # not reading: no pongs go back
    assert ws.receive(timeout=5) is None
    assert ws.close_code == 1006  # dropped, no close frame
    ws.close()


def test_the_test_client_answers_no_ping_that_crossed_its_close():
    """A server ping on the wire while our Close travels is not answered: no Pong may
    follow a Close (wsproto refuses one), and `close()` once raised on it."""
    import socket

    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, CloseConnection
    from wsproto.events import Request as Handshake

    from brubeck import concurrency
    from brubeck.testing import LiveWebSocket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        ws = WSConnection(ConnectionType.SERVER)
        with conn:
            while True:
                ws.receive_data(conn.recv(65536) or None)
                for event in ws.events():
                    if isinstance(event, Handshake):
                        conn.sendall(ws.send(AcceptConnection()))
                    elif isinstance(event, CloseConnection):  # a ping, then the answer
                        conn.sendall(b"\x89\x04late" + ws.send(event.response()))
                        return

    server = concurrency.active().spawn(serve)
    try:
        ws = LiveWebSocket("127.0.0.1", listener.getsockname()[1], "/", [], [], 5.0)
        ws.close()
        assert ws.close_code == 1000
    finally:
        server.kill()
        listener.close()


def test_ws_ping_interval_keeps_a_client_that_answers(client):
    ws = client.websocket("/pinged-patient")  # pings every 0.05 s, drops after 1.05 s
    reading_until = time.monotonic() + 2.5  # past that: pongs (not luck) kept it
    while time.monotonic() < reading_until:
        with contextlib.suppress(TimeoutError):
            ws.receive(timeout=0.05)
    ws.send("still here")
    assert ws.receive() == "still here"
    ws.close()


def test_ws_handshake_host_not_allowed_400(serve):
    client = serve(build_app(allowed_hosts=["example.com"]))
    with pytest.raises(WebSocketRefused) as refused:
        client.websocket("/echo")
    assert refused.value.status_code == 400


def test_ws_config_max_message_size_from_app_config(serve):
    client = serve(build_app(websocket_max_message_size=10))
    ws = client.websocket("/echo")
    ws.send("x" * 11)
    assert ws.receive() is None
    assert ws.close_code == 1009
    ws.close()


def test_ws_config_app_attribute_is_read(serve):
    app = build_app()
    app.websocket_max_message_size = 10  # where Brubeck keeps its config keys
    ws = serve(app).websocket("/echo")
    ws.send("x" * 10)
    assert ws.receive() == "x" * 10
    ws.send("x" * 11)
    assert ws.receive() is None
    assert ws.close_code == 1009
    ws.close()


def test_ws_101_head_is_one_function_for_every_transport():
    """brubeck.websocket.handshake_head builds the 101 for the WSGI servers and Mongrel2
    alike; a handler header that could split the head (CR, LF, NUL) is refused."""
    from types import SimpleNamespace

    from brubeck.mongrel2 import websocket as over_mongrel2
    from brubeck.servers import websocket as over_wsgi
    from brubeck.websocket import handshake_head

    assert over_mongrel2.handshake_head is handshake_head is over_wsgi.handshake_head
    handler = SimpleNamespace(subprotocol="chat", handshake_headers=lambda: [("X-A", "1")])
    assert handshake_head(handler, "KEY") == (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: KEY\r\nSec-WebSocket-Protocol: chat\r\nX-A: 1\r\n\r\n")
    for bad in ("a\rb", "a\nb", "a\0b"):
        handler.handshake_headers = lambda bad=bad: [("X-A", bad)]
        with pytest.raises(ValueError):
            handshake_head(handler, "KEY")
