"""One busy keep-alive connection cannot hold the server while others wait.

A connection whose next request is already in when its response is sent used
to be served again at once, without a turn for the rest: at 500 connections
some got ten times the service of others, and the p99 latency stretched to
seconds. Pipelined requests make that case certain: every one of them is
waiting in the socket. A request on a second connection must be answered
after a few of them, not after all.
"""


from brubeck import concurrency
from brubeck.app import Brubeck
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
