"""Test setup: install the concurrency backend first, then offer every transport.

The backend comes from BRUBECK_CONCURRENCY (else the first installed), and is
installed here, before any test module imports networking code. `.ci/run`
runs the whole suite once per backend, each in its own process.

`make_client(app)` is parametrized over the transports, so one test body
checks the same behaviour in process and through a real server.
"""

import contextlib
import os

# Hypothesis plugins of unrelated installed packages (trio) break on green sockets.
os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")
# scrypt at the production cost (n=2**17, ~0.6 s and 128 MiB a hash) would make the
# suite crawl; tests hash at a low cost (inherited by the app processes they start).
# test_security_14_default_scrypt_cost_is_owasp_minimum checks the real default.
os.environ.setdefault("BRUBECK_SCRYPT_N", "1024")

from brubeck import concurrency

BACKEND = concurrency.select()

import socket  # noqa: E402  (after monkey patching, on purpose)

import pytest  # noqa: E402

from brubeck.testing import LiveClient, LiveWebSocket, TestClient  # noqa: E402

TRANSPORTS = ["inprocess", "wsgi", "mongrel2"]

#: The live clients and WebSockets the running test opened (see `_close_what_was_left_open`).
_OPENED: list = []


def _tracked(cls):
    init = cls.__init__

    def tracked_init(self, *args, **kwargs):
        _OPENED.append(self)
        init(self, *args, **kwargs)

    cls.__init__ = tracked_init


_tracked(LiveClient)
_tracked(LiveWebSocket)


@pytest.fixture(autouse=True)
def _close_what_was_left_open():
    """Close the connections of every LiveClient and LiveWebSocket the test left open.

    filterwarnings = error: a socket left to the garbage collector fails whichever later
    test the collector happens to run in (a ResourceWarning), not the one that left it.
    The socket alone is closed (no WebSocket closing handshake to wait for).
    """
    yield
    while _OPENED:
        opened = _OPENED.pop()
        with contextlib.suppress(Exception):
            if isinstance(opened, LiveWebSocket):
                opened.sock.close()
            else:
                opened.close()


def pytest_report_header(config):
    return f"brubeck concurrency backend: {BACKEND.name}"


class SwitchableApp:
    """One live server per session; each test points it at its own app."""

    def __init__(self):
        self.app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


def listen_on_free_port(host="127.0.0.1"):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(1024)
    return sock


@pytest.fixture(scope="session")
def live_wsgi_server():
    """A real backend WSGI server (gevent.pywsgi or eventlet.wsgi) on a free loopback port."""
    target = SwitchableApp()
    sock = listen_on_free_port()
    port = sock.getsockname()[1]
    server = BACKEND.spawn(BACKEND.serve_wsgi, target, sock=sock)
    BACKEND.sleep(0.01)
    target.url = f"http://127.0.0.1:{port}"
    yield target
    server.kill()
    sock.close()


@pytest.fixture(scope="session")
def live_mongrel2(tmp_path_factory):
    """The real mongrel2 on free loopback ports, with an in-process Mongrel2Connection
    (same process, so caplog and class state work as over WSGI) serving a switchable app."""
    from brubeck.connections.mongrel2 import Mongrel2Connection
    from tests.suite.app import build_app
    from tests.support.mongrel2 import Mongrel2Target, mongrel2_server, wait_until_replies_arrive

    with mongrel2_server(tmp_path_factory.mktemp("m2")) as m2:
        config = m2.config
        target = Mongrel2Target(build_app())
        conn = Mongrel2Connection(config.pull_addr, config.pub_addr,
                                  upload_store=config.upload_store, chroot=str(config.chroot),
                                  drain_timeout=5, handle_signals=False)
        worker = BACKEND.spawn(conn.run, target)
        wait_until_replies_arrive(m2.url)
        target.url = m2.url
        target.server = m2
        yield target
        conn.shutdown()
        worker.wait() if hasattr(worker, "wait") else worker.join(10)


@pytest.fixture(params=TRANSPORTS)
def transport(request):
    return request.param


@pytest.fixture
def make_client(transport, request):
    """`make_client(app)` -> a client that reaches `app` through `transport`."""
    clients = []

    def make(app):
        if transport == "inprocess":
            return TestClient(app)
        fixture = "live_mongrel2" if transport == "mongrel2" else "live_wsgi_server"
        server = request.getfixturevalue(fixture)
        server.app = app
        client = LiveClient(server.url)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# -- conformance table: backend x transport x test group --------------------------------

_TRANSPORT_OF = {}
_CONFORMANCE = {}


def pytest_collection_modifyitems(items):
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "transport" in callspec.params:
            _TRANSPORT_OF[item.nodeid] = (callspec.params["transport"],
                                          item.nodeid.split("::")[0])


def pytest_runtest_logreport(report):
    key = _TRANSPORT_OF.get(report.nodeid)
    if key is None or (report.when != "call" and report.passed):
        return
    counts = _CONFORMANCE.setdefault(key, {"passed": 0, "failed": 0, "skipped": 0})
    counts[report.outcome] += 1


def pytest_terminal_summary(terminalreporter):
    """Print which transports pass which shared test groups, on this backend."""
    if not _CONFORMANCE:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"conformance ({BACKEND.name})")
    write(f"{'combination':<22} {'test group':<44} passed failed skipped")
    for (transport, group), c in sorted(_CONFORMANCE.items()):
        write(f"{BACKEND.name + ' x ' + transport:<22} {group:<44} "
              f"{c['passed']:>6} {c['failed']:>6} {c['skipped']:>7}")
