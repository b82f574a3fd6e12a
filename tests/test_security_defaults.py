"""Safe defaults (security issue #13, items 6 and 16): Secure cookies and HSTS with
`secure_cookies`, the scheme of trusted proxies only, the Host check, escaped logs."""

import json
import logging

import pytest

from brubeck.app import forwarded_scheme, host_allowed, host_name
from brubeck.auth import UserHandlingMixin
from brubeck.models import User
from brubeck.request import Request
from brubeck.request_handling import Brubeck, WebMessageHandler
from brubeck.testing import TestClient

SECRET = "s" * 43


class SchemeHandler(WebMessageHandler, UserHandlingMixin):
    def get(self):
        self.set_body(json.dumps({"scheme": self.message.scheme,
                                  "form": self.xsrf_form_html()}))
        return self.render()

    def post(self):
        self.start_session(User(username="jd"))
        return self.render(status_code=204)


def app(**config):
    return Brubeck(handler_tuples=[(r"^/scheme$", SchemeHandler)], cookie_secret=SECRET,
                   **config)


def set_cookie(response, name):
    return next(c for c in response.headers.get_all("set-cookie") if c.startswith(name + "="))


# -- item 6: secure_cookies -------------------------------------------------------------

def test_security_6_secure_cookies_marks_session_and_xsrf_cookies(make_client):
    client = make_client(app(secure_cookies=True))
    assert "; Secure" in set_cookie(client.post("/scheme"), "session")
    assert "; Secure" in set_cookie(client.get("/scheme"), "_xsrf")


def test_security_6_plain_http_without_secure_cookies_has_no_secure_flag(make_client):
    client = make_client(app())
    assert "Secure" not in set_cookie(client.post("/scheme"), "session")
    response = client.get("/scheme")
    assert "Secure" not in set_cookie(response, "_xsrf")
    assert "Strict-Transport-Security" not in response.headers


def test_security_6_hsts_with_secure_cookies(make_client):
    client = make_client(app(secure_cookies=True))
    for response in (client.get("/scheme"), client.get("/missing"), client.post("/scheme")):
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


# -- item 6: the scheme a trusted proxy reports ---------------------------------------------

PROXY_HEADERS = [
    ({"X-Forwarded-Proto": "https"}, "https"),
    ({"Forwarded": "for=1.2.3.4;proto=https"}, "https"),
    ({"Forwarded": 'for=1.2.3.4;Proto="HTTPS";by=x'}, "https"),
    ({"Forwarded": "proto=http, for=5.6.7.8;proto=https"}, "https"),  # the nearest proxy's
    ({"X-Forwarded-Proto": "http, https"}, "https"),
    ({"X-Forwarded-Proto": "gopher"}, "http"),
    ({"Forwarded": "for=1.2.3.4", "X-Forwarded-Proto": "https"}, "http"),  # Forwarded wins
]


@pytest.mark.parametrize(("headers", "scheme"), PROXY_HEADERS)
def test_security_6_trusted_proxy_sets_the_scheme(make_client, headers, scheme):
    client = make_client(app(trusted_proxies=["127.0.0.1"]))  # every test client's address
    response = client.get("/scheme", headers=headers)
    assert json.loads(response.text)["scheme"] == scheme


@pytest.mark.parametrize(("headers", "scheme"), PROXY_HEADERS[:2])
def test_security_6_other_peers_cannot_claim_https(make_client, headers, scheme):
    client = make_client(app(trusted_proxies=["10.0.0.1"]))
    assert json.loads(client.get("/scheme", headers=headers).text)["scheme"] == "http"
    client = make_client(app())
    assert json.loads(client.get("/scheme", headers=headers).text)["scheme"] == "http"


def test_security_6_https_through_a_trusted_proxy_gets_secure_cookies(make_client):
    client = make_client(app(trusted_proxies=["127.0.0.1"]))
    response = client.post("/scheme", headers={"X-Forwarded-Proto": "https"})
    assert "; Secure" in set_cookie(response, "session")


def test_security_6_forwarded_scheme_parser():
    def scheme(*headers):
        return forwarded_scheme(Request("GET", "/", headers=list(headers)))

    assert scheme() is None
    assert scheme(("Forwarded", "proto=https"), ("Forwarded", "proto=http")) == "http"
    assert scheme(("X-Forwarded-Proto", "https"), ("X-Forwarded-Proto", "http")) == "http"
    assert scheme(("Forwarded", "proto=" + "x" * 100_000)) is None


# -- item 16: allowed_hosts -----------------------------------------------------------------

@pytest.mark.parametrize(("host", "name"), [
    ("Example.COM", "example.com"), ("example.com:8000", "example.com"),
    ("example.com.", "example.com"), ("[::1]:8000", "[::1]"), ("[::1]", "[::1]"),
    ("127.0.0.1:80", "127.0.0.1"), ("example.com:", None), ("a:b:c", None),
    ("evil.com/x", None), ("evil.com@good.com", None), ("", None), ("é.com", None),
    ("example.com:٨٠", None),
])
def test_security_16_host_name(host, name):
    assert host_name(host) == name


def test_security_16_host_allowed_rules():
    allowed = ["example.com", ".example.org"]
    assert host_allowed("example.com", allowed)
    assert not host_allowed("www.example.com", allowed)
    assert host_allowed("example.org", allowed) and host_allowed("a.b.example.org", allowed)
    assert not host_allowed("evilexample.org", allowed)
    assert host_allowed("anything", ["*"])


class HostHandler(WebMessageHandler):
    def get(self):
        self.set_body("hello")
        return self.render()


@pytest.mark.parametrize(("host", "status"), [
    ("example.com", 200), ("example.com:8443", 200), ("api.example.org", 200),
    ("evil.com", 400), ("example.com.evil.com", 400), (None, 400), ("bad host", 400),
])
def test_security_16_allowed_hosts_checks_the_host_header(host, status):
    client = TestClient(Brubeck(handler_tuples=[(r"^/$", HostHandler)],
                                allowed_hosts=["example.com", ".example.org"]))
    response = client.get("/", headers={"Host": host} if host is not None else {})
    assert response.status_code == status
    assert ("hello" in response.text) == (status == 200)


def test_security_16_allowed_hosts_is_off_by_default():
    client = TestClient(Brubeck(handler_tuples=[(r"^/$", HostHandler)]))
    assert client.get("/", headers={"Host": "anything.example"}).status_code == 200


def test_security_16_refused_host_is_logged_escaped(caplog):
    client = TestClient(Brubeck(handler_tuples=[(r"^/$", HostHandler)],
                                allowed_hosts=["example.com"]))
    with caplog.at_level(logging.INFO):
        assert client.get("/", headers={"Host": "evil.com\x1b[2J"}).status_code == 400
    assert "evil.com\\x1b[2J" in caplog.text and "\x1b" not in caplog.text


# -- item 16: client text in log lines is escaped ------------------------------------------------

class Crash(WebMessageHandler):
    def get(self):
        raise RuntimeError("boom")

    def post(self):
        from brubeck.errors import HTTPError

        raise HTTPError(403, log_message="refused")


def crash_function(application, message):
    raise RuntimeError("boom")


@pytest.mark.parametrize("path", ["/crash/\n2024 INFO forged line", "/fun/\x1b[31mred"])
def test_security_16_logged_paths_are_escaped(caplog, path):
    client = TestClient(Brubeck(handler_tuples=[(r"^/crash/", Crash),
                                                (r"^/fun/", crash_function)]))
    with caplog.at_level(logging.WARNING):
        assert client.get(path.replace("\n", "%0A").replace("\x1b", "%1B")).status_code == 500
        if path.startswith("/crash"):
            assert client.post(path.replace("\n", "%0A")).status_code == 403
    messages = [record.getMessage() for record in caplog.records]
    assert messages and all("\n" not in m and "\x1b" not in m for m in messages)
    assert any("\\x0a" in m or "\\x1b" in m for m in messages)
