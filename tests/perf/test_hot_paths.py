"""Issue 17 item 5: what one request costs on the hot paths, held to a recorded baseline.

Four paths, driven in process with nothing else running: a class handler and a
function route through the WSGI callable (as our servers call it), the same
class handler through the backend's own HTTP server (request bytes in over a
loopback socket, response bytes out: the path a `wrk` row of bench/ measures),
and a Mongrel2 message from its frame to the reply frame (parse, request,
handler, reply; the ZeroMQ sockets themselves are left out). Each counts Python and C
calls and the peak of bytes allocated; a figure past its baseline plus margin
(tests/perf/counting.py) fails, so speed cannot silently leak away. Counts
differ between Python versions and the two backends' libraries: the baselines
are kept per Python version (and per backend where it takes part); re-record
with `BRUBECK_PERF_RECORD=1` when a change is worth its cost.
"""

from __future__ import annotations

import io
import socket
from contextlib import closing

import pytest

from brubeck.app import Brubeck
from brubeck.handlers import WebMessageHandler
from brubeck.mongrel2 import tnetstring, wire
from brubeck.mongrel2.connection import Mongrel2Connection
from tests.perf import counting

HELLO = b"Hello, world!"


class Hello(WebMessageHandler):
    def get(self):
        self.set_body(HELLO)
        return self.render()


def hello_function(application, message):
    return HELLO


def make_app():
    app = Brubeck(log_level="WARNING")
    app.add_route_rule(r"^/hello$", Hello)
    app.add_route_rule(r"^/fn$", hello_function, method="GET")
    return app


def environ(path):
    """What Brubeck's WSGI servers hand the app for wrk's `GET path`."""
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "RAW_URI": path, "QUERY_STRING": "",
            "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "6767",
            "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:6767",
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b"")}


def wsgi_request(app, path):
    def one():
        body = app(environ(path), lambda status, headers: None)
        assert body == [HELLO]
    return one


def served_request(app, sock, path):
    """One keep-alive request through the backend's server: a change to the server's
    per-request path (head parser, timers, connection bookkeeping) shows here, which
    the WSGI-callable paths above never run."""
    request = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path.encode()

    def one():
        sock.sendall(request)
        answer = b""
        while not answer.endswith(HELLO):
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 ")
    return one


def mongrel2_frame(path):
    """What Mongrel2 1.12 pushes for wrk's `GET path` (tnetstring protocol)."""
    headers = {"PATH": path, "host": "127.0.0.1:6767", "x-forwarded-for": "127.0.0.1",
               "METHOD": "GET", "VERSION": "HTTP/1.1", "URI": path, "PATTERN": "/",
               "URL_SCHEME": "http", "REMOTE_ADDR": "127.0.0.1"}
    return b"3f4e1b9c-5b8a-4e8f-9d57-2a0c5f7e6d11 7 %s %s0:," % (
        path.encode(), tnetstring.dumps(headers))


def mongrel2_request(app, path):
    """Frame in, reply frame out: `_serve` as the worker's request greenlet runs it,
    publishing to a recorder instead of a PUB socket."""
    conn = Mongrel2Connection("tcp://127.0.0.1:1", "tcp://127.0.0.1:2", handle_signals=False)
    sent = []
    conn._pub = type("Pub", (), {"send": lambda self, frame: sent.append(frame)})()
    conn._app = app
    conn._idle = app.backend.Event()
    frame = mongrel2_frame(path)

    def one():
        sent.clear()
        conn._running += 1
        conn._serve(wire.parse_message(frame))
        assert len(sent) == 1 and sent[0].endswith(HELLO)
    return one


def test_perf_5_counting_sees_every_added_call_and_allocation():
    """The yardstick itself: one more call or one more kilobyte is seen."""
    def work():
        return len(str(12345))

    def more_work():
        work()
        return bytearray(4096)

    assert counting.calls(more_work) > counting.calls(work)
    assert counting.peak_bytes(more_work) >= 4096 > counting.peak_bytes(work)


def test_perf_5_wsgi_class_handler_calls_and_allocations():
    counting.check("wsgi_class_handler", counting.measure(wsgi_request(make_app(), "/hello")))


def test_perf_5_wsgi_function_route_calls_and_allocations():
    counting.check("wsgi_function_route", counting.measure(wsgi_request(make_app(), "/fn")))


def test_perf_5_wsgi_server_class_handler_calls_and_allocations():
    app = make_app()
    listener = app.backend.listen("127.0.0.1", 0)
    server = app.backend.spawn(app.backend.serve_wsgi, app, sock=listener)
    try:
        with closing(socket.create_connection(listener.getsockname()[:2], timeout=10)) as sock:
            figures = counting.measure(served_request(app, sock, "/hello"))
    finally:
        server.kill()
        listener.close()
    counting.check(f"wsgi_server_{app.backend.name}_class_handler", figures)


@pytest.mark.parametrize("tnet_parser", ["c", "python"])
def test_perf_5_mongrel2_receive_to_reply_calls_and_allocations(tnet_parser, monkeypatch):
    if tnet_parser == "c" and tnetstring.c_pop is None:
        pytest.skip("tnetstring3 (the `fast` extra) is not installed")
    if tnet_parser == "python":
        monkeypatch.setattr(tnetstring, "c_pop", None)
    app = make_app()
    figures = counting.measure(mongrel2_request(app, "/hello"))
    counting.check(f"mongrel2_{app.backend.name}_{tnet_parser}_tnetstring", figures)


def test_perf_5_a_grown_path_fails_its_check(monkeypatch):
    """A handler that does more than the recorded one is caught."""
    app = make_app()
    figures = counting.measure(wsgi_request(app, "/hello"))
    expected, _ = counting.baseline("wsgi_class_handler")
    if counting.RECORD or expected is None:
        pytest.skip("recording")
    grown = {"calls": int(expected["calls"] * 1.5) + 50, "peak_bytes": figures["peak_bytes"]}
    with pytest.raises(AssertionError, match="calls per request"):
        counting.check("wsgi_class_handler", grown)
