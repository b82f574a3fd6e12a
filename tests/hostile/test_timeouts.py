"""Slow and idle clients: timeouts fire, and slowloris never starves a well-behaved client."""

import statistics
import time

import pytest

from brubeck import concurrency
from tests.hostile import rawhttp
from tests.hostile.conftest import TIGHT, assert_still_serving

SLOW_CLIENTS = 200


def trickle(sock, data, interval, stop_after):
    """Send `data` one byte per `interval` seconds until done, refused, or `stop_after`."""
    deadline = time.monotonic() + stop_after
    try:
        for byte in data:
            if time.monotonic() > deadline:
                return
            sock.sendall(bytes([byte]))
            time.sleep(interval)
    except OSError:
        return  # the server gave up on us: that is the point


def slow_head():
    return rawhttp.get("/brubeck", b"".join(b"X-Slow-%d: %d\r\n" % (i, i) for i in range(50)))


def slow_clients(port, interval, stop_after, timeout=10.0):
    """SLOW_CLIENTS connections trickling `slow_head()`, each with its first byte sent as
    it connects: the head timer runs from accept, and a connection still silent when it
    fires is closed without a 408, so senders started only after all 200 connects (over
    a second on a loaded machine) once lost the first clients their 408."""
    backend = concurrency.active()
    head = slow_head()
    socks, senders = [], []
    for _ in range(SLOW_CLIENTS):
        sock = rawhttp.connect(port, timeout=timeout)
        sock.sendall(head[:1])
        socks.append(sock)
        senders.append(backend.spawn(trickle, sock, head[1:], interval, stop_after))
    return socks, senders


def timed_get(port):
    start = time.perf_counter()
    reply = rawhttp.exchange(port, rawhttp.get("/brubeck"), timeout=10)
    assert (reply.status, reply.body) == (200, b"Take five")
    return time.perf_counter() - start


def test_slow_head_gets_408_after_header_timeout(tight_port):
    backend = concurrency.active()
    with rawhttp.connect(tight_port) as sock:
        start = time.monotonic()
        sender = backend.spawn(trickle, sock, slow_head(), 0.2, 10)
        reply = rawhttp.read_reply(sock)
        elapsed = time.monotonic() - start
        assert reply.status == 408
        assert TIGHT.header_timeout - 0.1 <= elapsed < TIGHT.header_timeout + 1.5
        assert rawhttp.closed_by_server(sock)
        sender.kill()
    assert_still_serving(tight_port)


def test_security_4_idle_connection_is_closed_quietly_after_header_timeout(tight_port):
    """The head timer runs from accept: a silent connection goes at `header_timeout`
    (it used to stay until `read_timeout`, holding a place in the server)."""
    with rawhttp.connect(tight_port) as sock:
        start = time.monotonic()
        sock.settimeout(TIGHT.read_timeout + 3)
        assert sock.recv(1024) == b""  # closed, and no 408 for a request never begun
        elapsed = time.monotonic() - start
        assert TIGHT.header_timeout - 0.1 <= elapsed < TIGHT.read_timeout - 0.1
    assert_still_serving(tight_port)


def test_idle_keep_alive_connection_is_closed_after_read_timeout(tight_port):
    with rawhttp.connect(tight_port) as sock:
        sock.sendall(rawhttp.get("/brubeck"))
        assert rawhttp.read_reply(sock).status == 200
        assert rawhttp.closed_by_server(sock, wait=TIGHT.read_timeout + 3)


def test_stalled_body_gets_408(tight_port):
    with rawhttp.connect(tight_port) as sock:
        sock.sendall(rawhttp.post("/echo", b"0123456789")[:-7])  # 3 of 10 body bytes
        reply = rawhttp.read_reply(sock)
        assert reply.status == 408
        assert rawhttp.closed_by_server(sock)
    assert_still_serving(tight_port)


def _slowloris(port, hold_seconds, measure):
    """Open SLOW_CLIENTS trickling connections, then run `measure()` while they hold."""
    socks, senders = slow_clients(port, 0.5, hold_seconds)
    try:
        time.sleep(0.5)  # every slow client is mid-head now
        return measure()
    finally:
        for sender in senders:
            sender.kill()
        for sock in socks:
            sock.close()


def test_slowloris_does_not_starve_a_normal_client(port):
    baseline = statistics.median(timed_get(port) for _ in range(20))
    during = _slowloris(port, 6, lambda: [timed_get(port) for _ in range(40)])
    bound = max(5 * baseline, 0.05)
    print(f"normal client latency: {baseline * 1000:.2f} ms alone, "
          f"{statistics.median(during) * 1000:.2f} ms median / {max(during) * 1000:.2f} ms max "
          f"under {SLOW_CLIENTS} slow clients (bound {bound * 1000:.1f} ms)")
    assert statistics.median(during) <= bound
    assert max(during) < 1.0


def test_slowloris_clients_are_cut_off_by_the_header_timeout(tight_port):
    """On a server with a 1 s head timeout, all slow clients are answered 408 and dropped."""
    socks, senders = slow_clients(tight_port, 0.3, 30, timeout=TIGHT.header_timeout + 5)
    statuses = []
    try:
        for sock in socks:
            try:
                statuses.append(rawhttp.read_reply(sock).status)
            except (rawhttp.NoReply, ConnectionResetError):
                statuses.append(None)
        timed_get(tight_port)
    finally:
        for sender in senders:
            sender.kill()
        for sock in socks:
            sock.close()
    assert statuses.count(408) >= SLOW_CLIENTS * 0.95, statuses
    assert set(statuses) <= {408, None}


@pytest.mark.parametrize("stage", ["request line", "headers"])
def test_client_vanishing_mid_head_leaves_server_serving(port, stage):
    data = b"GET /brubeck HT" if stage == "request line" else b"GET / HTTP/1.1\r\nX-A: b"
    with rawhttp.connect(port) as sock:
        sock.sendall(data)
    assert_still_serving(port)
