"""Request parsing: arguments, JSON, cookies, multipart; bad input is a 4xx."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brubeck.errors import BadRequest, HTTPError, RequestTooLarge
from brubeck.limits import Limits
from brubeck.request import (
    Headers,
    Request,
    decode_path,
    json_depth_over,
    parse_cookie_header,
    parse_json,
)
from brubeck.testing import encode_body


def make(method="GET", query="", body=b"", content_type=None, **kwargs):
    headers = [("Content-Type", content_type)] if content_type else []
    return Request(method, "/", query, headers, body, **kwargs)


def test_headers_case_insensitive_and_multi_valued():
    headers = Headers([("X-A", "1"), ("x-a", "2"), ("Host", "h")])
    assert headers["x-A"] == "1"
    assert headers.get_all("X-A") == ["1", "2"]
    assert "HOST" in headers and "nope" not in headers


def test_get_argument_last_value_stripped_and_default():
    req = make(query="a=+1+&a=2&b=")
    assert req.get_argument("a") == "2"
    assert req.get_arguments("a") == ["1", "2"]
    assert req.get_arguments("a", strip=False) == [" 1 ", "2"]
    assert req.get_argument("b") is None  # blank values dropped, as in 0.4
    assert req.get_argument("c", "d") == "d"


def test_query_and_form_arguments_merge():
    req = make("POST", "a=1", b"a=2&b=3", "application/x-www-form-urlencoded")
    assert req.arguments == {"a": ["1", "2"], "b": ["3"]}


@pytest.mark.parametrize("query", ["a=%ff", "%c3%28=1"])
def test_invalid_utf8_arguments_are_400(query):
    with pytest.raises(BadRequest):
        make(query=query).arguments


def test_too_many_fields_is_400():
    with pytest.raises(BadRequest):
        make(query="&".join(f"a{i}=1" for i in range(20)), limits=Limits(form_fields=10)).arguments


def test_json_strict():
    assert parse_json(b'{"a": [1]}', 100) == {"a": [1]}
    for bad in (b"{", b"NaN", b'{"a": Infinity}', b"\xff", b"[" * 100000 + b"]" * 100000):
        with pytest.raises(HTTPError) as info:
            parse_json(bad, 10**7)
        assert info.value.status_code == 400
    with pytest.raises(HTTPError) as info:
        parse_json(b"[1]" + b" " * 100, 50)
    assert info.value.status_code == 413


def test_empty_json_body_is_none():
    assert make("POST", content_type="application/json").json is None


def test_cookies_lenient_but_no_control_characters():
    cookies = parse_cookie_header('a=1; b="x y"; junk; =v; c=3')
    assert {k: c.value for k, c in cookies.items()} == {"a": "1", "b": "x y", "c": "3"}
    with pytest.raises(BadRequest):
        parse_cookie_header("a=1\x01")


def test_multipart_fields_and_files():
    body, ctype = encode_body({"title": "t"}, None, {"f": ("a.txt", b"abc", "text/plain")})
    req = make("POST", body=body, content_type=ctype)
    assert req.get_argument("title") == "t"
    assert req.files == {"f": [{"filename": "a.txt", "body": b"abc",
                                "content_type": "text/plain"}]}


def test_multipart_limits():
    files = {f"f{i}": (f"{i}.txt", b"x") for i in range(3)}
    body, ctype = encode_body(None, None, files)
    with pytest.raises(RequestTooLarge):  # over a limit is 413, malformed is 400
        make("POST", body=body, content_type=ctype, limits=Limits(multipart_files=2)).files
    with pytest.raises(BadRequest):
        make("POST", body=b"--b\r\n", content_type="multipart/form-data").files


def test_decode_path():
    assert decode_path("/caf%C3%A9") == "/café"
    with pytest.raises(BadRequest):
        decode_path("/%ff")


def multipart_field(content_type_line: bytes, value: bytes = b"caf\xe9") -> Request:
    body = (b'--b\r\nContent-Disposition: form-data; name="a"\r\n' + content_type_line
            + b"\r\n\r\n" + value + b"\r\n--b--\r\n")
    return make("POST", body=body, content_type="multipart/form-data; boundary=b")


@pytest.mark.parametrize("charset", [
    "bogus", '"bogus"', "rot13", "hex", "zlib", "base64", "punycode", "idna", "undefined",
    "x" * 300, ".", '"utf-8\x00"', '"bo gus"', '"utf-8\r"',
])
def test_security_10_multipart_unsupported_charset_is_400(charset):
    request = multipart_field(b"Content-Type: text/plain; charset=" + charset.encode())
    with pytest.raises(BadRequest) as info:
        request.arguments
    assert info.value.status_code == 400
    assert "charset" in info.value.reason and "UTF-8" in info.value.reason
    assert charset.strip('"')[:20] not in info.value.reason  # not echoed to the client


@pytest.mark.parametrize(("charset", "value", "text"), [
    ("latin-1", b"caf\xe9", "café"), ("ISO-8859-1", b"caf\xe9", "café"),
    ("utf-8", b"caf\xc3\xa9", "café"), ('"utf-8"', b"caf\xc3\xa9", "café"),
    ("cp1252", b"\x80", "€"), ("utf-16-le", "é".encode("utf-16-le"), "é"),
])
def test_security_10_multipart_known_charsets_decode(charset, value, text):
    request = multipart_field(b"Content-Type: text/plain; charset=" + charset.encode(), value)
    assert request.get_argument("a") == text


def test_security_10_multipart_field_invalid_in_its_charset_is_400():
    for line, value in [(b"", b"\xff"), (b"Content-Type: text/plain; charset=ascii", b"\xe9"),
                        (b"Content-Type: text/plain; charset=utf-16", b"\x00\xd8")]:
        with pytest.raises(BadRequest) as info:
            multipart_field(line, value).arguments
        assert info.value.status_code == 400


def test_multipart_keeps_field_order_names_and_file_defaults():
    body, ctype = encode_body({"a": ["1", "2"], "b": "3"}, None,
                              {"f": ("x.bin", b"\x00\r\n--b"), "g": ("y.txt", b"y", "text/plain")})
    request = make("POST", body=body, content_type=ctype)
    assert request.body_arguments == {"a": ["1", "2"], "b": ["3"]}
    assert request.files["f"] == [{"filename": "x.bin", "body": b"\x00\r\n--b",
                                   "content_type": "application/octet-stream"}]
    assert request.files["g"][0]["content_type"] == "text/plain"


@pytest.mark.parametrize("body", [
    b"", b"--b\r\n", b"junk--b\r\n", b"--b\r\nContent-Disposition: attachment\r\n\r\nx\r\n--b--",
    b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx',  # no closing boundary
    b'--b\r\nContent-Disposition: form-data; name="a"\r\nX: ' + b"x" * 5000 + b"\r\n\r\nx\r\n--b--",
])
def test_malformed_multipart_is_4xx(body):
    with pytest.raises(HTTPError) as info:
        make("POST", body=body, content_type="multipart/form-data; boundary=b").arguments
    assert info.value.status_code in (400, 413)


def test_multipart_part_limit_is_413():
    part = b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n'
    request = make("POST", body=part * 6 + b"--b--\r\n",
                   content_type="multipart/form-data; boundary=b", limits=Limits(multipart_parts=5))
    with pytest.raises(RequestTooLarge):
        request.arguments


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab\n,:é', max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(alphabet='[]{}"\\a', max_size=4), inner, max_size=3),
    max_leaves=60,
)


@settings(max_examples=300, deadline=None)
@given(value=_json_values, limit=st.integers(0, 12), indent=st.sampled_from([None, 1]))
def test_security_1_json_depth_scan_agrees_with_real_depth(value, limit, indent):
    text = json.dumps(value, indent=indent, ensure_ascii=False).encode()
    assert json_depth_over(text, limit) == (_depth(value) > limit)


def test_security_1_json_depth_scan_reads_strings_as_json_does():
    # Escaped backslashes before a quote: the quote ends the string, brackets after count.
    assert json_depth_over(b'["\\\\\\\\", [[[1]]]]', 3)
    assert not json_depth_over(b'["\\\\\\"[[[[", [1]]', 3)
    assert not json_depth_over(b'["[[[[[[[[", "]]]]"]', 2)
    assert json_depth_over(b"[" * 101 + b"]" * 101, 100)
    assert not json_depth_over(b"[]" * 101 + b'"' + b'\\"' * 1000, 100)
