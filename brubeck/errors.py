"""HTTP errors that handlers raise to end a request with a given status."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


def reason_phrase(status_code: int) -> str:
    """The standard reason phrase of a status code, or 'Unknown'."""
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Unknown"


class HTTPError(Exception):
    """Raise anywhere in a request to answer with `status_code`.

    `reason` is shown to the client; `log_message` goes to the log only, so it
    may hold details that the client must not see.
    """

    def __init__(
        self,
        status_code: int = 500,
        reason: str | None = None,
        log_message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.reason = reason or reason_phrase(status_code)
        self.log_message = log_message
        self.headers = headers or {}
        super().__init__(status_code, self.reason)

    def __str__(self) -> str:
        text = f"HTTP {self.status_code}: {self.reason}"
        return f"{text} ({self.log_message})" if self.log_message else text


class BadRequest(HTTPError):
    """400: the request itself is malformed (bad encoding, JSON, multipart...)."""

    def __init__(self, reason: str = "Bad Request", log_message: str | None = None) -> None:
        super().__init__(400, reason, log_message)


class InvalidFields(Exception):
    """The client's data failed validation: answered 400 with `errors` (one entry per field,
    as pydantic reports them), never logged as a server error."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


class RequestTooLarge(HTTPError):
    """413: a body or part of one is over a configured limit."""

    def __init__(self, reason: str = "Payload Too Large") -> None:
        super().__init__(413, reason)


# C0 controls, DEL and C1 controls: a client could forge log lines or terminal
# escapes with them. Everything else (non-ASCII letters included) stays readable.
_LOG_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}


def loggable(text: object) -> str:
    """`text` safe to put in a log line: control characters shown as `\\xNN` escapes."""
    return str(text).translate(_LOG_ESCAPES)
