"""Request parsing: arguments, JSON, cookies, multipart; bad input is a 4xx."""

import pytest

from brubeck.errors import BadRequest, HTTPError, RequestTooLarge
from brubeck.limits import Limits
from brubeck.request import Headers, Request, decode_path, parse_cookie_header, parse_json
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
    assert req.get_argument("b") == ""
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
