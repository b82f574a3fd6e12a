"""Signed cookies: round trip, tampering, expiry, rotation, garbage; Set-Cookie safety."""

import json
import logging
import time

import pytest

from brubeck import cookies
from brubeck.request_handling import Brubeck, WebMessageHandler

SECRET = "OMGSOOOOSECRET"
NOW = 1_700_000_000


# -- sign / verify ---------------------------------------------------------------------

@pytest.mark.parametrize("value", ["jd", 42, None, [1, "two"], {"id": 7, "roles": ["a"]},
                                   "ünïcødé ☕", "a;b=c\r\n"])
def test_round_trip_of_any_json_value(value):
    signed = cookies.sign(SECRET, "user", value, now=NOW)
    assert cookies.verify(SECRET, "user", signed, now=NOW + 1) == value


def test_signed_value_is_a_valid_cookie_value():
    signed = cookies.sign(SECRET, "user", {"x": "a;b c\"d"})
    cookies.format_set_cookie("user", signed)  # does not raise


def _one_byte_changes(text):
    for i, char in enumerate(text):
        for replacement in {"A", "0", "_"} - {char}:
            yield i, text[:i] + replacement + text[i + 1:]


def test_changing_any_single_byte_is_rejected():
    signed = cookies.sign(SECRET, "user", {"id": 7}, now=NOW)
    tried = 0
    for i, forged in _one_byte_changes(signed):
        assert cookies.verify(SECRET, "user", forged, now=NOW) is None, (i, forged)
        tried += 1
    assert tried >= 2 * len(signed)


@pytest.mark.parametrize("part", range(5))
def test_each_part_tampered_is_rejected(part):
    """Each dot-separated part: format, key version, timestamp, value, signature."""
    signed = cookies.sign({0: "old", 1: SECRET}, "user", "jd", now=NOW)
    fields = signed.split(".")
    for replacement in {"v2", "0", str(NOW + 1), cookies._b64(b'"admin"'), fields[4][::-1]}:
        if replacement == fields[part]:
            continue
        forged = ".".join([*fields[:part], replacement, *fields[part + 1:]])
        assert cookies.verify({0: "old", 1: SECRET}, "user", forged, now=NOW) is None


def test_signature_is_bound_to_the_cookie_name():
    signed = cookies.sign(SECRET, "user", "jd", now=NOW)
    assert cookies.verify(SECRET, "admin", signed, now=NOW) is None


def test_wrong_secret_is_rejected():
    signed = cookies.sign(SECRET, "user", "jd", now=NOW)
    assert cookies.verify("other", "user", signed, now=NOW) is None


def test_expiry():
    signed = cookies.sign(SECRET, "user", "jd", now=NOW)
    assert cookies.verify(SECRET, "user", signed, max_age=60, now=NOW + 60) == "jd"
    assert cookies.verify(SECRET, "user", signed, max_age=60, now=NOW + 61) is None
    default = cookies.DEFAULT_MAX_AGE
    assert cookies.verify(SECRET, "user", signed, now=NOW + default) == "jd"
    assert cookies.verify(SECRET, "user", signed, now=NOW + default + 1) is None
    assert cookies.verify(SECRET, "user", signed, max_age=None, now=NOW + 10 * default) == "jd"


def test_key_rotation():
    old = cookies.sign({1: "first"}, "user", "jd", now=NOW)
    rotated = {1: "first", 2: "second"}
    new = cookies.sign(rotated, "user", "jd", now=NOW)
    assert new.split(".")[1] == "2"  # the highest version signs
    assert cookies.verify(rotated, "user", old, now=NOW) == "jd"  # older still verify
    assert cookies.verify(rotated, "user", new, now=NOW) == "jd"
    assert cookies.verify({2: "second"}, "user", old, now=NOW) is None  # until removed
    assert cookies.verify({1: "first"}, "user", new, now=NOW) is None  # unknown version


def test_a_plain_string_secret_is_version_zero():
    signed = cookies.sign(SECRET, "user", "jd", now=NOW)
    assert signed.split(".")[1] == "0"
    assert cookies.verify({0: SECRET}, "user", signed, now=NOW) == "jd"


GARBAGE = [
    "", ".", "....", "v1....", "jd", "v1.0.1.e30", "v1.0.1.e30.sig.extra", "v2.0.1.e30.x",
    "v1.x.1.e30.sig", "v1.0.-1.e30.sig", "v1.².1.e30.sig", "v1.0.١٢.e30.sig",
    "v1." + "9" * 5000 + ".1.e30.sig", "v1.0." + "9" * 5000 + ".e30.sig",
    "v1.0.1.e30.\udcff", "v1.0.1.%%%%.sig", "\x00\x01", "v1.0.1.e30.é", 12, None, b"v1.0",
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_reads_as_none_never_an_exception(garbage):
    assert cookies.verify(SECRET, "user", garbage) is None


def test_truncated_values_read_as_none():
    signed = cookies.sign(SECRET, "user", {"id": 7}, now=NOW)
    for length in range(len(signed)):
        assert cookies.verify(SECRET, "user", signed[:length], now=NOW) is None


def test_signed_but_undecodable_value_reads_as_none():
    """Only the key holder can make one; still not an exception."""
    fields = f"v1.0.{NOW}.{cookies._b64(b'not json')}"
    forged = f"{fields}.{cookies._signature(SECRET.encode(), 'user', fields)}"
    assert cookies.verify(SECRET, "user", forged, now=NOW) is None


def test_rejections_are_logged(caplog):
    signed = cookies.sign(SECRET, "user", "jd", now=NOW)
    with caplog.at_level(logging.INFO, logger="brubeck.cookies"):
        cookies.verify(SECRET, "user", signed[:-1] + "A", now=NOW)
        cookies.verify(SECRET, "user", signed, max_age=1, now=NOW + 5)
    assert "bad signature" in caplog.text and "expired" in caplog.text


def test_never_pickle():
    signed = cookies.sign(SECRET, "user", {"a": 1})
    assert json.loads(cookies._unb64(signed.split(".")[3])) == {"a": 1}


# -- Set-Cookie --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a;b", "a b", "a\r\nSet-Cookie: x", "a\n", "a=b", "", "é",
                                  "a\x00", "a\x7f", 'a"'])
def test_bad_names_refused(name):
    with pytest.raises(ValueError):
        cookies.format_set_cookie(name, "v")


@pytest.mark.parametrize("value", ["a;b", "a b", "a\r\nSet-Cookie: x", "v\n", "a,b", 'a"b',
                                   "a\\b", "é", "a\x00", "a\x7f", "\t"])
def test_bad_values_refused(value):
    with pytest.raises(ValueError):
        cookies.format_set_cookie("n", value)


@pytest.mark.parametrize("attribute", [{"path": "/a;b"}, {"path": "/\r\n"}, {"path": "/x\n"},
                                       {"domain": "a.com; Secure"}, {"domain": "é.com"},
                                       {"samesite": "Sometimes"}])
def test_bad_attributes_refused(attribute):
    with pytest.raises(ValueError):
        cookies.format_set_cookie("n", "v", **attribute)


def test_flags():
    header = cookies.format_set_cookie("n", "v", max_age=60, path="/app", domain="example.com",
                                       secure=True, httponly=True, samesite="strict",
                                       expires=0)
    assert header == ("n=v; Path=/app; Domain=example.com; Max-Age=60; "
                      "Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Strict; Secure; HttpOnly")
    assert cookies.format_set_cookie("n", "v") == "n=v; Path=/"


def test_samesite_none_forces_secure():
    assert cookies.format_set_cookie("n", "v", samesite="none").endswith("SameSite=None; Secure")


# -- through handlers, on every transport -------------------------------------------------

class CookieHandler(WebMessageHandler):
    def get(self):
        user = self.get_cookie("user", secret=self.application.cookie_secret)
        self.set_body(json.dumps({"user": user, "plain": self.get_cookie("plain")}))
        return self.render()

    def post(self):
        self.set_cookie("user", {"name": self.get_argument("name")},
                        secret=self.application.cookie_secret)
        self.set_cookie("plain", "hello")
        return self.render(status_code=204)

    def put(self):
        self.set_cookie(self.get_argument("name"), self.get_argument("value"))
        return self.render(status_code=204)

    def delete(self):
        self.delete_cookies()
        return self.render(status_code=204)


def cookie_app(**config):
    return Brubeck(handler_tuples=[(r"^/cookie$", CookieHandler)], cookie_secret=SECRET,
                   **config)


def test_signed_cookie_round_trip_through_handlers(make_client):
    client = make_client(cookie_app())
    response = client.post("/cookie", data={"name": "jd"})
    set_cookies = response.headers.get_all("set-cookie")
    signed = next(c for c in set_cookies if c.startswith("user="))
    assert "HttpOnly" in signed and "SameSite=Lax" in signed and "Max-Age=2678400" in signed
    assert "Secure" not in signed  # plain http; https requests get Secure by default
    assert next(c for c in set_cookies if c.startswith("plain=")) == "plain=hello; Path=/"
    assert client.get("/cookie").json() == {"user": {"name": "jd"}, "plain": "hello"}


def test_tampered_cookie_reads_as_none_through_handlers(make_client):
    client = make_client(cookie_app())
    client.post("/cookie", data={"name": "jd"})
    value = client.cookies["user"]
    client.cookies["user"] = value[:-2] + ("AA" if value[-2:] != "AA" else "BB")
    response = client.get("/cookie")
    assert response.status_code == 200
    assert response.json()["user"] is None


def test_expired_cookie_reads_as_none_through_handlers(make_client):
    client = make_client(cookie_app(cookie_max_age=60))
    client.cookies["user"] = cookies.sign(SECRET, "user", "jd", now=time.time() - 61)
    assert client.get("/cookie").json()["user"] is None
    client.cookies["user"] = cookies.sign(SECRET, "user", "jd", now=time.time() - 30)
    assert client.get("/cookie").json()["user"] == "jd"


def test_garbage_cookie_is_none_not_an_error(make_client):
    client = make_client(cookie_app())
    client.cookies["user"] = "v1.².1.e30.sig"
    response = client.get("/cookie")
    assert response.status_code == 200 and response.json()["user"] is None


def test_header_injection_through_set_cookie_is_a_500_not_a_header(make_client):
    client = make_client(cookie_app())
    response = client.put("/cookie", data={"name": "x", "value": "a\r\nX-Evil: 1"})
    assert response.status_code == 500
    assert "X-Evil" not in response.headers


def test_delete_cookies_expires_them(make_client):
    client = make_client(cookie_app())
    client.post("/cookie", data={"name": "jd"})
    response = client.delete("/cookie")
    expired = response.headers.get_all("set-cookie")
    assert sorted(c.split("=")[0] for c in expired) == ["plain", "user"]
    assert all("Max-Age=0" in c for c in expired)
    assert client.get("/cookie").json() == {"user": None, "plain": None}


# -- security issue #13 ------------------------------------------------------------------

@pytest.mark.parametrize("odd", ["cart[1]=x", "a b=1", "é=1", "x,y=2", "=nameless",
                                 'q"=1', "a(b)=c"])
def test_security_9_delete_cookies_skips_names_it_cannot_express(make_client, odd):
    """Logout must complete (and expire the session) whatever else the browser holds."""
    client = make_client(cookie_app())
    client.post("/cookie", data={"name": "jd"})
    cookie_header = f"{odd}; user={client.cookies['user']}; plain=hello"
    response = client.delete("/cookie", headers={"Cookie": cookie_header})
    assert response.status_code == 204
    expired = response.headers.get_all("set-cookie")
    assert sorted(c.split("=")[0] for c in expired) == ["plain", "user"]
    assert all("Max-Age=0" in c for c in expired)


def test_security_9_is_cookie_name():
    assert cookies.is_cookie_name("session") and cookies.is_cookie_name("_xsrf")
    for name in ("cart[1]", "", "a b", "é", "a;b", None, "a\n"):
        assert not cookies.is_cookie_name(name)


def test_security_2_plain_get_cookie_still_returns_the_raw_value(make_client):
    client = make_client(cookie_app())
    client.put("/cookie", data={"name": "plain", "value": "unsigned"})
    assert client.get("/cookie").json()["plain"] == "unsigned"


def test_security_2_explicit_none_secret_raises_not_reads_raw():
    from brubeck.request import Request

    handler = CookieHandler(cookie_app(), Request("GET", "/", headers={"Cookie": "user=admin"}))
    with pytest.raises(cookies.MissingSecret, match="cookie_secret is not set"):
        handler.get_cookie("user", secret=None)
    with pytest.raises(cookies.MissingSecret):
        handler.get_cookie("absent", secret="")
    with pytest.raises(cookies.MissingSecret):
        handler.set_cookie("user", "admin", secret=None)
    assert handler.cookies == {}
    assert handler.get_cookie("user") == "admin"  # not given: the plain value
