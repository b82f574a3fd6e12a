"""Static files over WSGI: `static_path` served at `static_url_prefix` (`/static/`).

What browsers and caches expect of a file server: Content-Type from the name,
`ETag` and `Last-Modified` with 304 for a fresh copy, one byte range (206, or
416 past the end), HEAD, and nothing outside `static_path`: `..`, hidden names
(`.git`, `.env`) and symlinks leading out are all a 404. A file is never read
into memory: the WSGI server gets it in 64 KiB chunks (each write yields to the
loop while the client reads), or whole through the server's
`wsgi.file_wrapper` (gunicorn's uses `sendfile`).

Behind Mongrel2 the generated config serves the same directory with Mongrel2's
own `Dir` handler, so workers never see these requests; `mongrel2_dir` says
where `static_path` is inside Mongrel2's chroot (it must be inside: a chrooted
Mongrel2 cannot follow a symlink out). `file_response` sends one file from a
handler (a download) with the same rules.
"""

from __future__ import annotations

import mimetypes
import os
import re
import stat
from collections.abc import Iterator
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import IO, Any

from .config import ConfigError
from .errors import HTTPError
from .request import Request
from .response import Response, header_pairs

CHUNK = 64 * 1024
_TEXT_TYPES = frozenset(("application/javascript", "application/json", "image/svg+xml",
                         "application/xml"))
_RANGE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})")


class FileBody(bytes):
    """What the WSGI glue is handed as a file response's body: empty bytes that know the
    file, so `Brubeck.__call__` can stream it instead (`stream`)."""

    response: FileResponse


class FileResponse(Response):
    """A response whose body is `length` bytes of an open file from `offset`."""

    __slots__ = ("file", "length", "offset")

    def __init__(self, file: IO[bytes] | None, offset: int, length: int,
                 status_code: int = 200, headers: Any = None) -> None:
        super().__init__(b"", status_code, None, headers)
        self.file = file
        self.offset = offset
        self.length = length

    def __repr__(self) -> str:
        return f"<FileResponse {self.status_code} {self.length} bytes>"

    def content_length(self) -> int:
        return self.length

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def payload(self, method: str = "GET") -> bytes:
        if self.file is None or self.body_size(method) == 0:
            self.close()
            return b""
        body = FileBody()
        body.response = self
        return body

    def chunks(self) -> Iterator[bytes]:
        """The body, CHUNK bytes at a time; the file is closed when done or abandoned."""
        file, remaining = self.file, self.length
        self.file = None
        if file is None:
            return
        try:
            file.seek(self.offset)
            while remaining > 0:
                data = file.read(min(CHUNK, remaining))
                if not data:  # the file shrank while being sent
                    raise OSError("file ended before its Content-Length")
                remaining -= len(data)
                yield data
        finally:
            file.close()

    def to_http(self, method: str = "GET") -> bytes:
        """Head and body in one buffer, for a transport that takes bytes (Mongrel2)."""
        head = super().to_http(method)
        return head + b"".join(self.chunks()) if self.body_size(method) else head


def stream(body: FileBody, environ: dict[str, Any]) -> Any:
    """The WSGI iterable for a file body: the server's file wrapper for a whole file, else
    chunks."""
    response = body.response
    wrapper = environ.get("wsgi.file_wrapper")
    # gunicorn's wrapper calls the stdlib's socket.sendfile, which refuses a socket whose
    # descriptor is non-blocking (eventlet's green sockets; gevent's own sendfile copes).
    blocking = getattr(environ.get("gunicorn.socket"), "getblocking", None)
    if blocking is not None and not blocking():
        wrapper = None
    if wrapper is not None and response.offset == 0 and response.file is not None:
        file = response.file
        response.file = None
        file.seek(0)
        return wrapper(file, CHUNK)
    return response.chunks()


def content_type(name: str) -> str:
    guessed, encoding = mimetypes.guess_type(name)
    if guessed is None or encoding is not None:  # .gz would be decoded by the browser
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed in _TEXT_TYPES:
        return f"{guessed}; charset=utf-8"
    return guessed


def _etag_listed(header: str, etag: str) -> bool:
    """`If-None-Match` lists `etag` (weak comparison) or is `*`."""
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def _http_date(value: str) -> float | None:
    if len(value) > 64:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def not_modified(message: Request, etag: str, mtime: float) -> bool:
    """The client's copy is current: `If-None-Match` if sent, else `If-Modified-Since`."""
    match = message.headers.get("If-None-Match")
    if match is not None:
        return _etag_listed(match, etag)
    since = message.headers.get("If-Modified-Since")
    when = _http_date(since) if since is not None else None
    return when is not None and int(mtime) <= when


def byte_range(message: Request, size: int, etag: str, mtime: float) -> tuple[int, int] | None:
    """(offset, length) of the one range asked for; None for the whole file (no Range,
    an unreadable or multi-part one, or a stale `If-Range`). Past the end is a 416."""
    header = message.headers.get("Range")
    if header is None or len(header) > 64:
        return None
    if_range = message.headers.get("If-Range")
    if if_range is not None:
        if if_range.startswith(('"', "W/")):
            if if_range != etag:
                return None
        elif _http_date(if_range) != int(mtime):
            return None
    found = _RANGE.fullmatch(header.strip())
    if found is None:
        return None
    first, last = found.groups()
    if size == 0:
        raise _unsatisfiable(size)
    if not first:  # a suffix: the last N bytes
        if not last or int(last) == 0:
            raise _unsatisfiable(size)
        length = min(int(last), size)
        return size - length, length
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None  # invalid: ignored, as RFC 9110 says
    if start >= size:
        raise _unsatisfiable(size)
    return start, end - start + 1


def _unsatisfiable(size: int) -> HTTPError:
    return HTTPError(416, headers={"Content-Range": f"bytes */{size}"})


def file_response(path: str | os.PathLike[str], message: Request,
                  headers: Any = None) -> Response:
    """Answer `message` with the file at `path` (a trusted path: check it yourself):
    conditional GET, Range and HEAD handled. A missing file is a 404."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC)
    except OSError:
        raise HTTPError(404) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # a directory, a device, a pipe
        os.close(fd)
        raise HTTPError(404)
    file = os.fdopen(fd, "rb", buffering=0)
    try:
        return _answer(file, info, os.fspath(path), message, header_pairs(headers))
    except BaseException:
        file.close()
        raise


def _answer(file: IO[bytes], info: os.stat_result, name: str, message: Request,
            extra: list[tuple[str, str]]) -> Response:
    size, mtime = info.st_size, info.st_mtime
    etag = f'"{info.st_mtime_ns:x}-{size:x}"'
    pairs = [("ETag", etag), ("Last-Modified", formatdate(mtime, usegmt=True)),
             ("Accept-Ranges", "bytes"), *extra]
    if not_modified(message, etag, mtime):
        file.close()
        return Response(b"", 304, None, pairs)
    pairs.append(("Content-Type", content_type(name)))
    found = byte_range(message, size, etag, mtime)
    offset, length, status = 0, size, 200
    if found is not None:
        offset, length = found
        status = 206
        pairs.append(("Content-Range", f"bytes {offset}-{offset + length - 1}/{size}"))
    if message.method == "HEAD":
        file.close()
        return FileResponse(None, offset, length, status, pairs)
    return FileResponse(file, offset, length, status, pairs)


class StaticFiles:
    """The route serving `root` at `prefix`: `app.add_route_rule(files.pattern, files)`."""

    def __init__(self, root: str | os.PathLike[str], prefix: str = "/static/") -> None:
        self.root = Path(os.path.realpath(root))
        if not self.root.is_dir():
            raise ConfigError(f"static_path {os.fspath(root)!r} is not a directory")
        if not prefix.startswith("/"):
            raise ConfigError(f"static_url_prefix must start with '/', got {prefix!r}")
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.pattern = re.compile(re.escape(self.prefix) + r"(?P<path>.*)\Z", re.DOTALL)

    def __repr__(self) -> str:
        return f"StaticFiles({str(self.root)!r}, {self.prefix!r})"

    def resolve(self, path: str) -> Path | None:
        """The file under `root` that `path` names; None for anything that would leave
        `root` (`..`, a symlink out) or is hidden, a directory or oddly spelled."""
        parts = path.split("/")
        if any(not part or part.startswith(".") for part in parts) or "\\" in path:
            return None
        real = Path(os.path.realpath(self.root.joinpath(*parts)))
        return real if real.is_relative_to(self.root) else None

    def __call__(self, application: Any, message: Request, path: str = "") -> Response:
        found = self.resolve(path)
        if found is None:
            raise HTTPError(404, log_message=f"static path refused: {path[:200]!r}")
        return file_response(found, message)


def mongrel2_dir(static_path: str | os.PathLike[str], chroot: str | os.PathLike[str]) -> str:
    """`Dir(base=...)` for `static_path` in a Mongrel2 config whose server runs in
    `chroot`: the path relative to it, ending in '/'. Outside the chroot is an error:
    move the files in, or bind-mount them (`mount --bind static_path chroot/static`)."""
    real = Path(os.path.realpath(static_path))
    root = Path(os.path.realpath(chroot))
    if real == root or not real.is_relative_to(root):
        raise ValueError(f"static_path {os.fspath(static_path)} is not inside the Mongrel2 "
                         f"chroot {root}: Mongrel2 serves files only from inside it (move "
                         f"them to {root / 'static'} or bind-mount them there)")
    return f"{real.relative_to(root).as_posix()}/"
