"""A bulk write killed with SIGKILL mid-transaction leaves SQLite whole: all of the batch or none.

The app (tests/hostile/bulk_app.py) runs in its own process behind WSGI or the
real Mongrel2. A test-only hook holds its bulk INSERT transaction open at a
chosen row and writes a mark; the test SIGKILLs the process as soon as the
mark appears, reopens the database, and finds the batch absent, the earlier
data intact and `PRAGMA integrity_check` ok. A fresh process then writes the
same batch whole.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile import rawhttp
from tests.support.mongrel2 import mongrel2_server
from tests.support.processes import ROOT, free_port, python_env, stop

APP = ROOT / "tests" / "hostile" / "bulk_app.py"
BATCH = 5000
HOLDS = {"second row": 2, "half the rows": BATCH // 2, "last row": BATCH}


@contextlib.contextmanager
def front(kind: str, tmp_path: Path) -> Iterator[tuple[int, str]]:
    """(HTTP port, BRUBECK_CONNECTION) for the app behind WSGI or a real Mongrel2."""
    if kind == "wsgi":
        port = free_port()
        yield port, f"wsgi://127.0.0.1:{port}"
        return
    with mongrel2_server(tmp_path / "m2") as m2:
        yield m2.config.port, m2.connection_url


@contextlib.contextmanager
def app_process(connection: str, db: Path, **env: str) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen([sys.executable, str(APP)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            env=python_env(BRUBECK_CONNECTION=connection, BULK_DB=str(db), **env))
    try:
        yield proc
    finally:
        stop(proc)


def raw_request(method: str, body: object = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else b""
    return (f"{method} /items/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


def request(port: int, method: str, body: object = None, timeout: float = 10.0):
    return rawhttp.exchange(port, raw_request(method, body), timeout=timeout)


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the app exited with {proc.returncode}"
        try:
            if request(port, "GET", timeout=1.0).status == 200:
                return
        except (OSError, rawhttp.NoReply):
            time.sleep(0.05)
    raise TimeoutError("the bulk app did not answer")


def items(count: int, tag: str) -> list[dict]:
    return [{"text": f"{tag} {i}"} for i in range(count)]


def rows_and_integrity(db: Path) -> tuple[int, str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        count = conn.execute("SELECT count(*) FROM items").fetchone()[0]
        return count, conn.execute("PRAGMA integrity_check").fetchone()[0]


@pytest.mark.parametrize("hold", HOLDS.values(), ids=HOLDS.keys())
@pytest.mark.parametrize("kind", ["wsgi", "mongrel2"])
def test_sigkill_mid_bulk_write_leaves_all_or_nothing(tmp_path, kind, hold):
    db, mark = tmp_path / "bulk.db", tmp_path / "held"
    with front(kind, tmp_path) as (port, connection):
        with app_process(connection, db, BULK_HOLD_AT=str(hold), BULK_MARK=str(mark)) as proc:
            wait_ready(port, proc)
            assert request(port, "POST", {"text": "before"}).status == 201  # one INSERT
            with rawhttp.connect(port, timeout=30) as sock:
                sock.sendall(raw_request("POST", items(BATCH, "batch")))
                deadline = time.monotonic() + 30
                # The app creates the file, then writes it: wait for the text itself.
                while time.monotonic() < deadline and not (mark.exists() and mark.read_text()):
                    time.sleep(0.005)
                assert mark.read_text() == str(hold), "the write never reached the hold"
                proc.send_signal(signal.SIGKILL)
                assert proc.wait(10) == -signal.SIGKILL
        count, integrity = rows_and_integrity(db)
        print(f"\n{kind}: SIGKILL at INSERT {hold} of {BATCH}: {count} row(s) after, "
              f"integrity {integrity}")
        assert (count, integrity) == (1, "ok")  # the earlier item, none of the batch

        with app_process(connection, db) as proc:  # the same batch, uninterrupted
            wait_ready(port, proc)
            assert len(json.loads(request(port, "GET").body)["data"]) == 1
            assert request(port, "POST", items(BATCH, "batch"), timeout=60).status == 201
        assert rows_and_integrity(db) == (BATCH + 1, "ok")

