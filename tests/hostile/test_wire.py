"""Each hostile request, sent as raw bytes to a real server: exact status, then a normal request."""

import pytest

from tests.hostile import rawhttp
from tests.hostile.cases import MONGREL2, cases_for, expected
from tests.hostile.conftest import SERVERS, assert_still_serving

PAIRS = [(server, case) for server in SERVERS for case in cases_for(server)]
MONGREL2_BODIES = (b"Bad Request", b"Not Found")  # Mongrel2's own answers, as it sends them


@pytest.mark.parametrize(("server", "case"), PAIRS, indirect=["server"],
                         ids=[f"{s}-{c.name}" for s, c in PAIRS])
def test_hostile_request_gets_exact_status(server, port, case):
    want = expected(case, server)
    with rawhttp.connect(port) as sock:
        rawhttp.send_all_tolerant(sock, case.request)
        if case.shutdown:
            sock.shutdown(rawhttp.socket.SHUT_WR)
        if want.status is None:
            with pytest.raises(rawhttp.NoReply):
                rawhttp.read_reply(sock)
            reply = rawhttp.Reply(0, "")
        else:
            reply = rawhttp.read_reply(sock)
            assert reply.status == want.status, reply.body[:200]
        if want.by == MONGREL2:
            assert reply.body in MONGREL2_BODIES or want.status is None, reply.body[:200]
        if case.closes or want.closes:
            if want.status is not None:
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
    hidden = b"0\r\n\r\nGET /crash HTTP/1.1\r\nHost: x\r\n\r\n"
    # Content-Length covers the hidden request: Mongrel2 reads that many bytes, then forwards.
    smuggle = (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n%s" % (len(hidden), hidden))
    with rawhttp.connect(port) as sock:
        sock.sendall(smuggle)
        assert rawhttp.read_reply(sock).status == 400
        assert rawhttp.closed_by_server(sock)

