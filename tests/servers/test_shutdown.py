"""One shutdown story (issue #16 item 5): SIGINT (Ctrl-C to the process group) and SIGTERM
both drain in-flight requests, log "going down" and what was drained, and exit 0 with no
traceback, on both backends and both transports (a real server process; a real mongrel2).

WSGI: the listener closes at once, idle keep-alive connections close at once, and a
request still running after `shutdown_timeout` is answered 503 with Retry-After.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ROOT, free_port, python_env, stop

APP = Path(__file__).parent / "shutdown_app.py"
BACKENDS = ["gevent", "eventlet"]
SIGNALS = [signal.SIGINT, signal.SIGTERM]


class Server:
    def __init__(self, proc: subprocess.Popen, output: Path, host: str, port: int) -> None:
        self.proc, self.output, self.host, self.port = proc, output, host, port

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def get(self, path: str, timeout: float = 30.0) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            reply = conn.getresponse()
            return reply.status, dict(reply.getheaders()), reply.read().decode()
        finally:
            conn.close()

    def signal_group(self, signum: int) -> None:
        """Ctrl-C in a terminal signals the whole process group; so does this."""
        os.killpg(self.proc.pid, signum)

    def exit_status(self, timeout: float) -> int:
        return self.proc.wait(timeout)


def wait_serving(server: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(f"exited {server.proc.returncode}:\n{server.log()}")
        try:
            if server.get("/pid", timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"not serving after {timeout}s:\n{server.log()}")


@contextlib.contextmanager
def app_process(backend: str, connection: str, host: str, port: int,
                shutdown_timeout: float = 30.0) -> Iterator[Server]:
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "out.log"
        with output.open("wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, str(APP)], cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
                start_new_session=True,
                env=python_env(BRUBECK_CONCURRENCY=backend, BRUBECK_CONNECTION=connection,
                               TEST_SHUTDOWN_TIMEOUT=str(shutdown_timeout)))
        server = Server(proc, output, host, port)
        try:
            wait_serving(server)
            yield server
        except BaseException:
            print(server.log()[-4000:])
            raise
        finally:
            stop(proc)


@contextlib.contextmanager
def wsgi_server(backend: str, shutdown_timeout: float = 30.0) -> Iterator[Server]:
    port = free_port()
    with app_process(backend, f"wsgi://127.0.0.1:{port}", "127.0.0.1", port,
                     shutdown_timeout) as server:
        yield server


@contextlib.contextmanager
def mongrel2_app(backend: str, chroot: Path, shutdown_timeout: float = 30.0) -> Iterator[Server]:
    from tests.support.mongrel2 import mongrel2_server

    with mongrel2_server(chroot) as m2, \
            app_process(backend, m2.connection_url, "127.0.0.1", m2.config.port,
                         shutdown_timeout) as server:
        yield server


@pytest.fixture(params=["wsgi", "mongrel2"])
def transport_server(request, tmp_path):
    """`start(backend)` -> a context manager serving shutdown_app over the transport."""
    if request.param == "wsgi":
        return wsgi_server
    return lambda backend, shutdown_timeout=30.0: mongrel2_app(backend, tmp_path / "m2",
                                                                shutdown_timeout)


def in_background(fn, *args):
    """Run `fn(*args)` in a thread; the returned function joins it and gives its result."""
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["value"] = fn(*args)
        except BaseException as error:  # handed to the test
            result["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def join(timeout: float = 30.0):
        thread.join(timeout)
        assert not thread.is_alive(), "the request never finished"
        if "error" in result:
            raise result["error"]  # type: ignore[misc]
        return result["value"]

    return join


def assert_clean_exit(server: Server, timeout: float) -> str:
    status = server.exit_status(timeout)
    log = server.log()
    assert status == 0, log
    assert "Traceback" not in log, log
    assert "going down" in log, log
    return log


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("backend", BACKENDS)
def test_shutdown_5_signal_drains_in_flight_request_and_exits_0(backend, signum,
                                                                 transport_server):
    with transport_server(backend) as server:
        slow = in_background(server.get, "/slow/1500")
        time.sleep(0.5)  # the request has reached its handler
        server.signal_group(signum)
        status, _, body = slow()
        assert status == 200 and body.startswith("slept 1500 ms"), body
        log = assert_clean_exit(server, 20)
    assert signal.Signals(signum).name in log or "SIGINT" in log
    assert "1 request(s) in flight" in log and "drained 1 request(s)" in log, log


@pytest.mark.parametrize("backend", BACKENDS)
def test_shutdown_5_wsgi_stops_accepting_and_logs_what_was_drained(backend):
    with wsgi_server(backend) as server:
        slow = in_background(server.get, "/slow/1500")
        time.sleep(0.5)
        server.signal_group(signal.SIGTERM)
        time.sleep(0.5)  # noticed within Shutdown.poll (0.1 s)
        with pytest.raises(OSError):  # nothing listens any more
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
        status, headers, _ = slow()
        assert status == 200 and headers.get("Connection") == "close"
        log = assert_clean_exit(server, 20)
    assert "1 request(s) in flight" in log and "drained 1 request(s)" in log, log


@pytest.mark.parametrize("backend", BACKENDS)
def test_shutdown_5_straggler_answered_503_after_shutdown_timeout(backend, transport_server):
    """Behind Mongrel2 too: the app's `shutdown_timeout` bounds the drain, the straggler
    gets the WSGI servers' 503, and the log its line."""
    with transport_server(backend, shutdown_timeout=1.0) as server:
        slow = in_background(server.get, "/slow/20000")
        time.sleep(0.5)
        started = time.monotonic()
        server.signal_group(signal.SIGTERM)
        status, headers, _ = slow()
        answered = time.monotonic() - started
        assert status == 503 and headers.get("Retry-After") == "1"
        assert answered < 1.0 + 5  # the timeout, with slack for a loaded machine
        log = assert_clean_exit(server, 10)
    assert "1 still running answered 503" in log, log


@pytest.mark.parametrize("backend", BACKENDS)
def test_shutdown_5_wsgi_idle_keepalive_connection_does_not_hold_the_exit(backend):
    with wsgi_server(backend) as server:
        idle = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        idle.request("GET", "/pid")
        assert idle.getresponse().read()  # kept alive, now idle
        started = time.monotonic()
        server.signal_group(signal.SIGTERM)
        assert_clean_exit(server, 10)
        assert time.monotonic() - started < 5  # not the 30 s shutdown_timeout
        idle.close()


def test_shutdown_5_drain_timeout_is_a_deprecated_alias(caplog):
    from brubeck.request_handling import Brubeck

    with caplog.at_level("WARNING", logger="brubeck"):
        app = Brubeck(drain_timeout=2.5)
    assert app.shutdown_timeout == 2.5
    assert "'drain_timeout' is deprecated: use 'shutdown_timeout'" in caplog.text
    assert Brubeck(shutdown_timeout=4).shutdown_timeout == 4
    assert Brubeck().shutdown_timeout == 30
