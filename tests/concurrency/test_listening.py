"""How each backend's WSGI server listens: a deep backlog, and never a shared port."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from brubeck.limits import LISTEN_BACKLOG
from tests.support.processes import free_port, python_env, running

SERVE = (
    "import sys; from brubeck import concurrency; backend = concurrency.select(); "
    "backend.install(); "
    "backend.serve_wsgi(lambda e, s: s('200 OK', []) and [], '127.0.0.1', int(sys.argv[1]))"
)


@pytest.mark.parametrize("backend", ["gevent", "eventlet"])
def test_a_taken_port_fails_instead_of_being_shared(backend):
    """eventlet.listen sets SO_REUSEPORT by default, so a second server on a taken
    port would start and split the connections with the first."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen(8)
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, "-c", SERVE, str(port)], capture_output=True,
                              text=True, timeout=30,
                              env=python_env(BRUBECK_CONCURRENCY=backend))
    assert proc.returncode != 0
    assert "Address already in use" in proc.stderr


@pytest.mark.parametrize("backend", ["gevent", "eventlet"])
def test_the_backlog_holds_a_burst_of_connects(backend):
    """500 simultaneous connects fit the listen queue (eventlet's default of 50 did
    not: the overflow waited for SYN retries at 1 s and 3 s). For a listening
    socket, `ss` shows the backlog in its Send-Q column."""
    port = free_port()
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    with running([sys.executable, "-c", SERVE, str(port)], url=f"http://127.0.0.1:{port}/",
                 env=python_env(BRUBECK_CONCURRENCY=backend)):
        line = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True,
                              text=True, check=True).stdout.split()
    assert int(line[2]) == min(LISTEN_BACKLOG, somaxconn) >= 500
