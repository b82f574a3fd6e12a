"""gevent's and eventlet's servers, each in its own process, give the same answers to the
same chunked bodies (issue #13, item 3): one decoder now frames both.

Each body is a valid chunked encoding or a near miss of one (a byte inserted or cut
where a lenient decoder would look past it), followed by a pipelined GET: if the
servers disagreed about where a body ends, the second answer would differ too.
"""

import contextlib
import random
import socket

import pytest

from tests.hostile import rawhttp
from tests.support.processes import free_port, python_env, running

BODIES = 200
SEED = 13  # fixed: a failure names the body, and reruns send the same bytes
HEAD = b"POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
NEXT = b"GET /brubeck HTTP/1.1\r\nHost: x\r\n\r\n"
NEAR_MISSES = [b"\n", b"\r", b"\r\n", b" ", b"\t", b";", b";a", b"=", b"0x", b"+", b"-", b"_",
               b"\0", b"G", b"\xff", b'"', b"\\", b":", b"0", b"5", b"f", b"X-A: 1\r\n"]
EXTENSIONS = [b"", b"", b";a", b";a=1", b' ; q="x y"', b";" + b"e" * 5000]


def chunked_body(rng):
    out = bytearray()
    for _ in range(rng.randrange(4)):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 30)))
        size = rng.choice(["%x", "%X", "%04x"]) % len(data)
        out += size.encode() + rng.choice(EXTENSIONS) + b"\r\n" + data + b"\r\n"
    out += b"0" + rng.choice(EXTENSIONS) + b"\r\n"
    out += rng.choice([b"", b"", b"X-Trailer: 1\r\n"]) + b"\r\n"
    return bytes(out)


def generated():
    rng = random.Random(SEED)
    bodies = []
    for i in range(BODIES):
        body = chunked_body(rng)
        if i % 4:  # three in four are near misses
            at = rng.randrange(len(body) + 1)
            body = body[:at] + rng.choice(NEAR_MISSES) + body[at + rng.randrange(3):]
        bodies.append(body)
    return bodies


def answers(port, body):
    """[(status, body), ...] for the chunked request and the pipelined GET after it."""
    with rawhttp.connect(port, timeout=10) as sock:
        rawhttp.send_all_tolerant(sock, HEAD + body + NEXT)
        with contextlib.suppress(OSError):  # an incomplete body ends here, not at a timeout
            sock.shutdown(socket.SHUT_WR)
        data = bytearray()
        try:
            while chunk := sock.recv(65536):  # the server closes once it sees our EOF
                data += chunk
        except ConnectionResetError:
            pass
    return split_replies(bytes(data))


def split_replies(data):
    """Status and body of each response in `data` (our servers always send a length)."""
    replies = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next(int(line.split(":", 1)[1]) for line in lines[1:]
                      if line.lower().startswith("content-length:"))
        replies.append((int(lines[0].split(" ", 2)[1]), rest[:length]))
        data = rest[length:]
    return replies


@pytest.fixture(scope="module")
def server_ports():
    ports = {}
    with running_server("gevent", ports), running_server("eventlet", ports):
        yield ports


def running_server(backend, ports):
    port = free_port()
    ports[backend] = port
    env = python_env(BRUBECK_CONCURRENCY=backend)
    return running(["tests/hostile/serve_hostile.py", str(port)],
                   f"http://127.0.0.1:{port}/brubeck", env=env)


def test_security_3_both_servers_answer_generated_chunked_bodies_alike(server_ports):
    differences, statuses = [], {}
    for i, body in enumerate(generated()):
        ours = {backend: answers(port, body) for backend, port in server_ports.items()}
        if ours["gevent"] != ours["eventlet"]:
            differences.append((i, body[:120], ours))
        first = ours["gevent"][0][0] if ours["gevent"] else None
        statuses[first] = statuses.get(first, 0) + 1
    print(f"{BODIES} chunked bodies, first statuses on both servers: {statuses}")
    assert not differences, differences[:5]
    assert statuses.get(200, 0) >= BODIES // 5 and statuses.get(400, 0) >= BODIES // 5


def test_security_3_a_valid_body_and_the_request_after_it_are_read_alike(server_ports):
    body = b"5;a=1\r\nhello\r\n3\r\n, w\r\n0\r\nX-T: 1\r\n\r\n"
    for port in server_ports.values():
        assert answers(port, body) == [(200, b"hello, w"), (200, b"Take five")]
