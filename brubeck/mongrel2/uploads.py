"""Bodies Mongrel2 spools to disk: find the file, check it is ours, read it once, remove it.

Uploads bigger than Mongrel2's `limits.content_length` arrive twice: first
with `x-mongrel2-upload-start: PATH`, then with `x-mongrel2-upload-done: PATH`
too, once the body sits in a file under `upload.temp_store`. A client can
send those headers itself, so the path is checked before it is trusted, and
every file named by a message is removed once that message is answered.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadRequest, RequestTooLarge, loggable
from ..limits import Limits
from . import wire
from .wire import Message

log = logging.getLogger("brubeck.mongrel2")

UPLOAD_START = "x-mongrel2-upload-start"
UPLOAD_DONE = "x-mongrel2-upload-done"
UPLOAD_TEMPLATE = "/tmp/mongrel2.upload.XXXXXX"  # Mongrel2's usual upload.temp_store
MAX_REFUSED_UPLOADS = 1024  # refused uploads whose `done` message may still arrive


@dataclass(frozen=True)
class UploadStore:
    """Where Mongrel2 spools big bodies: its `upload.temp_store` and server `chroot`.

    Mongrel2 chroots when started as root, so the paths it reports are inside
    the chroot; joining them to `chroot` finds the file from the worker.
    """

    template: str  # e.g. /tmp/mongrel2.upload.XXXXXX
    chroot: str | None = None

    def __post_init__(self) -> None:
        # mkstemp needs the X's; without them every upload would share one name,
        # and a relative path would depend on the worker's directory.
        if not self.template.startswith("/") or not self.template.endswith("XXXXXX") \
                or "\0" in self.template:
            raise ValueError(f"upload_store must be Mongrel2's absolute upload.temp_store"
                             f" ending in XXXXXX (e.g. {UPLOAD_TEMPLATE}), not {self.template!r}")
        if self.chroot is not None and not os.path.isabs(self.chroot):
            raise ValueError(f"chroot must be an absolute path, not {self.chroot!r}")

    def _outside(self, path: str) -> Path:
        base = Path(self.chroot or "/")
        return base / path.lstrip("/") if self.chroot else Path(path)

    def locate(self, reported: str) -> Path:
        """The real file behind a reported upload path; BadRequest if it is not ours.

        The name must be the template's with its X's replaced by the letters and
        digits mkstemp uses, and resolve to a regular file directly in the store.
        """
        directory, _, name_template = self.template.rpartition("/")
        prefix = name_template.rstrip("X")
        name = reported.rpartition("/")[2]
        suffix = name[len(prefix):]
        if (reported.rpartition("/")[0] != directory or not name.startswith(prefix)
                or len(name) != len(name_template)
                or not (suffix.isascii() and suffix.isalnum())):
            raise BadRequest("Bad upload", log_message=f"upload path {reported!r} not in store")
        store = os.path.realpath(self._outside(directory or "/"))
        real = os.path.realpath(self._outside(reported))
        if os.path.dirname(real) != store or not os.path.isfile(real):
            raise BadRequest("Bad upload", log_message=f"upload path {reported!r} is no file")
        return Path(real)


def upload_state(message: Message) -> str | None:
    """None for an ordinary request, else 'start' or 'done' (headers unchecked)."""
    if message.header(UPLOAD_DONE) is not None:
        return "done"
    if message.header(UPLOAD_START) is not None:
        return "start"
    return None


def spooled_file(message: Message, store: UploadStore | None) -> Path:
    """The file named by `x-mongrel2-upload-start`, checked to lie in the store.

    Mongrel2 sets that header on both messages of an upload (the `done` one
    repeats it), so this is the file to delete whatever else is wrong.
    """
    starts = message.headers.get_all(UPLOAD_START)
    if store is None:
        raise BadRequest("Bad upload", log_message="upload without a configured upload_store")
    if len(starts) != 1:
        raise BadRequest("Bad upload", log_message="not one upload-start header")
    return store.locate(starts[0])


def check_upload(message: Message) -> None:
    """Both upload headers agree and no body came inline (else a client forged them)."""
    starts = message.headers.get_all(UPLOAD_START)
    dones = message.headers.get_all(UPLOAD_DONE)
    if message.body:
        raise BadRequest("Bad upload", log_message="upload header on a request with a body")
    if len(dones) > 1 or (dones and dones != starts):
        raise BadRequest("Bad upload", log_message="upload headers do not match")


class UploadSpool:
    """One connection's spooled uploads: `body(message)` for each upload message.

    An upload refused at its start is remembered (up to MAX_REFUSED_UPLOADS),
    so its `done` message, if Mongrel2 still sends one, is dropped quietly:
    the client has had its answer already.
    """

    def __init__(self, store: UploadStore | None) -> None:
        self.store = store
        self._refused: dict[tuple[str, str, str], bool] = {}  # oldest first

    def body(self, message: Message, limits: Limits) -> bytes | None:
        """The upload's body once it is `done`; None while it arrives or if already refused.

        Raises a 4xx HTTPError for a bad upload; its file is removed either way,
        except while Mongrel2 is still writing an accepted one.
        """
        state = upload_state(message)
        if state == "done" and self._refused.pop(_upload_key(message), False):
            log.debug("upload on %s was refused at its start: done ignored", message.conn_id)
            return None
        path = spooled_file(message, self.store)
        keep = False
        try:
            check_upload(message)
            length = wire.upload_length(message, limits)
            if state == "start":
                keep = True  # the body is still arriving; `done` reads and removes it
                return None
            with open(path, "rb") as spooled:
                body = spooled.read(limits.body + 1)
            if len(body) != length:
                raise RequestTooLarge("Upload does not match its Content-Length")
            return body
        except BaseException:
            if state == "start":
                self._remember_refused(message)
            raise
        finally:
            if not keep:
                # Mongrel2 may still be writing a refused upload: unlinking the name
                # is safe, its open descriptor holds the space until it gives up.
                _discard(path)

    def _remember_refused(self, message: Message) -> None:
        """Its `done` message may still come (the body was already in): drop it quietly."""
        refused = self._refused
        refused[_upload_key(message)] = True
        while len(refused) > MAX_REFUSED_UPLOADS:  # most never see a `done`
            del refused[next(iter(refused))]


def _upload_key(message: Message) -> tuple[str, str, str]:
    return message.sender, message.conn_id, message.header(UPLOAD_START) or ""


def _discard(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError as error:
        log.warning("could not remove upload %s: %s", loggable(path), loggable(error))
