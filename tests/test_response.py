"""Responses: one buffer, correct Content-Length, no body where HTTP forbids one."""

import pytest

from brubeck.response import (
    Response,
    http_bytes,
    http_response,
    parse_http,
    render,
    to_response,
)


def test_to_http_one_buffer_with_length():
    raw = Response("héllo", 200, headers={"X-A": "1"}).to_http("GET")
    head, body = raw.split(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 200 OK"
    assert b"Content-Length: 6" in head and body == "héllo".encode()


def test_head_keeps_length_but_drops_body():
    raw = Response("abc").to_http("HEAD")
    assert raw.endswith(b"Content-Length: 3\r\n\r\n")


@pytest.mark.parametrize("status", [204, 304])
def test_bodyless_statuses(status):
    raw = Response("ignored", status).to_http("GET")
    assert raw.endswith(b"\r\n\r\n") and b"Content-Length" not in raw


def test_header_injection_refused():
    for headers in ({"X-A": "1\r\nSet-Cookie: evil=1"}, {"X\nB": "1"}, {"": "x"}):
        with pytest.raises(ValueError):
            Response("x", headers=headers).to_http()
        assert http_bytes(Response("x", headers=headers), "GET").startswith(b"HTTP/1.1 500")


def test_http_response_is_04_text():
    text = http_response("Take five!", 200, "OK", {})
    assert text == "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nTake five!"
    assert http_response("é", 200, "OK", {}).startswith("HTTP/1.1 200 OK\r\nContent-Length: 2")


def test_render_is_04_dict():
    assert render("b", 201, "Created", {"A": "1"}) == {
        "body": "b", "status_code": 201, "status_msg": "Created", "headers": {"A": "1"}}


def test_to_response_accepts_every_return_shape():
    assert to_response(render("b", 201, "Created", {})).status_code == 201
    parsed = to_response(http_response("x", 202, "Accepted", {"X-Y": "z"}))
    assert (parsed.status_code, parsed.status_msg, parsed.body) == (202, "Accepted", b"x")
    assert parsed.get_header("x-y") == "z"
    assert to_response("plain").body == b"plain"
    resp = Response("r")
    assert to_response(resp) is resp


def test_parse_http_keeps_multiple_set_cookie_lines():
    parsed = parse_http("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n")
    assert [v for k, v in parsed.headers if k == "Set-Cookie"] == ["a=1", "b=2"]


def test_response_subscript_like_04_dict():
    resp = Response("b", 201)
    assert resp["status_code"] == 201 and resp["body"] == b"b"


def test_security_16_nosniff_on_every_serialized_response():
    for response in (Response("x"), Response("", 204), Response("", 304), Response("", 101),
                     Response("e", 500)):
        raw = response.to_http("GET")
        assert raw.count(b"X-Content-Type-Options: nosniff\r\n") == 1
    own = Response("x", headers={"x-content-type-options": "nosniff"})
    assert own.to_http().lower().count(b"x-content-type-options") == 1
    assert http_bytes(Response("x", headers={"X": "a\nb"}), "GET").count(b"nosniff") == 1
