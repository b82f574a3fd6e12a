"""Idle connections cannot lock out a normal client (issue #13, item 4).

Each server serves at most `limits.connections` connections at once; at the cap
it stops accepting and new connections wait in the listen backlog. The head
timer runs from accept, so a connection that sends nothing gives its place up
after `header_timeout`, and a client waiting behind a full server gets in.
The cap is lowered to 50 here so that the test stays cheap.
"""

import socket
import time

import pytest

from brubeck import concurrency
from tests.hostile import rawhttp
from tests.hostile.app import build_hostile_app

IDLE = dict(header_timeout=2.0, read_timeout=30.0, connections=50)


@pytest.fixture
def capped_port():
    from brubeck.limits import Limits

    backend = concurrency.active()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((rawhttp.HOST, 0))
    sock.listen(1024)  # the waiting clients queue here, not in SYN retries
    server = backend.spawn(backend.serve_wsgi, build_hostile_app(), sock=sock,
                           limits=Limits(**IDLE))
    backend.sleep(0.01)
    yield sock.getsockname()[1]
    server.kill()
    sock.close()


def open_idle(port, count):
    return [rawhttp.connect(port, timeout=30) for _ in range(count)]


def test_security_4_idle_connections_over_the_cap_delay_a_request_by_at_most_the_head_timeout(
        capped_port):
    idle = open_idle(capped_port, IDLE["connections"] + 10)
    try:
        time.sleep(0.2)  # every idle connection is accepted or queued by now
        start = time.monotonic()
        reply = rawhttp.exchange(capped_port, rawhttp.get("/brubeck"), timeout=10)
        elapsed = time.monotonic() - start
    finally:
        for sock in idle:
            sock.close()
    print(f"normal request behind {len(idle)} idle connections (cap {IDLE['connections']}, "
          f"head timeout {IDLE['header_timeout']:g} s): answered in {elapsed:.2f} s")
    assert (reply.status, reply.body) == (200, b"Take five")
    assert elapsed < 4.0


def test_security_4_the_cap_holds_new_connections_in_the_backlog(capped_port):
    """At the cap a new connection is not served until an idle one gives its place up."""
    idle = open_idle(capped_port, IDLE["connections"])
    try:
        time.sleep(0.2)
        with rawhttp.connect(capped_port) as sock:
            sock.sendall(rawhttp.get("/brubeck"))
            sock.settimeout(IDLE["header_timeout"] / 2)
            with pytest.raises(TimeoutError):
                sock.recv(1)  # waiting in the backlog: not served yet
            sock.settimeout(10)
            assert rawhttp.read_reply(sock).status == 200
    finally:
        for sock in idle:
            sock.close()


def test_security_4_a_silent_connection_is_closed_quietly_after_the_head_timeout(capped_port):
    with rawhttp.connect(capped_port) as sock:
        start = time.monotonic()
        sock.settimeout(IDLE["header_timeout"] + 5)
        assert sock.recv(1024) == b""  # closed, and no 408 for a request never begun
        elapsed = time.monotonic() - start
    assert IDLE["header_timeout"] - 0.1 <= elapsed < IDLE["header_timeout"] + 1.5


def test_security_4_connections_is_a_limit_key():
    from brubeck.limits import Limits

    assert Limits().connections == 1000
    assert Limits.from_config({"connections": 50}).connections == 50
    with pytest.raises(TypeError):
        Limits.from_config({"connections": 0})
