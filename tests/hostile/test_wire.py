"""Each hostile request, sent as raw bytes to a real server: exact status, then a normal request."""

import pytest

from tests.hostile import rawhttp
from tests.hostile.cases import CASES
from tests.hostile.conftest import assert_still_serving


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_request_gets_exact_status(port, case):
    with rawhttp.connect(port) as sock:
        rawhttp.send_all_tolerant(sock, case.request)
        if case.shutdown:
            sock.shutdown(rawhttp.socket.SHUT_WR)
        reply = rawhttp.read_reply(sock)
        assert reply.status == case.status, reply.body[:200]
        if case.closes:
            assert reply.header("connection") == "close"
            assert rawhttp.closed_by_server(sock)
    assert b"Traceback" not in reply.body
    assert "x-injected" not in reply.headers
    assert_still_serving(port)


def test_crash_shows_no_internals(port):
    reply = rawhttp.exchange(port, rawhttp.get("/crash"))
    assert reply.status == 500
    assert b"secret internals" not in reply.body and b"Traceback" not in reply.body


def test_keep_alive_survives_an_app_level_400(port):
    """A 400 from the request parser does not cost a well-framed connection its next request."""
    with rawhttp.connect(port) as sock:
        sock.sendall(rawhttp.post("/echo", b"{", "application/json"))
        assert rawhttp.read_reply(sock).status == 400
        sock.sendall(rawhttp.get("/brubeck"))
        assert rawhttp.read_reply(sock).body == b"Take five"


def test_smuggled_request_is_not_answered(port):
    """With CL+TE refused, the bytes after the head are never parsed as a second request."""
    smuggle = (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
               b"GET /crash HTTP/1.1\r\nHost: x\r\n\r\n")
    with rawhttp.connect(port) as sock:
        sock.sendall(smuggle)
        assert rawhttp.read_reply(sock).status == 400
        assert rawhttp.closed_by_server(sock)


def test_static_file_traversal_not_applicable():
    pytest.skip("Brubeck serves no static files over WSGI yet (Mongrel2 serves /static/)")
