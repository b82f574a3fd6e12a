"""The hostile requests, each with the exact status both servers must answer.

One table, used by the raw-socket suite, the load test and docs/limits.rst.
`closes` marks refusals made before the app runs: the server must also close.
Behind Mongrel2 some requests never reach Brubeck: `BEHIND_MONGREL2` records
what Mongrel2 1.12.2 answers to those (measured), and the few that Brubeck
answers differently there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from brubeck.limits import DEFAULT_LIMITS as L
from tests.hostile.rawhttp import HOST, chunked, get, post


@dataclass(frozen=True)
class Case:
    name: str
    request: bytes
    status: int
    closes: bool = False
    shutdown: bool = False  # half-close after sending (a client that stops mid-body)


def head(lines: list[str], method: str = "GET", target: str = "/brubeck") -> bytes:
    fields = "".join(f"{line}\r\n" for line in lines)
    text = f"{method} {target} HTTP/1.1\r\nHost: {HOST}\r\n" + fields
    return text.encode("latin-1") + b"\r\n"


def multipart(fields: int = 0, files: int = 0, boundary: str = "xYzZy") -> tuple[bytes, str]:
    out = bytearray()
    for i in range(fields):
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\n'
                f'v{i}\r\n').encode()
    for i in range(files):
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="up"; '
                f'filename="f{i}.txt"\r\nContent-Type: text/plain\r\n\r\nx\r\n').encode()
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def _target_of_length(total: int) -> str:
    """A GET target making the request line exactly `total` bytes, CRLF included."""
    fixed = len("GET /brubeck?p= HTTP/1.1\r\n")
    return "/brubeck?p=" + "a" * (total - fixed)


_CHUNKED = head(["Transfer-Encoding: chunked"], "POST", "/echo")
#: Chunk framing that eventlet's decoder used to take and gevent's refused (or both took).
_CHUNK_NEAR_MISSES = [
    ("0x prefix", b"0x5\r\nhello\r\n0\r\n\r\n"),
    ("plus sign", b"+5\r\nhello\r\n0\r\n\r\n"),
    ("underscore", b"0_5\r\nhello\r\n0\r\n\r\n"),
    ("spaces around the size", b" 5 \r\nhello\r\n0\r\n\r\n"),
    ("bare LF after the size", b"5\nhello\r\n0\r\n\r\n"),
    ("junk after chunk data", b"5\r\nhelloXX\r\n0\r\n\r\n"),
    ("8 KiB extension", b"5;" + b"a" * 8192 + b"\r\nhello\r\n0\r\n\r\n"),
    ("8 KiB extension hiding a request",
     b"5;" + b"a" * 8185 + b"\r\nGET /crash HTTP/1.1\r\n\r\nhello\r\n0\r\n\r\n"),
    ("bare LF in an extension", b"5;a\nb\r\nhello\r\n0\r\n\r\n"),
    ("malformed trailer", b"5\r\nhello\r\n0\r\nX-A\r\n\r\n"),
]
_FILES_100 = multipart(files=L.multipart_files)
_FILES_101 = multipart(files=L.multipart_files + 1)
_PARTS_1001 = multipart(fields=L.multipart_parts + 1)
_BIG_HEADER = "X-Big: " + "b" * (L.header_bytes // 2)

CASES: list[Case] = [
    # -- request line ---------------------------------------------------------------
    Case("request line at the limit", get(_target_of_length(L.request_line)), 200),
    Case("request line over the limit", get(_target_of_length(L.request_line + 1)), 414, True),
    Case("request line of garbage", b"HELLO\r\n\r\n", 400, True),
    Case("request line without version", b"POST /echo\r\n\r\n", 400, True),
    # -- headers ------------------------------------------------------------------------
    Case("100 headers (the limit)", head([f"X-{i}: v" for i in range(L.header_count - 1)]), 200),
    Case("101 headers", head([f"X-{i}: v" for i in range(L.header_count)]), 431, True),
    Case("headers over 64 KiB", head([_BIG_HEADER, _BIG_HEADER]), 431, True),
    Case("one header line over 64 KiB", head(["X-Big: " + "b" * L.header_bytes]), 431, True),
    Case("obsolete line folding", head(["X-A: one", " two"]), 400, True),
    Case("space before colon", head(["Content-Length : 0"], "POST", "/echo"), 400, True),
    Case("header line without colon", head(["just words"]), 400, True),
    Case("bare CR in a header value", head(["X-A: a\rb"]), 400, True),
    Case("NUL in a header value", head(["X-A: a\0b"]), 400, True),
    # -- framing ------------------------------------------------------------------------
    Case("two equal Content-Lengths", head(["Content-Length: 3", "Content-Length: 3"], "POST",
                                           "/echo") + b"abc", 400, True),
    Case("two different Content-Lengths", head(["Content-Length: 3", "Content-Length: 10"],
                                               "POST", "/echo") + b"abc", 400, True),
    Case("Content-Length with Transfer-Encoding",
         head(["Content-Length: 5", "Transfer-Encoding: chunked"], "POST", "/echo")
         + b"0\r\n\r\n", 400, True),
    Case("Transfer-Encoding other than chunked",
         head(["Transfer-Encoding: gzip, chunked"], "POST", "/echo") + b"0\r\n\r\n", 501, True),
    Case("Transfer-Encoding twice",
         head(["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"], "POST", "/echo")
         + b"0\r\n\r\n", 501, True),
    Case("Content-Length not a number", head(["Content-Length: abc"], "POST", "/echo"), 400, True),
    Case("Content-Length negative", head(["Content-Length: -1"], "POST", "/echo"), 400, True),
    Case("Content-Length with a sign", head(["Content-Length: +3"], "POST", "/echo") + b"abc",
         400, True),
    Case("Content-Length over 10 MiB, no body sent",
         head([f"Content-Length: {L.body + 1}"], "POST", "/echo"), 413, True),
    Case("Content-Length over 10 MiB, body coming",
         head([f"Content-Length: {L.body + 1}"], "POST", "/echo") + b"x" * 8192, 413, True),
    Case("chunked body over 10 MiB",
         head(["Transfer-Encoding: chunked"], "POST", "/echo") + chunked(b"x" * (L.body + 1)),
         413),
    Case("bad chunk size", head(["Transfer-Encoding: chunked"], "POST", "/echo")
         + b"zz\r\nabc\r\n0\r\n\r\n", 400),
    *[Case(f"chunk framing: {name}", _CHUNKED + body, 400) for name, body in _CHUNK_NEAR_MISSES],
    Case("chunk size over 10 MiB, no data sent", _CHUNKED + b"%x\r\n" % (L.body + 1), 413),
    Case("chunked body in an HTTP/1.0 request",
         _CHUNKED.replace(b"HTTP/1.1", b"HTTP/1.0") + b"5\r\nhello\r\n0\r\n\r\n", 400, True),
    Case("Content-Length of 5000 digits", head(["Content-Length: " + "1" * 5000], "POST",
                                               "/echo"), 400, True),
    Case("Content-Length of 20 digits", head(["Content-Length: " + "0" * 19 + "1"], "POST",
                                             "/echo") + b"a", 400, True),
    Case("Content-Length of a non-ASCII digit", head(["Content-Length: \u00b2"], "POST",
                                                    "/echo") + b"abc", 400, True),
    # -- request line and head framing -----------------------------------------------------
    Case("vertical tab between method and target", b"GET\x0b/brubeck HTTP/1.1\r\n\r\n",
         400, True),
    Case("form feed between target and version", b"GET /brubeck\x0cHTTP/1.1\r\n\r\n",
         400, True),
    Case("tab between method and target", b"GET\t/brubeck HTTP/1.1\r\n\r\n", 400, True),
    Case("two spaces after the method", b"GET  /brubeck HTTP/1.1\r\n\r\n", 400, True),
    Case("request line ended by a bare LF", b"GET /brubeck HTTP/1.1\nHost: x\r\n\r\n",
         400, True),
    Case("header line ended by a bare LF", b"GET /brubeck HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n",
         400, True),
    Case("head ended by a bare LF", b"GET /brubeck HTTP/1.1\r\nHost: x\r\n\n", 400, True),
    Case("all bare LFs", b"GET /brubeck HTTP/1.1\nHost: x\n\n", 400, True),
    Case("HTTP/2.0 request line", b"GET /brubeck HTTP/2.0\r\nHost: x\r\n\r\n", 505, True),
    Case("HTTP/1.2 request line", b"GET /brubeck HTTP/1.2\r\nHost: x\r\n\r\n", 505, True),
    Case("body shorter than Content-Length",
         head(["Content-Length: 10"], "POST", "/echo") + b"abc", 400, shutdown=True),
    # -- targets --------------------------------------------------------------------------
    Case("bad percent-encoding in the path", get("/echo%zz"), 400),
    Case("bad percent-encoding in the query", get("/echo?a=%zz"), 400),
    Case("truncated percent-encoding", get("/echo?a=%4"), 400),
    Case("invalid UTF-8 in the path (escaped)", get("/echo%ff"), 400),
    Case("invalid UTF-8 in the path (raw)", get("/echo\xff"), 400),
    Case("invalid UTF-8 in the query", get("/echo?a=%ff"), 400),
    Case("NUL in the path", get("/echo%00"), 400),
    Case("too many query fields", get("/echo?" + "&".join(["a=1"] * (L.form_fields + 1))), 400),
    # -- bodies --------------------------------------------------------------------------
    Case("invalid UTF-8 in a form", post("/echo", b"a=%ff", "application/x-www-form-urlencoded"),
         400),
    Case("raw non-ASCII in a form", post("/echo", b"a=\xff", "application/x-www-form-urlencoded"),
         400),
    Case("bad JSON", post("/echo", b'{"a": ', "application/json"), 400),
    Case("JSON NaN", post("/echo", b'{"a": NaN}', "application/json"), 400),
    Case("JSON Infinity", post("/echo", b"[-Infinity]", "application/json"), 400),
    Case("JSON nested 100 000 deep", post("/echo", b"[" * 100_000, "application/json"), 400),
    Case("JSON nested one over the limit",
         post("/echo", b"[" * (L.json_depth + 1) + b"]" * (L.json_depth + 1), "application/json"),
         400),
    Case("JSON nested at the limit",
         post("/echo", b"[" * L.json_depth + b"]" * L.json_depth, "application/json"), 200),
    Case("JSON over 1 MiB", post("/echo", json.dumps(["x" * L.json_body]).encode(),
                                 "application/json"), 413),
    Case("JSON not UTF-8", post("/echo", b'["\xff"]', "application/json"), 400),
    Case("multipart without a boundary", post("/echo", b"--x--\r\n", "multipart/form-data"), 400),
    Case("multipart with the wrong boundary",
         post("/echo", multipart(fields=1, boundary="other")[0], "multipart/form-data; boundary=b"),
         400),
    Case("multipart without its closing boundary",
         post("/echo", multipart(fields=2)[0][:-12], multipart()[1]), 400),
    Case("multipart boundary of garbage",
         post("/echo", b"x", 'multipart/form-data; boundary="\x01"'), 400),
    Case("multipart with 1001 parts", post("/echo", *_PARTS_1001), 413),
    Case("multipart with 101 files", post("/echo", *_FILES_101), 413),
    Case("multipart with 100 files (the limit)", post("/echo", *_FILES_100), 200),
    Case("cookie with a control character", get("/echo", b"Cookie: a=b\x01c\r\n"), 400),
    Case("cookie with DEL", get("/echo", b"Cookie: a=\x7f\r\n"), 400),
    Case("cookie of garbage without control characters", get("/echo", b"Cookie: ;;=;=x; ;\r\n"),
         200),
    # -- responses --------------------------------------------------------------------------
    Case("CR/LF into a response header", get("/header?v=a%0d%0aX-Injected:%20yes"), 500),
    Case("CR/LF into the status line", get("/statusline?v=OK%0d%0aX-Injected:%20yes"), 500),
    Case("a handler crash", get("/crash"), 500),
]


# -- behind Mongrel2 ------------------------------------------------------------------------

MONGREL2 = "mongrel2"  # Mongrel2 answers (and closes); Brubeck never sees the request
BRUBECK = "brubeck"


@dataclass(frozen=True)
class Expected:
    status: int | None  # None: the connection is closed without a reply
    by: str = BRUBECK
    closes: bool = False  # besides `Case.closes`: Mongrel2 closes after a parse error


_M2_REFUSES = [
    "request line of garbage", "request line without version", "headers over 64 KiB",
    "one header line over 64 KiB", "obsolete line folding", "space before colon",
    "header line without colon", "bare CR in a header value", "NUL in a header value",
    "Transfer-Encoding other than chunked", "bad percent-encoding in the path",
    "bad percent-encoding in the query", "truncated percent-encoding",
    "invalid UTF-8 in the path (raw)", "cookie with DEL",
]

# Only the rows that differ from `Case.status`; every other case reaches Brubeck unchanged.
BEHIND_MONGREL2: dict[str, Expected] = {
    **{name: Expected(400, MONGREL2, True) for name in _M2_REFUSES},
    # Mongrel2 spools a chunked body as an upload of unknown length: Brubeck asks for one.
    "chunked body over 10 MiB": Expected(411),
    "bad chunk size": Expected(411),
    # Mongrel2 waits for the rest of the body and closes when the client half-closes.
    "body shorter than Content-Length": Expected(None, MONGREL2, True),
    # Chunk framing Mongrel2's own chunked parser rejects: it closes without a reply;
    # what it forwards, Brubeck answers 411 as for any chunked body.
    **{f"chunk framing: {name}": Expected(411) for name, _ in _CHUNK_NEAR_MISSES},
    **{f"chunk framing: {name}": Expected(None, MONGREL2, True)
       for name in ("junk after chunk data", "8 KiB extension",
                    "8 KiB extension hiding a request")},
    "chunk size over 10 MiB, no data sent": Expected(None, MONGREL2, True),
    # Mongrel2 parses the head and takes bare LFs; Brubeck only sees its parsed fields,
    # and Mongrel2 is the only parser on that path (no second reading to disagree with).
    **{name: Expected(200) for name in ("request line ended by a bare LF",
                                        "header line ended by a bare LF",
                                        "head ended by a bare LF", "all bare LFs")},
    "HTTP/2.0 request line": Expected(400, MONGREL2, True),
    "HTTP/1.2 request line": Expected(400, MONGREL2, True),
}

# Cases that only make sense behind Mongrel2 (it serves /static/ and spools uploads).
MONGREL2_CASES: list[Case] = [
    Case("static path traversal", get("/static/../m2.conf"), 404),
    Case("static path traversal, encoded dots", get("/static/%2e%2e/config.sqlite"), 404),
    Case("static path traversal, encoded slash", get("/static/..%2fm2.conf"), 404),
    Case("forged upload header", get("/echo", b"X-Mongrel2-Upload-Start: /etc/passwd\r\n"
                                            b"X-Mongrel2-Upload-Done: /etc/passwd\r\n"), 400),
    Case("forged upload header with a body",
         post("/echo", b"abc", extra=b"X-Mongrel2-Upload-Start: /tmp/mongrel2.upload.AAAAAA\r\n"),
         400),
    # Mongrel2 replaces a client's X-Forwarded-For lines with its own: Brubeck cannot
    # count them, so 101 lines one of which is X-Forwarded-For pass as 100 (a known gap).
    Case("101 headers, one of them X-Forwarded-For",
         head(["X-Forwarded-For: 10.0.0.1"] + [f"X-{i}: v" for i in range(L.header_count - 1)]),
         200),
]
BEHIND_MONGREL2.update({c.name: Expected(404, MONGREL2) for c in MONGREL2_CASES[:3]})


def expected(case: Case, server: str) -> Expected:
    """What `server` ("wsgi" or "mongrel2") answers to `case`, and who answers."""
    if server == "mongrel2":
        return BEHIND_MONGREL2.get(case.name, Expected(case.status))
    return Expected(case.status)


def cases_for(server: str) -> list[Case]:
    return CASES + MONGREL2_CASES if server == "mongrel2" else CASES
