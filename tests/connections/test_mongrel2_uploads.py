"""Spooled uploads behind the real mongrel2: refused or failed ones leave no temp file."""

import os
import time

import pytest

from brubeck.mongrel2 import Mongrel2Connection, wire
from tests.conftest import BACKEND
from tests.connections.test_mongrel2 import connect, make_app, read_response, serving
from tests.hostile.fake_mongrel2 import request_frame


def spool_files(m2):
    return sorted(p.name for p in (m2.config.chroot / "tmp").iterdir())


def wait_empty(m2, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not spool_files(m2):
            return []
        BACKEND.sleep(0.05)
    return spool_files(m2)


def send_whole(m2, length, chunk=1 << 20):
    """Send a full body of `length` bytes as fast as we can; return the status (or None)."""
    with connect(m2) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % length)
        block = b"x" * chunk
        sent = 0
        try:
            while sent < length:
                piece = block[:min(chunk, length - sent)]
                sock.sendall(piece)
                sent += len(piece)
        except OSError:
            pass  # refused mid-body: Mongrel2 closed on us
        try:
            return read_response(sock, "POST")[0]
        except (OSError, AssertionError):
            return None


def test_security_7_full_over_limit_bodies_leave_no_temp_file(tmp_path):
    """Eight 11 MB uploads over the 10 MiB limit, sent whole: each is refused and tmp/ ends
    empty (7 of 8 left their files before)."""
    with serving(tmp_path) as (m2, _):
        statuses = [send_whole(m2, 11 * 1000 * 1000) for _ in range(8)]
        assert set(statuses) <= {413, None} and 413 in statuses
        assert wait_empty(m2) == []


def test_security_7_one_big_upload_leaves_no_temp_file(tmp_path):
    with serving(tmp_path) as (m2, _):
        assert send_whole(m2, 50 * 1000 * 1000) in (413, None)
        assert wait_empty(m2) == []


def test_security_7_mongrel2_releases_the_refused_upload_file(tmp_path):
    """Unlinking at upload-start frees the name; Mongrel2's descriptor must go too once we
    close the connection, or a 50 MB body still holds its disk space."""
    with serving(tmp_path) as (m2, _):
        assert send_whole(m2, 50 * 1000 * 1000) in (413, None)
        assert wait_empty(m2) == []
        deadline = time.monotonic() + 10
        while open_uploads(m2.proc.pid) and time.monotonic() < deadline:
            BACKEND.sleep(0.05)
        assert open_uploads(m2.proc.pid) == []


def open_uploads(pid):
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if "mongrel2.upload" in target:
            found.append(target)
    return found


def test_security_7_client_stalling_mid_body_leaves_no_temp_file(tmp_path):
    """A refused upload whose client keeps the connection open, sending nothing more."""
    with serving(tmp_path) as (m2, _), connect(m2) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 20000000\r\n\r\n"
                     + b"x" * 100_000)
        assert read_response(sock, "POST")[0] == 413
        assert wait_empty(m2) == []


# -- without Mongrel2: every way a spooled upload can be refused removes its file ---------

class RecordingPub:
    def __init__(self):
        self.frames = []

    def send(self, frame):
        self.frames.append(frame)


def worker(tmp_path, **app_config):
    (tmp_path / "tmp").mkdir(exist_ok=True)
    conn = Mongrel2Connection("tcp://127.0.0.1:1", "tcp://127.0.0.1:2", handle_signals=False,
                              upload_store="/tmp/mongrel2.upload.XXXXXX", chroot=str(tmp_path))
    conn._pub = RecordingPub()
    conn._app = make_app(**app_config)
    conn._idle = BACKEND.Event()
    return conn


def spooled(tmp_path, name="AbC123", size=100):
    path = tmp_path / "tmp" / f"mongrel2.upload.{name}"
    path.write_bytes(b"x" * size)
    return f"/tmp/mongrel2.upload.{name}"


def upload_frame(conn_id, path, stage, length, **extra):
    headers = {"x-mongrel2-upload-start": path, "content-length": str(length)}
    if stage == "done":
        headers["x-mongrel2-upload-done"] = path
    headers.update(extra)
    return request_frame(conn_id, "/upload", "POST", **headers)


def serve(conn, frame):
    conn._running = 1
    conn._serve(wire.parse_message(frame))
    return [f.split(b", ", 1)[1][:12] for f in conn._pub.frames]


@pytest.mark.parametrize(("stage", "extra", "status"), [
    ("start", {}, b"HTTP/1.1 413"),  # over the body limit
    ("done", {}, b"HTTP/1.1 413"),
    ("start", {"transfer-encoding": "chunked"}, b"HTTP/1.1 400"),  # refused head
    ("done", {"x-many": ["1"] * 200}, b"HTTP/1.1 431"),
    ("done", {"x-mongrel2-upload-done": "/tmp/mongrel2.upload.Other1"}, b"HTTP/1.1 400"),
])
def test_security_7_every_refused_upload_message_removes_its_file(tmp_path, stage, extra,
                                                                   status):
    conn = worker(tmp_path, limits={"body": 50})
    path = spooled(tmp_path)
    replies = serve(conn, upload_frame("5", path, stage, 100, **extra))
    assert replies[0] == status
    assert list((tmp_path / "tmp").iterdir()) == []


def test_security_7_done_after_a_refused_start_is_dropped_quietly(tmp_path):
    conn = worker(tmp_path, limits={"body": 50})
    path = spooled(tmp_path)
    assert serve(conn, upload_frame("5", path, "start", 100))[0] == b"HTTP/1.1 413"
    conn._pub.frames.clear()
    assert serve(conn, upload_frame("5", path, "done", 100)) == []  # answered already


def test_security_7_short_upload_and_accepted_one_remove_their_files(tmp_path):
    conn = worker(tmp_path)
    path = spooled(tmp_path, size=100)
    assert serve(conn, upload_frame("5", path, "start", 100)) == []  # still arriving
    assert (tmp_path / "tmp" / path.rpartition("/")[2]).exists()
    assert serve(conn, upload_frame("5", path, "done", 100))[0] == b"HTTP/1.1 200"
    short = spooled(tmp_path, "Short1", size=10)
    conn._pub.frames.clear()
    assert serve(conn, upload_frame("6", short, "done", 100))[0] == b"HTTP/1.1 413"
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize("reported", [
    "/tmp/mongrel2.upload.AB/../", "/tmp/mongrel2.upload.\n\n\n\n\n\n",
    "/tmp/mongrel2.upload.AbC12\0", "/tmp/../etc/mongrel2.upload.AbC123",
])
def test_security_7_forged_upload_paths_are_refused_and_nothing_is_removed(tmp_path, reported):
    conn = worker(tmp_path)
    spooled(tmp_path)
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    assert serve(conn, upload_frame("5", reported, "done", 100))[0] == b"HTTP/1.1 400"
    assert len(list((tmp_path / "tmp").iterdir())) == 1 and victim.exists()
