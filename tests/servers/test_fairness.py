"""One busy keep-alive connection cannot hold the server while others wait.

A connection whose next request is already in when its response is sent used
to be served again at once, without a turn for the rest: at 500 connections
some got ten times the service of others, and the p99 latency stretched to
seconds. Pipelined requests make that case certain: every one of them is
waiting in the socket. A request on a second connection must be answered
after a few of them, not after all.

Between workers sharing one listening socket, a wake-up takes half of the
connections waiting: the first awake took a whole burst of connects.
"""

import socket
import struct

import pytest

from brubeck import concurrency
from brubeck.app import Brubeck
from brubeck.concurrency import process
from tests.conftest import listen_on_free_port
from tests.hostile import rawhttp

PIPELINED = 200


def test_a_pipelining_client_does_not_keep_a_second_connection_waiting():
    backend = concurrency.active()
    app = Brubeck(log_level="WARNING", request_ids=False)
    app.add_route_rule(r"^/hello$", lambda application, message: b"hi", method="GET")
    listener = listen_on_free_port()
    port = listener.getsockname()[1]
    server = backend.spawn(backend.serve_wsgi, app, sock=listener)
    busy = rawhttp.connect(port, timeout=10)
    other = rawhttp.connect(port, timeout=10)
    try:
        busy.sendall(rawhttp.get("/hello") * PIPELINED)
        other.sendall(rawhttp.get("/hello"))
        assert rawhttp.read_reply(other).status == 200
        busy.setblocking(False)
        served_first = bytearray()
        try:
            while chunk := busy.recv(1 << 20):
                served_first += chunk
        except BlockingIOError:
            pass
        answered = served_first.count(b"HTTP/1.1 200")
        print(f"{answered} of {PIPELINED} pipelined requests were answered before the other's")
        assert answered < PIPELINED // 2
    finally:
        for sock in (busy, other):
            sock.close()
        server.kill()
        listener.close()


def test_the_turn_keeps_pipelined_answers_in_order():
    backend = concurrency.active()
    app = Brubeck(log_level="WARNING", request_ids=False)
    app.add_route_rule(r"^/n/(\d+)$", lambda application, message, n: n.encode(), method="GET")
    listener = listen_on_free_port()
    server = backend.spawn(backend.serve_wsgi, app, sock=listener)
    try:
        with rawhttp.connect(listener.getsockname()[1], timeout=10) as sock:
            sock.sendall(b"".join(rawhttp.get(f"/n/{i}") for i in range(19))
                         + rawhttp.get("/n/19", b"Connection: close\r\n"))
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        bodies = [reply.split(b"\r\n\r\n", 1)[1] for reply in data.split(b"HTTP/1.1 ")[1:]]
        assert bodies == [str(i).encode() for i in range(20)]
    finally:
        server.kill()
        listener.close()




QUEUED = 8


def waiting_count(listener) -> int:
    """Connections in `listener`'s accept queue: Linux's TCP_INFO gives it as `unacked`
    for a listening socket (the 32-bit field after eight bytes and four other fields)."""
    info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return struct.unpack_from("I", info, 24)[0]


def supervisors_socket(monkeypatch):
    """A listening socket as a worker adopts its supervisor's (`BRUBECK_LISTEN_FD`)."""
    plain = listen_on_free_port()
    monkeypatch.setenv(process.LISTEN_FD_ENV, str(plain.detach()))
    return concurrency.active().listen("127.0.0.1", 0)


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "alone"])
def test_a_wake_up_takes_half_the_waiting_connections_when_other_workers_share_the_socket(
        shared, monkeypatch):
    """Workers share the supervisor's listening socket. Each took every waiting connection
    per wake-up, so the first awake took a whole burst of connects (wrk's 100 keep-alive
    connections all went to one of two workers in half the runs); one per wake-up made
    the last of 500 connects wait seconds behind busy connections. On a shared socket
    a wake-up takes half of those waiting: 8 queued are taken as 4, 2, 1 and 1, and each
    request runs before the next wake-up. A socket of its own is still emptied at once
    (nobody else will take them)."""
    backend = concurrency.active()
    listener = supervisors_socket(monkeypatch) if shared else listen_on_free_port()
    assert process.is_shared(listener) is shared
    app = Brubeck(log_level="WARNING", request_ids=False)
    app.add_route_rule(r"^/waiting$", lambda application, message: str(waiting_count(listener)),
                       method="GET")
    port = listener.getsockname()[1]
    clients = [rawhttp.connect(port, timeout=10) for _ in range(QUEUED)]
    for client in clients:  # queued, each with its request in, before the server starts
        client.sendall(rawhttp.get("/waiting"))
    server = backend.spawn(backend.serve_wsgi, app, sock=listener)
    try:
        seen = sorted(int(rawhttp.read_reply(client).body) for client in clients)
        expected = [0, 1, 2, 2, 4, 4, 4, 4] if shared else [0] * QUEUED
        assert seen == expected, f"still queued as each request ran: {seen}"
    finally:
        for client in clients:
            client.close()
        server.kill()
        listener.close()


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "alone"])
def test_wsgi_multiprocess_says_whether_other_workers_share_the_socket(shared, monkeypatch):
    """PEP 3333: `wsgi.multiprocess` is true when another process may call the same app;
    `--workers N` makes N processes on the supervisor's socket."""
    backend = concurrency.active()
    listener = supervisors_socket(monkeypatch) if shared else listen_on_free_port()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [repr(environ["wsgi.multiprocess"]).encode()]

    server = backend.spawn(backend.serve_wsgi, app, sock=listener)
    try:
        with rawhttp.connect(listener.getsockname()[1], timeout=10) as client:
            client.sendall(rawhttp.get("/"))
            assert rawhttp.read_reply(client).body == repr(shared).encode()
    finally:
        server.kill()
        listener.close()
