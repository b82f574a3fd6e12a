"""Request ids: one per request, honoured from the client when well formed, else made here.

The id is `message.request_id`, the `X-Request-Id` response header and part of
every access log line, so one request can be followed from a load balancer
through the app's logs. An incoming id is kept only if it is 1 to 128
characters of letters, digits and `._:+/=@-` (a UUID, a base64 token, a proxy's
trace id): anything else (spaces, quotes, control characters that could forge a
log line) is replaced by a fresh random one.
"""

from __future__ import annotations

import re
from random import getrandbits
from typing import TYPE_CHECKING

from ..request import Request
from ..response import Response
from . import Middleware

if TYPE_CHECKING:
    from ..app import Brubeck

HEADER = "X-Request-Id"
MAX_LENGTH = 128
_VALID = re.compile(r"[A-Za-z0-9._:+/=@-]+")


def valid_request_id(value: str) -> bool:
    """Whether a client's id may be kept (checked in time bounded by MAX_LENGTH)."""
    return 0 < len(value) <= MAX_LENGTH and _VALID.fullmatch(value) is not None


def new_request_id() -> str:
    """32 random hex digits (128 bits, as many as a UUID4). Not a secret, so not from
    os.urandom, a system call that costs more than the rest of this middleware."""
    return f"{getrandbits(128):032x}"


def request_id(message: Request) -> str | None:
    """The id `RequestId` gave `message`, or None when request ids are off."""
    found: str | None = vars(message).get("request_id")
    return found


class RequestId(Middleware):
    """Sets `message.request_id` and echoes it in the `X-Request-Id` response header."""

    def before(self, app: Brubeck, message: Request) -> None:
        sent = message.headers.get(HEADER)
        message.__dict__["request_id"] = sent if sent is not None and valid_request_id(sent) \
            else f"{getrandbits(128):032x}"  # new_request_id(), inlined: this runs per request

    def after(self, app: Brubeck, message: Request, response: Response) -> None:
        for name, _ in response.headers:  # the handler's own id wins
            if name[:1] in "Xx" and name.lower() == "x-request-id":
                return
        response.headers.append((HEADER, message.__dict__["request_id"]))
