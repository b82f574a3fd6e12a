"""Authentication: the README's snippets, 0.4's demo patterns, safe `next=`, XSRF, and
password hashing that leaves the event loop free."""

import re
import time

import pytest

from brubeck import concurrency, passwords
from brubeck.auth import (
    User,
    UserHandlingMixin,
    authenticate,
    authenticated,
    login_redirect_url,
    safe_next,
    web_authenticated,
)
from brubeck.request_handling import Brubeck, WebMessageHandler
from brubeck.testing import LiveClient

SECRET = "OMGSOOOOSECRET"
demo_user = User.create_user("jd", "foo", is_active=True)


# -- the README's snippets and 0.4's demos ----------------------------------------------

class ReadmeHandler(WebMessageHandler, UserHandlingMixin):
    """The README's auth snippet, with its secure-cookie snippet as get_current_user."""

    def get_current_user(self):
        # Try loading credentials from secure cookie
        user_id = self.get_cookie('user_id',
                                  secret=self.application.cookie_secret)
        return demo_user if user_id == demo_user.username else None

    @web_authenticated
    def post(self):
        self.set_body(f"posted as {self.current_user.username}")
        return self.render()


class DemoAuthHandler(WebMessageHandler, UserHandlingMixin):
    """demo_auth.py's pattern: credentials in the arguments, @authenticated."""

    calls = 0

    def get_current_user(self):
        DemoAuthHandler.calls += 1
        username = self.get_argument('username')
        password = self.get_argument('password')
        if demo_user.username != username:
            return None
        return demo_user if demo_user.check_password(password) else None

    @authenticated
    def post(self):
        assert self.current_user is self.current_user  # computed once, then kept
        self.set_body(f"{self.current_user.username} logged in successfully!")
        return self.render()


class CookieAuthMixin(WebMessageHandler, UserHandlingMixin):
    """demo_login.py's shape, keeping a signed username instead of a password cookie."""

    def get_current_user(self):
        username = self.get_cookie("user", secret=self.application.cookie_secret)
        if username is None:
            username, password = self.get_argument("username"), self.get_argument("password")
            found = demo_user if username == demo_user.username else None
            if authenticate(found, password or "") is None:
                return None
            self.set_cookie("user", username, secret=self.application.cookie_secret)
        return demo_user if username == demo_user.username else None


class LandingHandler(CookieAuthMixin):
    @web_authenticated
    def get(self):
        self.set_body(f"Hello, {self.current_user.username}")
        return self.render()


class LoginHandler(CookieAuthMixin):
    def get(self):
        self.set_body("login form; next=" + self.get_next_url())
        return self.render()

    @web_authenticated
    def post(self):
        return self.redirect(self.get_next_url())


class LogoutHandler(CookieAuthMixin):
    def get(self):
        self.delete_cookies()
        return self.redirect(self.application.login_url)


class ProfileHandler(WebMessageHandler, UserHandlingMixin):
    """The other hooks: current_userprofile and an overridden auth_error."""

    def get_current_user(self):
        return demo_user if self.get_argument("as") == "jd" else None

    def get_current_userprofile(self):
        return {"bio": "hi"} if self.current_user else None

    def auth_error(self):
        def challenge():
            self.headers["WWW-Authenticate"] = 'Cookie realm="demo"'
        return self.render_error(401, error_handler=challenge)

    @authenticated
    def get(self):
        self.set_body(self.current_userprofile["bio"])
        return self.render()


def auth_app(**config):
    return Brubeck(handler_tuples=[
        (r"^/readme$", ReadmeHandler),
        (r"^/demo_auth$", DemoAuthHandler),
        (r"^/profile$", ProfileHandler),
        (r"^/login$", LoginHandler),
        (r"^/logout$", LogoutHandler),
        (r"^/", LandingHandler),
    ], cookie_secret=SECRET, login_url="/login", **config)


@pytest.fixture
def client(make_client):
    return make_client(auth_app())


def test_readme_snippets(client):
    anonymous = client.post("/readme")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == "/login"  # a POST is not replayed: no next
    from brubeck import cookies
    client.cookies["user_id"] = cookies.sign(SECRET, "user_id", "jd")
    assert client.post("/readme").text == "posted as jd"


def test_demo_auth_pattern_answers_401_then_200(client):
    assert client.post("/demo_auth").status_code == 401
    assert client.post("/demo_auth", data={"username": "jd", "password": "bad"}).status_code \
        == 401
    DemoAuthHandler.calls = 0
    response = client.post("/demo_auth", data={"username": "jd", "password": "foo"})
    assert (response.status_code, response.text) == (200, "jd logged in successfully!")
    assert DemoAuthHandler.calls == 1


def test_userprofile_and_auth_error_hooks(client):
    refused = client.get("/profile")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Cookie realm="demo"'
    assert client.get("/profile", params={"as": "jd"}).text == "hi"


def test_get_current_user_is_the_mixins_not_the_handlers():
    assert not hasattr(WebMessageHandler, "get_current_user")
    assert not hasattr(WebMessageHandler, "current_user")


def test_login_flow_of_demo_login(client):
    first = client.get("/")
    assert first.status_code == 302
    assert first.headers["Location"] == "/login?next=%2F"
    assert client.post("/login", data={"username": "jd", "password": "nope"}).headers[
        "Location"] == "/login"
    assert "user" not in client.cookies
    logged_in = client.post("/login?next=/", data={"username": "jd", "password": "foo"})
    assert (logged_in.status_code, logged_in.headers["Location"]) == (302, "/")
    assert "user" in client.cookies and "foo" not in client.cookies["user"]
    assert client.get("/").text == "Hello, jd"
    out = client.get("/logout")
    assert out.headers["Location"] == "/login"
    assert "user" not in client.cookies
    assert client.get("/").status_code == 302


# -- next= --------------------------------------------------------------------------------

def test_redirect_to_login_carries_a_safe_next(client):
    response = client.get("/private/page", params={"tab": "a b", "x": "1"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fprivate%2Fpage%3Ftab%3Da%2Bb%26x%3D1"
    back = client.get("/login?next=%2Fprivate%2Fpage%3Ftab%3Da%2Bb%26x%3D1")
    assert back.text == "login form; next=/private/page?tab=a+b&x=1"


def test_current_path_is_quoted_into_next(client):
    response = client.get("/caf%C3%A9%20x")
    assert response.headers["Location"] == "/login?next=%2Fcaf%25C3%25A9%2520x"


def stub_handler(method, path, query="", login_url="/login"):
    class Stub:
        application = type("App", (), {"login_url": login_url})
        message = type("Message", (), {"method": method, "path": path, "query_string": query})
    return Stub


def test_login_page_itself_gets_no_next():
    assert login_redirect_url(stub_handler("GET", "/login", "a=1")) == "/login"
    assert login_redirect_url(stub_handler("GET", "/in", login_url="https://sso.example/in")) \
        == "https://sso.example/in?next=%2Fin"


def test_login_url_with_a_query_gets_an_ampersand(make_client):
    client = make_client(Brubeck(handler_tuples=[(r"^/", LandingHandler)],
                                 cookie_secret=SECRET, login_url="/auth?via=web"))
    assert client.get("/x").headers["Location"] == "/auth?via=web&next=%2Fx"


OPEN_REDIRECTS = ["//evil.com", "https://evil.com", "/\\evil.com", "\\\\evil.com",
                  "http:/evil.com", "/\t/evil.com", "/\n/evil.com", " //evil.com",
                  "///evil.com", "javascript:alert(1)", "evil.com", "/\r\n/evil.com", ""]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_open_redirect_attempts_are_refused(client, target):
    response = client.post("/login", params={"next": target},
                           data={"username": "jd", "password": "foo"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_safe_next_refuses(target):
    assert safe_next(target, default="/home") == "/home"


@pytest.mark.parametrize("target", ["/", "/a/b?c=d&e=%2F%2Fevil.com", "/a#frag", "/%2F%2Fx"])
def test_safe_next_keeps_local_paths(target):
    assert safe_next(target) == target


def test_next_is_not_built_from_an_unsafe_current_path():
    assert login_redirect_url(stub_handler("GET", "//evil.com")) == "/login"
    # quoted, a backslash is just a path character: safe to come back to
    assert login_redirect_url(stub_handler("GET", "/\\evil.com")) == \
        "/login?next=%2F%255Cevil.com"
    assert safe_next("/%5Cevil.com") == "/%5Cevil.com"
    assert login_redirect_url(stub_handler("HEAD", "/a")) == "/login?next=%2Fa"
    assert login_redirect_url(stub_handler("DELETE", "/a")) == "/login"


# -- XSRF ---------------------------------------------------------------------------------

class FormHandler(WebMessageHandler):
    def get(self):
        self.set_body(f"<form method=post>{self.xsrf_form_html()}</form>")
        return self.render()

    def post(self):
        self.set_body("accepted")
        return self.render()

    put = patch = delete = post


def xsrf_app(enabled=True):
    return Brubeck(handler_tuples=[(r"^/form$", FormHandler)], xsrf_cookies=enabled)


def form_token(response):
    return re.search(r'name="_xsrf" value="([0-9a-f]+)"', response.text).group(1)


@pytest.fixture
def xsrf_client(make_client):
    return make_client(xsrf_app())


def test_xsrf_cookie_and_form_field(xsrf_client):
    page = xsrf_client.get("/form")
    cookie = next(c for c in page.headers.get_all("set-cookie") if c.startswith("_xsrf="))
    assert "SameSite=Lax" in cookie and "HttpOnly" not in cookie  # scripts may echo it
    token = form_token(page)
    assert xsrf_client.post("/form", data={"_xsrf": token}).text == "accepted"


def test_xsrf_token_is_masked_differently_each_time(xsrf_client):
    first, second = form_token(xsrf_client.get("/form")), form_token(xsrf_client.get("/form"))
    assert first != second != xsrf_client.cookies["_xsrf"]
    for token in (first, second, xsrf_client.cookies["_xsrf"]):
        assert xsrf_client.post("/form", data={"_xsrf": token}).status_code == 200


def test_xsrf_cookie_is_kept_once_set(xsrf_client):
    xsrf_client.get("/form")
    again = xsrf_client.get("/form")
    assert not any(c.startswith("_xsrf=") for c in again.headers.get_all("set-cookie"))


@pytest.mark.parametrize("header", ["X-XSRFToken", "X-CSRFToken"])
def test_xsrf_header_accepted(xsrf_client, header):
    token = form_token(xsrf_client.get("/form"))
    assert xsrf_client.put("/form", headers={header: token}).status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_xsrf_missing_token_is_403(xsrf_client, method):
    xsrf_client.get("/form")
    response = getattr(xsrf_client, method)("/form")
    assert response.status_code == 403
    assert "accepted" not in response.text


def test_xsrf_wrong_token_is_403(xsrf_client, make_client):
    xsrf_client.get("/form")
    other = make_client(xsrf_app())
    foreign = form_token(other.get("/form"))  # well formed, another client's token
    assert xsrf_client.post("/form", data={"_xsrf": foreign}).status_code == 403
    token = form_token(xsrf_client.get("/form"))
    tampered = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert xsrf_client.post("/form", data={"_xsrf": tampered}).status_code == 403
    for garbage in ("", "zz", "x" * 64, token[:-2]):
        assert xsrf_client.post("/form", data={"_xsrf": garbage}).status_code == 403


def test_xsrf_token_without_its_cookie_is_403(xsrf_client):
    token = form_token(xsrf_client.get("/form"))
    xsrf_client.cookies.clear()
    assert xsrf_client.post("/form", data={"_xsrf": token}).status_code == 403


def test_xsrf_cookie_copied_into_the_form_by_an_attacker_must_match(xsrf_client):
    """Double submit: a request carries a cookie the attacker cannot read, so cannot copy."""
    xsrf_client.get("/form")
    xsrf_client.cookies["_xsrf"] = "0" * 64  # mask 0, token 0
    assert xsrf_client.post("/form", data={"_xsrf": "1" * 64}).status_code == 200  # token 0
    assert xsrf_client.post("/form", data={"_xsrf": "0" * 63 + "1"}).status_code == 403


def test_safe_methods_are_not_checked(xsrf_client):
    assert xsrf_client.get("/form").status_code == 200
    assert xsrf_client.options("/form").status_code == 204


def test_xsrf_is_opt_in(make_client):
    client = make_client(xsrf_app(enabled=False))
    assert client.post("/form").text == "accepted"


# -- hashing does not stall the loop ----------------------------------------------------------

SLOW = passwords.ScryptParams(n=2**16, r=8, p=1)  # ~64 MiB, on the order of 100 ms


class Probe:
    def __init__(self):
        backend = concurrency.active()
        self.started = backend.Event()
        self.hashing = False
        self.hash_seconds = None


class HashHandler(WebMessageHandler):
    def post(self):
        probe = self.application.probe
        probe.hashing = True
        probe.started.set()
        start = time.perf_counter()
        passwords.hash_password("correct horse", SLOW)
        probe.hash_seconds = time.perf_counter() - start
        probe.hashing = False
        self.set_body("hashed")
        return self.render()


class PingHandler(WebMessageHandler):
    def get(self):
        self.set_body("pong")
        return self.render()


def hash_while_pinging(live_wsgi_server):
    """Two greenlets: one POSTs a password hash; the other GETs once hashing began."""
    backend = concurrency.active()
    app = Brubeck(handler_tuples=[(r"^/hash$", HashHandler), (r"^/ping$", PingHandler)])
    app.probe = Probe()
    live_wsgi_server.app = app
    LiveClient(live_wsgi_server.url).get("/ping")  # warm up the server

    def hash_request():
        client = LiveClient(live_wsgi_server.url)
        try:
            return client.post("/hash").text
        finally:
            client.close()

    def ping_request():
        app.probe.started.wait(10)
        client = LiveClient(live_wsgi_server.url)
        try:
            start = time.perf_counter()
            text = client.get("/ping").text
            return text, time.perf_counter() - start, app.probe.hashing
        finally:
            client.close()

    hasher, pinger = backend.spawn(hash_request), backend.spawn(ping_request)

    def result(greenlet):
        return greenlet.get() if hasattr(greenlet, "get") else greenlet.wait()

    (pong, ping_seconds, during_hash), hashed = result(pinger), result(hasher)
    assert (pong, hashed) == ("pong", "hashed")
    return ping_seconds, during_hash, app.probe.hash_seconds


def test_a_get_answers_quickly_while_a_password_hashes(live_wsgi_server):
    ping_seconds, during_hash, hash_seconds = hash_while_pinging(live_wsgi_server)
    assert during_hash, "the GET should have been answered while the hash was running"
    assert ping_seconds < hash_seconds / 5, (ping_seconds, hash_seconds)


def test_control_hashing_inline_does_stall_the_loop(live_wsgi_server, monkeypatch):
    """The same measurement with run_in_thread bypassed: the GET waits for the hash."""
    monkeypatch.setattr(passwords, "off_loop", lambda fn, *args: fn(*args))
    _ping_seconds, during_hash, _hash_seconds = hash_while_pinging(live_wsgi_server)
    assert not during_hash
