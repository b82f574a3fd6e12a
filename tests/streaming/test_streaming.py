"""Streaming responses, Server-Sent Events and client-disconnect detection (issue 15,
"Streaming responses and Server-Sent Events"), over both WSGI servers and Mongrel2, on
the backend of this run (`.ci/run` runs it once per backend).

Items: 1 streams (write/flush, generators, StreamingResponse), 2 text/event-stream,
3 disconnect detection, 4 a real browser's EventSource (test_browser.py).
"""

from __future__ import annotations

import time

import pytest

from brubeck.streaming import ClientDisconnected, chunk, comment, encode_event
from brubeck.testing import TestClient
from tests.streaming import app as streams
from tests.streaming.rawhttp import StreamClient
from tests.support.linear import assert_linear

LIVE = ["wsgi", "mongrel2"]


@pytest.fixture(params=LIVE)
def server(request):
    """A live server of the parametrized transport, serving the streaming app."""
    fixture = "live_mongrel2" if request.param == "mongrel2" else "live_wsgi_server"
    live = request.getfixturevalue(fixture)
    live.app = streams.build_app()
    streams.reset()
    yield live


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(0.02)


# -- 1. streams ------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/flush", "/generator"])
def test_streaming_1_each_flush_reaches_the_client_before_the_handler_goes_on(server, path):
    """The handler waits until the client has read its first chunk: were flushes held
    back until the end, the client would read nothing and the handler would time out."""
    client = StreamClient(server.url, path)
    try:
        assert client.status == 200
        assert client.chunked and "content-length" not in client.headers
        assert client.headers["content-type"] == "text/plain; charset=utf-8"
        assert client.next_chunk() == b"first\n"
        streams.GO["first_read"].set()
        rest = b"".join(client.rest())
    finally:
        client.close()
    expected = b"line 0\nline 1\nline 2\n" + (b"unflushed tail\n" if path == "/flush" else b"")
    assert rest == expected
    assert streams.SEEN["first_read"] == [True]


def test_streaming_1_flush_sends_the_handlers_head_and_cookies(server):
    client = StreamClient(server.url, "/flush")
    try:
        assert ("set-cookie", "flavour=chunky") in client.header_list \
            or any(v.startswith("flavour=chunky") for k, v in client.header_list
                   if k == "set-cookie")
        assert client.headers["x-content-type-options"] == "nosniff"
        streams.GO["first_read"].set()
        client.rest()
    finally:
        client.close()


def test_streaming_1_connection_is_kept_alive_after_a_chunked_stream(server):
    """The last chunk ends the body: the same connection serves the next request."""
    streams.GO["first_read"].set()
    client = StreamClient(server.url, "/generator")
    try:
        client.rest()
        client.sock.sendall(b"GET /function HTTP/1.1\r\nHost: x\r\n\r\n")
        head = client._until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 201 ")
        client.chunked = b"chunked" in head.lower()
        assert b"".join(client.rest()) == b"abc"
    finally:
        client.close()


def test_streaming_1_function_route_returns_a_streaming_response(server):
    client = StreamClient(server.url, "/function")
    try:
        assert client.status == 201
        assert client.headers["x-kind"] == "function"
        assert b"".join(client.rest()) == b"abc"
    finally:
        client.close()


def test_streaming_1_http10_client_gets_a_body_delimited_by_closing(server):
    streams.GO["first_read"].set()
    client = StreamClient(server.url, "/generator", version="HTTP/1.0")
    try:
        assert client.status == 200
        assert not client.chunked and "content-length" not in client.headers
        body = b"".join(client.rest())  # until the server closes
    finally:
        client.close()
    assert body == b"first\nline 0\nline 1\nline 2\n"


def test_streaming_1_head_of_a_stream_has_no_body(server):
    streams.GO["first_read"].set()
    client = StreamClient(server.url, "/function", method="HEAD")
    try:
        assert client.status == 201
        client.sock.settimeout(1.0)
        client.sock.sendall(b"GET /function HTTP/1.1\r\nHost: x\r\n\r\n")
        # HEAD's answer ends at its head; the next bytes are the next response's
        # (or nothing, if the server closed the connection instead)
        try:
            data = client.sock.recv(65536)
        except TimeoutError:
            data = b""
        assert data == b"" or data.startswith(b"HTTP/1.1 201 ")
    finally:
        client.close()


def test_streaming_1_failure_after_the_head_cuts_the_stream_short(server):
    """A chunked body without its last chunk: the client can tell it is incomplete."""
    client = StreamClient(server.url, "/broken")
    try:
        assert client.status == 200
        assert client.next_chunk() == b"partial\n"
        with pytest.raises(EOFError):
            client.next_chunk()
    finally:
        client.close()


def test_streaming_1_inprocess_test_client_gets_the_whole_stream():
    streams.reset()
    streams.GO["first_read"].set()
    client = TestClient(streams.build_app())
    flushed = client.get("/flush")
    assert (flushed.status_code, flushed.text) == (
        200, "first\nline 0\nline 1\nline 2\nunflushed tail\n")
    assert client.get("/generator").text == "first\nline 0\nline 1\nline 2\n"
    assert client.get("/function").text == "abc"


def test_streaming_1_chunk_framing():
    assert chunk(b"hello") == b"5\r\nhello\r\n"
    assert chunk(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"
    assert chunk(b"") == b"0\r\n\r\n"


# -- 2. text/event-stream ---------------------------------------------------------------

def events_of(body: bytes) -> list[dict[str, str]]:
    """Parse an event stream as EventSource does (enough for these tests)."""
    events = []
    for block in body.decode().split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            fields[name] = f"{fields[name]}\n{value}" if name in fields else value
        if fields:
            events.append(fields)
    return events


def test_streaming_2_event_stream_head_and_events(server):
    client = StreamClient(server.url, "/events?count=2&multiline=1")
    try:
        assert client.status == 200
        assert client.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert client.headers["cache-control"] == "no-cache"
        body = b"".join(client.rest())
    finally:
        client.close()
    events = events_of(body)
    assert events[0] == {"event": "tick", "id": "1", "retry": "200", "data": "tick 1"}
    assert events[1] == {"event": "tick", "id": "2", "data": "tick 2"}
    assert events[2] == {"id": "m", "data": "one\ntwo\nthree\nfour"}
    assert events[3] == {"data": '{"json":true}'}


def test_streaming_2_last_event_id_resumes_where_the_client_left_off(server):
    client = StreamClient(server.url, "/events?count=2", headers={"Last-Event-ID": "41"})
    try:
        events = events_of(b"".join(client.rest()))
    finally:
        client.close()
    assert [e["id"] for e in events] == ["42", "43"]
    assert streams.SEEN["last_event_id"] == ["41"]


def test_streaming_2_keepalive_comments_fill_silence(server):
    client = StreamClient(server.url, "/quiet")
    try:
        first = client.next_chunk()
        assert events_of(first) == [{"data": "hello"}]
        assert client.next_chunk() == b": keep-alive\n\n"
        assert client.next_chunk() == b": keep-alive\n\n"
        streams.GO["first_read"].set()
        client.rest()
    finally:
        client.close()


def test_streaming_2_generator_of_events_gets_middleware_headers(server):
    client = StreamClient(server.url, "/generated-events")
    try:
        assert client.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert "x-request-id" in client.headers  # an `after` hook ran before the head left
        events = events_of(b"".join(client.rest()))
    finally:
        client.close()
    assert [e["data"] for e in events] == ["n0", "n1", "n2"]


def test_streaming_2_encoding_splits_every_kind_of_line_end():
    assert encode_event("a\r\nb\rc\nd") == b"data: a\ndata: b\ndata: c\ndata: d\n\n"
    assert encode_event("") == b"data: \n\n"
    assert encode_event("x", event="e", id=7, retry=10) == \
        b"event: e\nid: 7\nretry: 10\ndata: x\n\n"
    assert encode_event("\u2028 stays") == "data: \u2028 stays\n\n".encode()  # not an SSE line end
    assert comment("a\nb") == b": a\n: b\n\n"
    for bad in ({"event": "a\nb"}, {"id": "1\r"}, {"id": "\0"}):
        with pytest.raises(ValueError):
            encode_event("x", **bad)
    with pytest.raises(ValueError):
        encode_event("x", retry=-1)


def test_streaming_2_encoding_is_linear_in_the_data():
    """Twice the data costs about twice the time (a quadratic encoder would take 4x),
    measured as the security tests measure their parsers (tests/support/linear.py)."""
    assert_linear(encode_event, lambda size: "x\n" * size, 20_000)


# -- 3. client-disconnect detection -------------------------------------------------------

@pytest.mark.parametrize("path,key", [("/longpoll", "longpoll"), ("/polling", "polling")])
def test_streaming_3_long_poll_learns_the_client_left(server, path, key):
    client = StreamClient.__new__(StreamClient)
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(server.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert streams.GO["started"].wait(10)
    closed = time.monotonic()
    sock.close()
    del client
    wait_for(lambda: key in streams.SEEN, timeout=12)
    outcome, when = streams.SEEN[key][0]
    assert outcome in (True, "client left")
    assert when - closed < 5  # the handler would wait 15 s without it


def test_streaming_3_stream_stops_when_the_client_leaves(server):
    client = StreamClient(server.url, "/forever")
    assert client.next_chunk().startswith(b"tick 0")
    client.next_chunk()
    closed = time.monotonic()
    client.close()
    wait_for(lambda: "forever" in streams.SEEN, timeout=12)
    outcome, when = streams.SEEN["forever"][0]
    assert outcome == "client left"
    assert when - closed < 5


def test_streaming_3_client_disconnected_is_an_http_error_logged_quietly():
    error = ClientDisconnected()
    assert error.status_code == 499
    assert not error.log_message


def test_streaming_1_mongrel2_drain_cuts_a_running_stream_without_a_503_inside(tmp_path):
    """A stream still running when the worker's drain ends is closed, not answered 503
    (its head left long ago: a 503 would land inside the body)."""
    from brubeck.connections.mongrel2 import Mongrel2Connection
    from tests.conftest import BACKEND
    from tests.support.mongrel2 import mongrel2_server, wait_until_replies_arrive

    streams.reset()
    with mongrel2_server(tmp_path / "m2") as m2:
        config = m2.config
        conn = Mongrel2Connection(config.pull_addr, config.pub_addr, drain_timeout=0.5,
                                  handle_signals=False)
        worker = BACKEND.spawn(conn.run, streams.build_app())
        wait_until_replies_arrive(m2.url)
        client = StreamClient(m2.url, "/forever")
        try:
            assert client.next_chunk().startswith(b"tick 0")
            conn.shutdown()
            received = b""
            for _ in range(10_000):
                try:
                    data = client.next_chunk()
                except EOFError:  # cut: no last chunk
                    break
                assert data, "the stream was ended as if complete"
                received += data
        finally:
            client.close()
            conn.shutdown()
            worker.wait() if hasattr(worker, "wait") else worker.join(10)
    assert b"503" not in received
