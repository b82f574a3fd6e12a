"""Access logging: one line per request the app answers, on every transport.

Text lines read `127.0.0.1 "GET /path" 200 1234B 3.2ms id=...`; JSON lines
(`access_log="json"`) are one object per line for log collectors, with the keys
`remote`, `method`, `path`, `status`, `bytes`, `duration_ms`, `request_id`.
The path is logged without its query string (queries carry tokens), escaped so
a client cannot forge a line. Lines go to the `brubeck.access` logger at INFO.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TYPE_CHECKING, Any

from ..errors import loggable
from ..request import Request
from ..response import Response
from . import Middleware

if TYPE_CHECKING:
    from ..app import Brubeck

log = logging.getLogger("brubeck.access")

TEXT_FORMAT = '%s "%s %s" %d %dB %.1fms id=%s'
#: Values the `access_log` setting takes, after the environment's words are read.
FORMATS = ("text", "json")


def log_format(setting: Any) -> str | None:
    """'text', 'json' or None (off) from the `access_log` setting."""
    if setting is True:
        return "text"
    if setting in (False, None, "off"):
        return None
    return str(setting)


def configure(json_lines: bool) -> None:
    """JSON lines go to stderr on their own, bare, so a collector can parse each line;
    text lines go wherever Brubeck's other log lines go."""
    log.setLevel(logging.INFO)
    if json_lines and not any(getattr(h, "brubeck_json", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.brubeck_json = True  # type: ignore[attr-defined]
        log.addHandler(handler)
        log.propagate = False


def _safe(text: str) -> str:
    """`loggable(text)`, without its per-character work for the usual printable text."""
    return text if text.isprintable() else loggable(text)


def elapsed_ms(message: Request) -> float:
    """Milliseconds since `Brubeck.handle` took the request."""
    started: float = vars(message).get("started", time.perf_counter())
    return (time.perf_counter() - started) * 1000.0


class AccessLog(Middleware):
    """Logs each answer after every other middleware has had its say (it runs first)."""

    def __init__(self, json_lines: bool = False) -> None:
        self.json_lines = json_lines
        configure(json_lines)

    def after(self, app: Brubeck, message: Request, response: Response) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        fields = vars(message)
        duration = round(elapsed_ms(message), 2)
        size = response.body_size(message.method)
        request_id = fields.get("request_id") or "-"
        args: tuple[Any, ...] = ()
        if self.json_lines:
            text = json.dumps({
                "remote": message.remote_addr, "method": message.method,
                "path": message.path, "status": response.status_code, "bytes": size,
                "duration_ms": duration, "request_id": request_id})
        else:
            text, args = TEXT_FORMAT, (_safe(message.remote_addr or "-"), _safe(message.method),
                                       _safe(message.path), response.status_code, size,
                                       duration, request_id)
        # makeRecord, not log.info: the caller's file and line (a stack walk) say nothing here.
        log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, text, args, None))
