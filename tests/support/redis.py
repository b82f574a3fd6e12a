"""A real redis-server for tests: a free loopback port, its files in a temp dir, stop by PID.

    from tests.support.redis import redis_url  # noqa: F401  (the session fixture)

Persistence is off (no RDB snapshots, no AOF) and `dir` is the temp folder,
so nothing is written outside it.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import free_port, stop

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server(directory: Path, timeout: float = 10.0) -> Iterator[str]:
    """Run redis-server until the block ends; yields its `redis://` URL."""
    if not Path(REDIS_SERVER).exists():
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    log = directory / "redis.log"
    proc = subprocess.Popen(
        [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory),
         "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + timeout
        while not _answers_ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                detail = log.read_text(errors="replace") if log.exists() else ""
                raise RuntimeError(f"redis-server did not start on port {port}:\n{detail}")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One redis-server for the session; tests share it, so flush what you use."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url
