"""A response leaves whole however the client reads it.

Brubeck's servers write a response with one plain send and finish with the
library's `sendall` only when the socket's buffers are full: both halves are
taken here, by a client that reads nothing until the server has had to wait.
"""

import hashlib

from brubeck import concurrency
from brubeck.app import Brubeck
from tests.conftest import listen_on_free_port
from tests.hostile import rawhttp

BIG = hashlib.sha256(b"brubeck").digest() * (8 * 1024 * 1024 // 32)  # 8 MiB, no repeats of 1


def test_a_response_larger_than_the_socket_buffers_arrives_whole_and_the_next_one_too():
    backend = concurrency.active()
    app = Brubeck(log_level="WARNING", request_ids=False)
    app.add_route_rule(r"^/big$", lambda application, message: BIG, method="GET")
    app.add_route_rule(r"^/small$", lambda application, message: b"after", method="GET")
    listener = listen_on_free_port()
    server = backend.spawn(backend.serve_wsgi, app, sock=listener)
    try:
        with rawhttp.connect(listener.getsockname()[1], timeout=10) as sock:
            sock.sendall(rawhttp.get("/big"))
            backend.sleep(0.3)  # the server fills the buffers and waits to write the rest
            big = rawhttp.read_reply(sock)
            assert big.status == 200 and big.header("content-length") == str(len(BIG))
            assert big.body == BIG
            sock.sendall(rawhttp.get("/small"))  # the connection is still in step
            small = rawhttp.read_reply(sock)
            assert (small.status, small.body) == (200, b"after")
    finally:
        server.kill()
        listener.close()
