"""The debug error page (`debug=True` only): the request and every frame, escaped.

It shows what a developer needs to fix a crash without a debugger: the request
(method, path, query, headers) and, for each frame of the traceback (and of the
exceptions it was raised from), the file, line, function, the source around
the line and the frame's local variables. Everything is HTML-escaped. Values
that are credentials are masked even here: `Cookie` and `Authorization`
headers (and any header or local whose name says secret, password, token or
key), since debug pages end up in screenshots and bug reports.

With `debug` off this module is never called: an error page then says only its
status (see `handlers.WebMessageHandler.write_error`).
"""

from __future__ import annotations

import linecache
import re
import reprlib
from html import escape
from types import TracebackType
from typing import Any

from .errors import reason_phrase

MASK = "********"
#: Header and variable names whose values are credentials.
_SECRET_NAME = re.compile(r"auth|cookie|secret|passw|token|key|session|csrf|xsrf", re.I)
CONTEXT_LINES = 3
MAX_FRAMES = 50
MAX_CHAIN = 5

_repr = reprlib.Repr()
_repr.maxstring = 200
_repr.maxother = 200
_repr.maxlist = _repr.maxdict = _repr.maxtuple = _repr.maxset = 20
_repr.maxlevel = 3

_STYLE = ("body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}"
          "h1{color:#a00}table{border-collapse:collapse}td,th{border:1px solid #ddd;"
          "padding:2px 6px;text-align:left;vertical-align:top}pre{background:#f6f6f6;"
          "padding:6px;overflow:auto}.line{background:#fdd}.frame{margin:1em 0}"
          "code{font:13px ui-monospace,monospace}")


def mask_header(name: str, value: str) -> str:
    """A header's value as the page shows it: credentials masked (cookie names kept)."""
    lowered = name.lower()
    if lowered in ("cookie", "set-cookie"):
        names = [part.split("=", 1)[0].strip() for part in value.split(";")]
        return "; ".join(f"{n}={MASK}" for n in names if n)
    if lowered in ("authorization", "proxy-authorization"):
        scheme = value.split(" ", 1)[0] if " " in value else ""
        return f"{scheme} {MASK}".strip()
    return MASK if _SECRET_NAME.search(name) else value


def safe_repr(name: str, value: Any) -> str:
    """A local's value, short; a credential by name masked; a failing repr reported."""
    if _SECRET_NAME.search(name) and value is not None:
        return MASK
    try:
        return _repr.repr(value)
    except Exception as error:  # a broken __repr__ must not break the error page
        return f"<repr failed: {type(error).__name__}>"


def _source(filename: str, lineno: int) -> str:
    first = max(1, lineno - CONTEXT_LINES)
    rows = []
    for number in range(first, lineno + CONTEXT_LINES + 1):
        line = linecache.getline(filename, number)
        if not line and number > lineno:
            break
        css = ' class="line"' if number == lineno else ""
        rows.append(f'<span{css}>{number:>5}  {escape(line.rstrip())}</span>')
    return "\n".join(rows)


def _frames(tb: TracebackType | None) -> list[str]:
    out: list[str] = []
    while tb is not None and len(out) < MAX_FRAMES:
        frame, lineno = tb.tb_frame, tb.tb_lineno
        code = frame.f_code
        local_rows = "".join(
            f"<tr><th><code>{escape(name)}</code></th><td><code>"
            f"{escape(safe_repr(name, value))}</code></td></tr>"
            for name, value in sorted(frame.f_locals.items()))
        out.append(
            f'<div class="frame"><p><code>{escape(code.co_filename)}</code>, line {lineno}, '
            f"in <code>{escape(code.co_name)}</code></p>"
            f"<pre>{_source(code.co_filename, lineno)}</pre>"
            f"<table>{local_rows}</table></div>")
        tb = tb.tb_next
    return out


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and what it was raised from or during, outermost last (as Python prints)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < MAX_CHAIN:
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__
                                         else current.__context__)
    return chain[::-1]


def _exception_title(exc: BaseException) -> str:
    return escape(f"{type(exc).__qualname__}: {exc}")


def render(exc: BaseException, message: Any, status_code: int = 500) -> str:
    """The whole page for `exc`, raised while answering `message` (a Request)."""
    title = escape(f"{status_code} {reason_phrase(status_code)}")
    query = getattr(message, "query_string", "")
    headers = message.headers
    header_rows = "".join(
        f"<tr><th>{escape(name)}</th><td><code>{escape(mask_header(name, value))}</code>"
        "</td></tr>" for name in headers for value in headers.get_all(name))
    sections = []
    for number, item in enumerate(_chain(exc)):
        lead = "" if number == 0 else "<p>During or because of it, another was raised:</p>"
        sections.append(f"{lead}<h2>{_exception_title(item)}</h2>"
                        + "".join(_frames(item.__traceback__)))
    return (f"<!doctype html><meta charset=utf-8><title>{title}</title>"
            f"<style>{_STYLE}</style><h1>{title}</h1>"
            f"<p>Debug page: <code>debug=True</code>. Never turn it on in production.</p>"
            f"<h2>Request</h2><table><tr><th>method</th><td><code>"
            f"{escape(str(message.method))}</code></td></tr><tr><th>path</th><td><code>"
            f"{escape(str(message.path))}</code></td></tr><tr><th>query</th><td><code>"
            f"{escape(str(query))}</code></td></tr></table>"
            f"<h2>Headers</h2><table>{header_rows}</table>{''.join(sections)}\n")
