"""Hostile tests run against real servers of the active backend, on loopback only.

`port` is a shared session server (tests/conftest.py) serving the hostile app
with default limits, once over WSGI and once behind Mongrel2; `tight_port` is a second
server whose timeouts are short enough to watch them fire.
"""

import logging
import socket

import pytest

from brubeck import concurrency
from brubeck.limits import Limits
from tests.hostile import rawhttp
from tests.hostile.app import build_hostile_app

TIGHT = Limits(header_timeout=1.0, read_timeout=1.5)


@pytest.fixture(scope="session")
def hostile_app():
    return build_hostile_app()


@pytest.fixture(autouse=True)
def _quiet_refusals(caplog):
    """Refusals log at INFO; hundreds of them would drown a failure's output."""
    caplog.set_level(logging.WARNING, logger="brubeck")


SERVERS = ["wsgi", "mongrel2"]


@pytest.fixture(params=SERVERS)
def server(request):
    """Which front the raw bytes hit: the backend's WSGI server, or the real Mongrel2
    in front of an in-process worker (tests/conftest.py `live_mongrel2`)."""
    return request.param


@pytest.fixture
def port(server, request, hostile_app):
    live = request.getfixturevalue("live_mongrel2" if server == "mongrel2" else "live_wsgi_server")
    live.app = hostile_app
    return int(live.url.rsplit(":", 1)[1])


@pytest.fixture(scope="session")
def tight_port(hostile_app):
    backend = concurrency.active()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((rawhttp.HOST, 0))
    sock.listen(1024)
    server = backend.spawn(backend.serve_wsgi, hostile_app, sock=sock, limits=TIGHT)
    backend.sleep(0.01)
    yield sock.getsockname()[1]
    server.kill()
    sock.close()


def assert_still_serving(port):
    """A well-behaved request right after a hostile one gets its normal answer."""
    reply = rawhttp.exchange(port, rawhttp.get("/brubeck"))
    assert (reply.status, reply.body) == (200, b"Take five")
