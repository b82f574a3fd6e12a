"""Property tests: whatever a client sends, parsing ends in a value or a 4xx, never a crash.

Run with `--hypothesis-show-statistics` to see how many examples each property ran.
"""

import http.client
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brubeck import cookies
from brubeck.connections.wsgi import request_from_environ
from brubeck.errors import HTTPError
from brubeck.limits import Limits
from brubeck.request import Request, parse_cookie_header, parse_json
from brubeck.routing import HTTP_METHODS
from brubeck.servers.http import HeadFields, Refusal, check_head
from tests.hostile.app import build_hostile_app

EXAMPLES = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SMALL = Limits(body=4096, json_body=512, json_depth=8, multipart_parts=5, multipart_files=2,
               form_fields=20, header_bytes=2048, header_count=12)
APP = build_hostile_app()

latin1 = st.text(st.characters(max_codepoint=255), max_size=80)
ascii_text = st.text(st.characters(max_codepoint=127), max_size=80)


def only_4xx(action):
    """Run `action`; a 4xx HTTPError is a fine answer, anything else escaping is a bug."""
    try:
        return action()
    except HTTPError as error:
        assert 400 <= error.status_code < 500, error
        return error


# -- the request parser ------------------------------------------------------------------------

CONTENT_TYPES = st.sampled_from([
    "application/x-www-form-urlencoded", "application/json", "multipart/form-data",
    "multipart/form-data; boundary=b", 'multipart/form-data; boundary="b"', "text/plain", "",
    "multipart/form-data; boundary=", "application/json; charset=latin-1",
])


@EXAMPLES
@given(query=ascii_text, body=st.binary(max_size=300), content_type=CONTENT_TYPES | latin1,
       cookie=latin1)
def test_request_parsing_never_crashes(query, body, content_type, cookie):
    request = Request("POST", "/echo", query, {"Content-Type": content_type, "Cookie": cookie},
                      body, limits=SMALL)
    only_4xx(lambda: request.arguments)
    only_4xx(lambda: request.uploads)
    only_4xx(lambda: request.json)
    only_4xx(lambda: request.cookies)


part = st.tuples(
    st.sampled_from(["--b\r\n", "--b\n", "--c\r\n", "", "--b--\r\n"]),
    st.sampled_from(['Content-Disposition: form-data; name="f"\r\n',
                     'Content-Disposition: form-data; name="up"; filename="a.txt"\r\n',
                     'Content-Disposition: attachment\r\n', "Content-Type: text/plain\r\n", "",
                     'Content-Disposition: form-data; name="f"; filename*=UTF-8\'\'%ff\r\n']),
    st.sampled_from(["\r\n", "", "\n"]),
    st.binary(max_size=30),
    st.sampled_from([b"\r\n", b"", b"\n"]),
)


@EXAMPLES
@given(parts=st.lists(part, max_size=8), end=st.sampled_from([b"--b--\r\n", b"--b--", b"", b"--b"]))
def test_multipart_near_misses_never_crash(parts, end):
    body = b"".join(a.encode() + b.encode() + c.encode() + d + e for a, b, c, d, e in parts) + end
    request = Request("POST", "/echo", "", {"Content-Type": "multipart/form-data; boundary=b"},
                      body, limits=SMALL)
    only_4xx(lambda: (request.arguments, request.files))


json_atoms = st.sampled_from([b"1", b"-0.5e3", b'"s"', b"null", b"NaN", b"Infinity", b"-Infinity",
                              b"[", b"]", b"{", b"}", b",", b":", b'"\\', b"\xff", b"1" * 5000])


@EXAMPLES
@given(pieces=st.lists(json_atoms, max_size=40) | st.lists(st.binary(max_size=20), max_size=5))
def test_json_parsing_never_crashes(pieces):
    only_4xx(lambda: parse_json(b"".join(pieces), SMALL.json_body, SMALL.json_depth))


@EXAMPLES
@given(depth=st.integers(0, 3000), opener=st.sampled_from([b"[", b'{"a":']))
def test_deep_json_is_a_400_not_a_recursion_error(depth, opener):
    closer = b"]" if opener == b"[" else b"}"
    result = only_4xx(lambda: parse_json(opener * depth + b"1" + closer * depth, 1 << 20, 100))
    assert isinstance(result, HTTPError) == (depth > 100)


# -- cookies ------------------------------------------------------------------------------------

@EXAMPLES
@given(header=latin1)
def test_cookie_header_parsing_never_crashes(header):
    jar = only_4xx(lambda: parse_cookie_header(header))
    if isinstance(jar, dict):
        assert all(name and "=" not in name and ";" not in name for name in jar)


@EXAMPLES
@given(value=st.text(max_size=120) | st.from_regex(r"\A1\.\d{1,3}\.\d{1,12}\.[A-Za-z0-9_=-]{0,40}"
                                                    r"\.[A-Za-z0-9_=-]{0,50}\Z"))
def test_signed_cookie_decoder_never_raises(value):
    assert cookies.verify("secret", "session", value) is None  # unforgeable without the key


# -- the wire: head parsing and WSGI environ --------------------------------------------------

header_value = st.sampled_from(["1", "chunked", "-1", "+1", "1, 1", "\r", "\0", "gzip", ""])
header_line = st.one_of(
    st.tuples(st.sampled_from(["Content-Length", "Transfer-Encoding", "Host", "X-A", "Cookie",
                               "content-length", " X", "X ", ""]),
              st.sampled_from([": ", ":", " : ", ""]),
              header_value | latin1)
    .map(lambda t: "".join(t)),
    latin1,
)


@EXAMPLES
@given(lines=st.lists(header_line, max_size=16), ending=st.sampled_from(["\r\n", "\n", ""]))
def test_head_checks_refuse_or_accept_never_crash(lines, ending):
    raw = "".join(line + "\r\n" for line in lines).encode("latin-1") + ending.encode()
    try:
        headers = HeadFields.read(io.BufferedReader(io.BytesIO(raw)), SMALL)
        check_head(headers, SMALL)
    except Refusal as refusal:
        assert refusal.status in (400, 413, 431, 501)
        return
    lengths = headers.get_all("content-length")
    assert len(lengths) <= 1 and not (lengths and headers.get_all("transfer-encoding"))


@EXAMPLES
@given(lines=st.lists(header_line, max_size=16), ending=st.sampled_from(["\r\n", "\n", ""]))
def test_a_head_the_servers_accept_reads_as_the_stdlib_reads_it(lines, ending):
    """Where HeadFields (both servers' parser) accepts a head, the stdlib's parser finds
    the same fields in it: nothing is dropped, split or joined differently."""
    raw = "".join(line + "\r\n" for line in lines).encode("latin-1") + ending.encode()
    try:
        headers = HeadFields.read(io.BufferedReader(io.BytesIO(raw)), SMALL)
    except Refusal:
        return
    stdlib = http.client.parse_headers(io.BufferedReader(io.BytesIO(raw)))
    assert [(k, v.strip(" \t")) for k, v in stdlib.items()] == headers.pairs


@EXAMPLES
@given(path=latin1, query=latin1, raw=latin1, length=st.sampled_from(["", "3", "x", "²", "-1"]),
       body=st.binary(max_size=10))
def test_environ_to_request_never_crashes(path, query, raw, length, body):
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
               "RAW_URI": raw, "CONTENT_LENGTH": length, "wsgi.input": io.BytesIO(body)}
    only_4xx(lambda: request_from_environ(environ, SMALL))


# -- routing and the whole app --------------------------------------------------------------

@EXAMPLES
@given(method=st.sampled_from((*HTTP_METHODS, "BREW", "get", "")), path=st.text(max_size=60),
       query=ascii_text)
def test_routing_answers_without_a_server_error(method, path, query):
    if not method:
        method = "GET"
    response = APP.handle(Request(method, "/" + path, query, limits=SMALL))
    assert response.status_code < 500 or path in ("crash", "jsoncrash", "funcrash")
