"""Where a WSGI worker listens (issue #16 item 4, issue #18 item 5), as real processes.

A parent opens one listening socket and starts two workers with it
(`BRUBECK_LISTEN_FD`) and a ready pipe each (`BRUBECK_READY_FD`), as the supervisor
does: both signal ready, both pids serve, both drain and exit 0. Alone, a server binds
before it says online, and a taken port is one line naming it and a non-zero exit.
"""

from __future__ import annotations

import http.client
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brubeck.concurrency import process
from tests.support.processes import ROOT, free_port, python_env, stop

APP = Path(__file__).parent / "shutdown_app.py"
BACKENDS = ["gevent", "eventlet"]


def start_worker(backend: str, listener: socket.socket, output: Path,
                 port: int) -> tuple[subprocess.Popen, int]:
    """A worker inheriting `listener`; returns it and the read end of its ready pipe."""
    read_end, write_end = os.pipe()
    with output.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, str(APP)], cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
            pass_fds=(listener.fileno(), write_end), start_new_session=True,
            env=python_env(BRUBECK_CONCURRENCY=backend,
                           BRUBECK_CONNECTION=f"wsgi://127.0.0.1:{port}",
                           BRUBECK_LISTEN_FD=str(listener.fileno()),
                           BRUBECK_READY_FD=str(write_end)))
    os.close(write_end)
    return proc, read_end


def read_ready(read_end: int, timeout: float = 30.0) -> bytes:
    ready, _, _ = select.select([read_end], [], [], timeout)
    assert ready, "no ready signal"
    return os.read(read_end, 16)


def pid_of_new_connection(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/pid", headers={"Connection": "close"})
        return int(conn.getresponse().read())
    finally:
        conn.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_scaleout_4_two_workers_serve_from_one_inherited_socket(backend, tmp_path):
    listener = process.bind("127.0.0.1", 0)  # what the supervisor opens once
    port = listener.getsockname()[1]
    workers = []
    try:
        for n in range(2):
            workers.append(start_worker(backend, listener, tmp_path / f"w{n}.log", port))
        for _, read_end in workers:
            assert read_ready(read_end) == process.READY
            assert os.read(read_end, 16) == b""  # written once, then closed
        pids = {proc.pid for proc, _ in workers}
        seen: set[int] = set()
        for _ in range(400):
            seen.add(pid_of_new_connection(port))
            if seen == pids:
                break
        assert seen == pids
        for proc, _ in workers:
            proc.send_signal(signal.SIGTERM)
        for n, (proc, _) in enumerate(workers):
            assert proc.wait(20) == 0
            log = (tmp_path / f"w{n}.log").read_text()
            assert "going down" in log and "Traceback" not in log, log
        # The parent's socket outlives its workers: a new worker could take over.
        assert listener.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    finally:
        for proc, read_end in workers:
            stop(proc)
            os.close(read_end)
        listener.close()


def test_scaleout_4_an_inherited_fd_that_is_not_listening_is_refused():
    with socket.socket() as unbound:
        os.environ[process.LISTEN_FD_ENV] = str(unbound.fileno())
        try:
            with pytest.raises(process.ListenError, match="not a listening TCP socket"):
                process.listen("127.0.0.1", 0)
        finally:
            os.environ.pop(process.LISTEN_FD_ENV, None)
    assert process.LISTEN_FD_ENV not in os.environ  # read once, never inherited further


@pytest.mark.parametrize("backend", BACKENDS)
def test_startup_5_taken_port_is_one_line_naming_it_and_fails(backend):
    """eventlet.listen would set SO_REUSEPORT and share the port; ours must not."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen(8)
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, str(APP)], cwd=ROOT, capture_output=True, text=True, timeout=60,
            env=python_env(BRUBECK_CONCURRENCY=backend,
                           BRUBECK_CONNECTION=f"wsgi://127.0.0.1:{port}"))
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Traceback" not in output and "online" not in output, output
    lines = [line for line in output.splitlines() if str(port) in line]
    assert lines == [f"brubeck: cannot listen on 127.0.0.1:{port}: Address already in use"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_startup_5_online_is_said_only_once_listening(backend, tmp_path):
    port = free_port()
    output = tmp_path / "out.log"
    with output.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, str(APP)], cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
            env=python_env(BRUBECK_CONCURRENCY=backend,
                           BRUBECK_CONNECTION=f"wsgi://127.0.0.1:{port}"))
    try:
        deadline = time.monotonic() + 30
        while "online" not in output.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, output.read_text()
            time.sleep(0.02)
        # Said online: the port is taken by now (connections queue in the backlog).
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        stop(proc)
