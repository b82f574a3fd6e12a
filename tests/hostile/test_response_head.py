"""The response head each server writes for any WSGI app, not only Brubeck's.

The gevent server writes the head itself for the common case (one string
operation over all headers) and leaves the rest to pywsgi; these hold both
paths, and eventlet's, to the same rules.
"""

import socket

import pytest

from brubeck import concurrency
from brubeck.servers.http import header_block
from tests.hostile import rawhttp


def raw_app(environ, start_response):
    """Answers what the path names: headers as a raw WSGI app may send them."""
    path = environ["PATH_INFO"]
    headers = {
        "/spelled": [("ETag", '"v1"'), ("X-UPPER", "a"), ("content-type", "text/plain")],
        "/injected": [("X-A", "ok\r\nSet-Cookie: evil=1")],
        "/close": [("Connection", "close"), ("Content-Length", "2")],
        "/empty": [("Content-Length", "0")],
    }.get(path, [("Content-Length", "2")])
    status = "204 No Content" if path == "/empty" else "200 OK"
    start_response(status, headers)
    return [b""] if path == "/empty" else [b"ok"]


@pytest.fixture(scope="module")
def raw_port():
    backend = concurrency.active()
    sock = socket.socket()
    sock.bind((rawhttp.HOST, 0))
    sock.listen(64)
    server = backend.spawn(backend.serve_wsgi, raw_app, sock=sock)
    backend.sleep(0.01)
    yield sock.getsockname()[1]
    server.kill()
    sock.close()


def test_header_names_go_out_as_the_app_spelled_them(raw_port):
    with rawhttp.connect(raw_port) as sock:
        sock.sendall(rawhttp.get("/spelled"))
        head = sock.recv(65536).split(b"\r\n\r\n")[0]
    assert b'\r\nETag: "v1"\r\n' in head and b"\r\nX-UPPER: a\r\n" in head
    assert b"\r\nDate: " in head


def test_a_header_value_with_crlf_is_never_sent(raw_port):
    with rawhttp.connect(raw_port) as sock:
        sock.sendall(rawhttp.get("/injected"))
        sock.settimeout(5)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
                if b"\r\n\r\n" in data:
                    break
        except OSError:
            pass
    assert b"Set-Cookie" not in data  # a 500, or a closed connection: never the header


def test_the_apps_connection_close_ends_the_connection(raw_port):
    with rawhttp.connect(raw_port) as sock:
        sock.sendall(rawhttp.get("/close"))
        assert rawhttp.read_reply(sock).status == 200
        assert rawhttp.closed_by_server(sock)


@pytest.mark.parametrize("version", [b"HTTP/1.0", b"HTTP/1.1"])
def test_keep_alive_follows_the_version_and_a_204_has_no_body(raw_port, version):
    """HTTP/1.0 and 204 take pywsgi's own path on gevent: same answers as the fast one."""
    with rawhttp.connect(raw_port) as sock:
        sock.sendall(b"GET /empty %s\r\nHost: x\r\nConnection: keep-alive\r\n\r\n" % version)
        assert rawhttp.read_reply(sock).status == 204
        sock.sendall(b"GET /x %s\r\nHost: x\r\n\r\n" % version)
        reply = rawhttp.read_reply(sock)
        assert (reply.status, reply.body) == (200, b"ok")
        if version == b"HTTP/1.0":
            assert rawhttp.closed_by_server(sock)  # no keep-alive asked for the second


@pytest.mark.parametrize(("status", "headers"), [
    ("200 OK", [("X-A", "1\r\nX-B: 2")]),
    ("200 OK", [("X-A\n", "1")]),
    ("200 OK\r\nX-B: 2", [("X-A", "1")]),
    ("200 OK", [("X-A", 1)]),
    (b"200 OK", [("X-A", "1")]),
])
def test_header_block_leaves_what_it_cannot_vouch_for_to_the_server(status, headers):
    assert header_block(status, headers) is None


def test_header_block_is_the_status_and_headers_as_crlf_lines():
    assert header_block("200 OK", [("A", "1"), ("B", "x: y")]) == "200 OK\r\nA: 1\r\nB: x: y\r\n"
    assert header_block("200 OK", []) == "200 OK\r\n"
