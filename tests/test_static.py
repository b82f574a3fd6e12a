"""Item 8: static files. Over WSGI (`brubeck serve`, and gunicorn): types, validators and
304, ranges (206/416), HEAD, nothing outside `static_path`, big files streamed without
blocking the loop or filling memory. Behind Mongrel2 the same app file: Mongrel2's own Dir
handler serves the directory (inside its chroot), or the worker does when routed there."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brubeck import Brubeck, ConfigError
from brubeck.static import mongrel2_dir
from brubeck.testing import TestClient
from tests.examples.conftest import rss_kib
from tests.middleware.served import APP, serve
from tests.support.processes import ROOT, free_port, python_env, stop, wait_for_http

CSS = b"body { color: #123456 }\n"
BIG = 96 * 1024 * 1024


def make_files(root: Path, outside: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "site.css").write_bytes(CSS)
    (root / "ping.txt").write_text("pong")
    (root / "js").mkdir()
    (root / "js" / "app.js").write_text("console.log('hi')\n")
    (root / ".env").write_text("SECRET=1\n")
    (root / "empty.bin").write_bytes(b"")
    outside.write_text("outside the static dir\n")
    (root / "escape.txt").symlink_to(outside)
    (root / "alias.css").symlink_to(root / "site.css")
    return root


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    base = tmp_path_factory.mktemp("static")
    return make_files(base / "public", base / "private.txt")


@pytest.fixture(scope="module")
def served(files, tmp_path_factory):
    with serve(tmp_path_factory.mktemp("wsgi"), "wsgi", BRUBECK_STATIC_PATH=str(files)) as server:
        yield server


def test_static_8_file_with_type_and_validators(served):
    reply = served.get("/static/site.css")
    assert (reply.status, reply.body) == (200, CSS)
    assert reply.headers["content-type"] == "text/css; charset=utf-8"
    assert reply.headers["content-length"] == str(len(CSS))
    assert reply.headers["etag"].startswith('"') and reply.headers["last-modified"]
    assert reply.headers["accept-ranges"] == "bytes"
    js = served.get("/static/js/app.js")
    assert js.status == 200 and "javascript" in js.headers["content-type"]


def test_static_8_not_modified(served):
    first = served.get("/static/site.css")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    by_etag = served.get("/static/site.css", If_None_Match=f'"nope", {etag}')
    assert (by_etag.status, by_etag.body, by_etag.headers["etag"]) == (304, b"", etag)
    by_date = served.get("/static/site.css", If_Modified_Since=modified)
    assert (by_date.status, by_date.body) == (304, b"")
    stale = served.get("/static/site.css", If_None_Match='"other"', If_Modified_Since=modified)
    assert stale.status == 200  # If-None-Match wins over the date


@pytest.mark.parametrize("header, status, body, content_range", [
    ("bytes=0-3", 206, CSS[:4], f"bytes 0-3/{len(CSS)}"),
    ("bytes=5-", 206, CSS[5:], f"bytes 5-{len(CSS) - 1}/{len(CSS)}"),
    ("bytes=-4", 206, CSS[-4:], f"bytes {len(CSS) - 4}-{len(CSS) - 1}/{len(CSS)}"),
    ("bytes=3-999999", 206, CSS[3:], f"bytes 3-{len(CSS) - 1}/{len(CSS)}"),
    (f"bytes={len(CSS)}-", 416, None, f"bytes */{len(CSS)}"),
    ("bytes=0-1,4-5", 200, CSS, None),   # several ranges: the whole file
    ("pages=1-2", 200, CSS, None),       # not bytes: ignored
    ("bytes=9-2", 200, CSS, None),       # invalid: ignored
])
def test_static_8_ranges(served, header, status, body, content_range):
    reply = served.get("/static/site.css", Range=header)
    assert reply.status == status
    if body is not None:
        assert reply.body == body
    assert reply.headers.get("content-range") == content_range


def test_static_8_if_range_stale_sends_the_whole_file(served):
    reply = served.get("/static/site.css", Range="bytes=0-3", If_Range='"stale"')
    assert (reply.status, reply.body) == (200, CSS)
    etag = served.get("/static/site.css").headers["etag"]
    fresh = served.get("/static/site.css", Range="bytes=0-3", If_Range=etag)
    assert (fresh.status, fresh.body) == (206, CSS[:4])


def test_static_8_head(served):
    reply = served.request("HEAD", "/static/site.css")
    assert (reply.status, reply.body) == (200, b"")
    assert reply.headers["content-length"] == str(len(CSS))
    empty = served.get("/static/empty.bin", Range="bytes=0-")
    assert empty.status == 416


@pytest.mark.parametrize("path", [
    "/static/../tests/middleware/app.py", "/static/%2e%2e/%2e%2e/etc/passwd",
    "/static/js/../../private.txt", "/static/escape.txt", "/static/.env", "/static/js",
    "/static/js/", "/static/", "/static//etc/passwd", "/static/missing.css",
    "/static/js%2f..%2f..%2fprivate.txt", "/static/..%5cprivate.txt",
])
def test_static_8_nothing_outside_static_path(served, path):
    reply = served.request("GET", path)
    assert reply.status in (400, 404)
    assert b"outside the static dir" not in reply.body and b"SECRET" not in reply.body
    assert b"from brubeck" not in reply.body


def test_static_8_symlink_inside_the_directory_is_served(served):
    assert served.get("/static/alias.css").body == CSS


def test_static_8_big_file_streams_without_blocking_or_filling_memory(tmp_path):
    root = tmp_path / "big"
    root.mkdir()
    with (root / "big.bin").open("wb") as big:
        big.truncate(BIG - 4)
        big.seek(BIG - 4)
        big.write(b"tail")
    with serve(tmp_path / "srv", "wsgi", BRUBECK_STATIC_PATH=str(root)) as served:
        served.get("/hello")
        before = rss_kib(served.proc.pid)
        # A client that asks for the big file and does not read: the server's writes
        # block (green) on a full socket buffer, and must not hold up anyone else.
        port = int(served.url.rsplit(":", 1)[1])
        stalled = socket.create_connection(("127.0.0.1", port))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(b"GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.5)
        started = time.monotonic()
        assert served.get("/hello").status == 200
        assert time.monotonic() - started < 2.0  # ~10 ms when nothing blocks: 200x slack
        stalled.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/static/big.bin")
        reply = conn.getresponse()
        assert reply.getheader("Content-Length") == str(BIG)
        size, last = 0, b""
        while chunk := reply.read(1 << 20):
            size, last = size + len(chunk), chunk
        conn.close()
        grown = rss_kib(served.proc.pid) - before
    assert size == BIG and last.endswith(b"tail")
    assert grown < 32 * 1024, f"server grew {grown} KiB while sending a {BIG >> 20} MiB file"


def test_static_8_server_file_wrapper_is_used_for_whole_files(files):
    """Where the server offers `wsgi.file_wrapper` (gunicorn's uses sendfile), a whole
    file goes through it; a range is sent in chunks."""
    app = Brubeck(static_path=str(files))
    wrapped = []

    def wrapper(file, size):  # a server's wrapper closes the file when the response ends
        wrapped.append(file)
        with file:
            yield from iter(lambda: file.read(size), b"")

    def call(**headers):
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/static/site.css",
                   "RAW_URI": "/static/site.css", "SERVER_PROTOCOL": "HTTP/1.1",
                   "wsgi.url_scheme": "http", "wsgi.file_wrapper": wrapper,
                   **{f"HTTP_{k.upper()}": v for k, v in headers.items()}}
        status = []
        body = b"".join(app(environ, lambda s, h: status.append(s)))
        return status[0], body

    assert call() == ("200 OK", CSS) and len(wrapped) == 1
    assert call(RANGE="bytes=1-2") == ("206 Partial Content", CSS[1:3]) and len(wrapped) == 1


def test_static_8_under_gunicorn(files):
    port = free_port()
    env = python_env(BRUBECK_STATIC_PATH=str(files))
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}",
                             APP.replace(str(ROOT) + "/", "").replace("/", ".")
                             .replace(".py:", ":")],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/hello", 30, proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/static/site.css")
        whole = conn.getresponse()
        assert (whole.status, whole.read()) == (200, CSS)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/static/site.css", headers={"Range": "bytes=2-4"})
        part = conn.getresponse()
        assert (part.status, part.read()) == (206, CSS[2:5])
    finally:
        stop(proc)


def test_static_8_behind_mongrel2_its_dir_handler_serves_the_same_app(tmp_path):
    chroot = tmp_path / "m2"
    public = make_files(chroot / "public", tmp_path / "private.txt")
    base = mongrel2_dir(public, chroot)
    assert base == "public/"
    with serve(tmp_path, "mongrel2", m2_options={"static_dir": base},
               BRUBECK_STATIC_PATH=str(public), BRUBECK_ACCESS_LOG="text") as served:
        reply = served.get("/static/site.css")
        assert (reply.status, reply.body) == (200, CSS)
        assert "x-request-id" not in reply.headers  # Mongrel2 answered, not a worker
        assert served.get("/hello").status == 200
        output = served.wait_for_output('"GET /hello"')
    assert "/static/site.css" not in output


def test_static_8_behind_mongrel2_a_worker_serves_files_routed_to_it(tmp_path):
    public = make_files(tmp_path / "public", tmp_path / "private.txt")
    with serve(tmp_path, "mongrel2", BRUBECK_STATIC_PATH=str(public),
               BRUBECK_STATIC_URL_PREFIX="/files/") as served:  # Mongrel2's Dir has /static/
        reply = served.get("/files/site.css", Range="bytes=0-3")
        assert (reply.status, reply.body) == (206, CSS[:4])
        assert "x-request-id" in reply.headers
        assert served.get("/files/site.css").body == CSS
        assert served.request("HEAD", "/files/site.css").headers["content-length"] == \
            str(len(CSS))
        assert served.get("/files/escape.txt").status == 404


def test_static_8_mongrel2_dir_must_be_inside_the_chroot(tmp_path):
    (tmp_path / "m2" / "static").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    assert mongrel2_dir(tmp_path / "m2" / "static", tmp_path / "m2") == "static/"
    with pytest.raises(ValueError, match="not inside the Mongrel2 chroot"):
        mongrel2_dir(tmp_path / "elsewhere", tmp_path / "m2")


def test_static_8_config_checked_at_start(tmp_path):
    with pytest.raises(ConfigError, match="not a directory"):
        Brubeck(static_path=str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="static_url_prefix"):
        Brubeck(static_path=str(tmp_path), static_url_prefix="assets/")
    (tmp_path / "a.txt").write_text("a")
    client = TestClient(Brubeck(static_path=str(tmp_path), static_url_prefix="/assets"))
    assert client.get("/assets/a.txt").text == "a"
    assert client.post("/assets/a.txt").status_code == 405
    assert os.path.exists(tmp_path / "a.txt")
