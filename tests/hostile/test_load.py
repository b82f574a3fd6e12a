"""500 well-behaved connections at once while every hostile case runs: none of them fails.

Once over WSGI and once through the real Mongrel2 (the `server` fixture).
"""

import time
from collections import Counter

from brubeck import concurrency
from tests.hostile import rawhttp
from tests.hostile.cases import cases_for, expected

CONNECTIONS = 500
REQUESTS_PER_CONNECTION = 4
HOSTILE_ROUNDS = 2
DEADLINE = 120.0  # seconds; the whole run is bounded


def well_behaved(port, outcomes, connected, go):
    """Keep-alive client: connect, wait until all are connected, then a few requests."""
    try:
        with rawhttp.connect(port, timeout=30) as sock:
            connected.append(sock)
            go.wait(DEADLINE)
            for _ in range(REQUESTS_PER_CONNECTION):
                sock.sendall(rawhttp.get("/brubeck"))
                reply = rawhttp.read_reply(sock)
                outcomes["ok" if (reply.status, reply.body) == (200, b"Take five")
                         else f"status {reply.status}"] += 1
    except Exception as error:  # counted, not raised: the test reports them all
        outcomes[type(error).__name__] += 1


def hostile(port, server, outcomes):
    for _ in range(HOSTILE_ROUNDS):
        for case in cases_for(server):
            want = expected(case, server).status
            try:
                with rawhttp.connect(port, timeout=30) as sock:
                    try:
                        status = rawhttp.send_while_reading(sock, case.request,
                                                            case.shutdown).status
                    except rawhttp.NoReply:
                        status = None  # expected for some cases behind Mongrel2
                outcomes["as expected" if status == want else f"{case.name}: {status}"] += 1
            except Exception as error:
                outcomes[f"{case.name}: {type(error).__name__}"] += 1


def test_500_connections_while_hostile_cases_run(server, port):
    backend = concurrency.active()
    good, bad = Counter(), Counter()
    connected, go = [], backend.Event()
    pool = backend.Pool(CONNECTIONS + 4)
    start = time.monotonic()
    for _ in range(CONNECTIONS):
        pool.spawn(well_behaved, port, good, connected, go)
    while len(connected) < CONNECTIONS and time.monotonic() - start < 30:
        backend.sleep(0.05)
    assert len(connected) == CONNECTIONS  # all 500 open at once before any request
    for _ in range(2):
        pool.spawn(hostile, port, server, bad)
    go.set()
    assert pool.join(timeout=DEADLINE), "load run did not finish in time"
    elapsed = time.monotonic() - start
    print(f"{server}: {CONNECTIONS} connections x {REQUESTS_PER_CONNECTION} requests "
          f"in {elapsed:.1f} s: {dict(good)}; hostile: {dict(bad)}")
    assert good == Counter(ok=CONNECTIONS * REQUESTS_PER_CONNECTION)
    assert bad == Counter({"as expected": 2 * HOSTILE_ROUNDS * len(cases_for(server))})
