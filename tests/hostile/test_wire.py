"""Each hostile request, sent as raw bytes to a real server: exact status, then a normal request."""

import logging

import pytest

from tests.hostile import rawhttp
from tests.hostile.cases import CASES, MONGREL2, cases_for, expected
from tests.hostile.conftest import SERVERS, assert_still_serving

PAIRS = [(server, case) for server in SERVERS for case in cases_for(server)]
MONGREL2_BODIES = (b"Bad Request", b"Not Found")  # Mongrel2's own answers, as it sends them


def pairs_named(*prefixes):
    """(server, case) for the table's cases whose names start with one of `prefixes`."""
    chosen = [c for c in CASES if c.name.startswith(prefixes)]
    assert chosen, prefixes
    found = [(s, c) for s in SERVERS for c in chosen]
    return pytest.mark.parametrize(("server", "case"), found, indirect=["server"],
                                   ids=[f"{s}-{c.name}" for s, c in found])


@pytest.mark.parametrize(("server", "case"), PAIRS, indirect=["server"],
                         ids=[f"{s}-{c.name}" for s, c in PAIRS])
def test_hostile_request_gets_exact_status(server, port, case):
    check_case(server, port, case)


@pairs_named("chunk framing:", "chunk size over", "bad chunk size")
def test_security_3_chunk_framing_near_misses_are_refused_alike(server, port, case):
    check_case(server, port, case)


@pairs_named("Content-Length")
def test_security_11_content_length_is_bounded_ascii_digits(server, port, case):
    check_case(server, port, case)


@pairs_named("chunked body in an HTTP/1.0", "vertical tab", "form feed", "tab between",
             "two spaces", "request line ended by a bare LF", "header line ended by a bare LF",
             "head ended by a bare LF", "all bare LFs", "HTTP/2.0", "HTTP/1.2")
def test_security_12_framing_leniency_is_refused_alike(server, port, case):
    check_case(server, port, case)


def check_case(server, port, case):
    """Send `case` alone on a connection: its exact status, no internals, and the
    connection closed when the table says so; then a normal request is served."""
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
        # `case.closes` is the WSGI servers' refusal; behind Mongrel2 a different
        # answer (Mongrel2 took the bytes) says in `want.closes` whether it closes.
        if want.closes or (case.closes and want.status == case.status):
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



LOG_PROBES = [
    # refused by the server itself (request line / head), by the app (percent-decoding), and
    # by the chunked decoder: each puts client text in a log line.
    b"GET /\x1b[31mred\x07 HTTP/1.1 junk\r\n\r\n",
    b"GET /echo%1b[2J%0aFORGED%20LINE%zz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /echo%0d%0aFORGED HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /x\x1b HTTP/1.1\r\nHost: x\r\n\n",
]


@pytest.mark.parametrize("probe", LOG_PROBES, ids=["request line", "path", "chunked", "head"])
def test_security_16_client_text_in_server_log_lines_is_escaped(live_wsgi_server, hostile_app,
                                                                caplog, probe):
    live_wsgi_server.app = hostile_app
    port = int(live_wsgi_server.url.rsplit(":", 1)[1])
    caplog.set_level(logging.DEBUG, logger="brubeck")
    reply = rawhttp.exchange(port, probe)
    assert 400 <= reply.status < 500
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("brubeck")]
    assert any("refused" in line for line in lines), lines
    for line in lines:
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in line), repr(line)
    logged = "\n".join(lines)
    assert "\\x1b" in logged or "\\r\\n" in logged or "\\x0a" in logged, lines
