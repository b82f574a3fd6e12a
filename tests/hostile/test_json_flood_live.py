"""The largest refused JSON body does not hold up anyone else (security issue #13, item 1).

The app (tests/hostile/flood_app.py) runs in its own process on the active
backend, over WSGI or behind the real Mongrel2, so a worker stuck parsing
cannot also stall the test that watches it. Several clients POST 1 MiB bodies
(the json_body limit) shaped to make a JSON depth pre-scan work hard, to
/echo, which reads `message.json`; all the while a normal GET is sent again
and again. Every GET must be answered within BOUND seconds, at least five
times its normal time. Before the fix, the first such body held the worker
for hours.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from brubeck import concurrency
from tests.hostile import hostile_json, rawhttp
from tests.support.mongrel2 import mongrel2_server, wait_until_replies_arrive
from tests.support.processes import ROOT, free_port, python_env, running

APP = ROOT / "tests" / "hostile" / "flood_app.py"
BOUND = 1.0  # seconds a GET may take while the floods are refused
FLOODERS = 2
ROUNDS = 2  # each flooder sends every refused shape this many times
BODIES = [make(hostile_json.LIMIT) for make in hostile_json.REFUSED.values()]


@contextlib.contextmanager
def flood_app(kind: str, tmp_path: Path) -> Iterator[int]:
    """The app's HTTP port, served over WSGI or behind a real Mongrel2."""
    if kind == "wsgi":
        port = free_port()
        env = python_env(BRUBECK_CONNECTION=f"wsgi://127.0.0.1:{port}")
        with running([str(APP)], url=f"http://127.0.0.1:{port}/brubeck", env=env):
            yield port
        return
    with mongrel2_server(tmp_path / "m2") as m2, \
            running([str(APP)], env=python_env(BRUBECK_CONNECTION=m2.connection_url)):
        wait_until_replies_arrive(m2.url)
        yield m2.config.port


def timed_get(port: int) -> float:
    start = time.monotonic()
    try:
        reply = rawhttp.exchange(port, rawhttp.get("/brubeck"), timeout=10 * BOUND)
    except (OSError, rawhttp.NoReply) as error:
        pytest.fail(f"GET not answered within {10 * BOUND:g} s during the flood: {error!r}")
    assert (reply.status, reply.body) == (200, b"Take five")
    return time.monotonic() - start


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["wsgi", "mongrel2"])
def test_security_1_refused_json_flood_does_not_block_other_requests(kind, tmp_path):
    assert all(len(body) == hostile_json.LIMIT for body in BODIES)
    backend = concurrency.active()
    with flood_app(kind, tmp_path) as port:
        normal = statistics.median(timed_get(port) for _ in range(10))
        assert 5 * normal < BOUND, f"a normal GET takes {normal:.3f} s: no slack to measure"

        statuses: list[object] = []

        def flood() -> None:
            for _ in range(ROUNDS):
                for body in BODIES:
                    request = rawhttp.post("/echo", body, "application/json")
                    try:
                        statuses.append(rawhttp.exchange(port, request, timeout=60).status)
                    except (OSError, rawhttp.NoReply) as error:
                        statuses.append(error)

        flooders = [backend.spawn(flood) for _ in range(FLOODERS)]
        expected = FLOODERS * ROUNDS * len(BODIES)
        waits = []
        try:
            deadline = time.monotonic() + 120
            while len(statuses) < expected and time.monotonic() < deadline:
                waits.append(timed_get(port))
                backend.sleep(0.01)
        finally:
            for flooder in flooders:
                flooder.kill()

    print(f"{kind}: normal GET {normal * 1000:.1f} ms; during the flood "
          f"{len(waits)} GETs, median {statistics.median(waits) * 1000:.1f} ms, "
          f"max {max(waits) * 1000:.1f} ms")
    assert statuses == [400] * expected
    assert len(waits) >= 3, "the flood was over before a GET could be sent alongside it"
    assert max(waits) < BOUND, f"a GET waited {max(waits):.2f} s behind the refused bodies"
