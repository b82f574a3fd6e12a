"""Secrets and sessions (security issue #13, items 2 and 14): no secret is an error,
never an unsigned cookie; sessions can be revoked; scrypt at OWASP's cost, bounded;
a login throttle."""

import json
import logging
import threading
import time

import pytest

from brubeck import concurrency, cookies, passwords
from brubeck.auth import LoginThrottle, UserHandlingMixin, web_authenticated
from brubeck.config import ConfigError
from brubeck.models import User
from brubeck.request_handling import Brubeck, WebMessageHandler

LONG_SECRET = "k" * 43  # what secrets.token_urlsafe(32) gives: 43 characters


# -- item 2: a missing secret ------------------------------------------------------------

class TrustingHandler(WebMessageHandler):
    """0.4's pattern: the secret comes from the app, which may have none."""

    def get(self):
        user = self.get_cookie("user", secret=self.application.cookie_secret)
        self.set_body(json.dumps({"user": user, "theme": self.get_cookie("theme")}))
        return self.render()

    def post(self):
        self.set_cookie("user", "admin", secret=self.application.cookie_secret)
        return self.render(status_code=204)


class ThemeHandler(WebMessageHandler):
    def get(self):
        self.set_cookie("theme", "dark")
        self.set_body(self.get_cookie("theme", "none"))
        return self.render()


class LoginRequired(WebMessageHandler, UserHandlingMixin):
    @web_authenticated
    def get(self):
        return self.render()


def test_security_2_unsigned_cookie_is_not_trusted_without_a_secret(make_client, caplog):
    client = make_client(Brubeck(handler_tuples=[(r"^/me$", TrustingHandler)]))
    with caplog.at_level(logging.ERROR):
        response = client.get("/me", headers={"Cookie": "user=admin; theme=dark"})
    assert response.status_code == 500
    assert "admin" not in response.text
    assert "cookie_secret is not set" in caplog.text
    assert "secrets.token_urlsafe(32)" in caplog.text


@pytest.mark.parametrize("secret", [None, ""])
def test_security_2_no_unsigned_cookie_is_written_without_a_secret(make_client, secret):
    client = make_client(Brubeck(handler_tuples=[(r"^/me$", TrustingHandler)],
                                 cookie_secret=secret))
    response = client.post("/me")
    assert response.status_code == 500
    assert response.headers.get_all("set-cookie") == []


def test_security_2_plain_cookies_need_no_secret(make_client):
    client = make_client(Brubeck(handler_tuples=[(r"^/theme$", ThemeHandler)]))
    assert client.get("/theme").text == "none"
    assert client.get("/theme").text == "dark"


def test_security_2_cookie_functions_refuse_a_missing_secret():
    for secret in (None, "", b"", {}, {1: ""}):
        with pytest.raises(cookies.MissingSecret):
            cookies.sign(secret, "user", "jd")
        with pytest.raises(cookies.MissingSecret):
            cookies.verify(secret, "user", "garbage")  # whatever the cookie holds


def test_security_2_web_authenticated_refuses_to_start_without_a_secret():
    with pytest.raises(ConfigError, match=r"cookie_secret.*secrets\.token_urlsafe"):
        Brubeck(handler_tuples=[(r"^/$", LoginRequired)])
    app = Brubeck(handler_tuples=[])
    with pytest.raises(ConfigError, match="LoginRequired uses web_authenticated"):
        app.add_route_rule(r"^/$", LoginRequired)
    with pytest.raises(ConfigError):
        Brubeck(base_handler=LoginRequired)
    Brubeck(handler_tuples=[(r"^/$", LoginRequired)], cookie_secret=LONG_SECRET)


def test_security_2_user_handling_mixin_without_a_secret_warns_at_start(caplog):
    class ArgumentsLogin(WebMessageHandler, UserHandlingMixin):
        """0.4's demo_auth: credentials in the arguments, no cookie; it still starts."""

    with caplog.at_level(logging.WARNING, logger="brubeck"):
        Brubeck(handler_tuples=[(r"^/$", ArgumentsLogin)])
    assert "ArgumentsLogin uses UserHandlingMixin without cookie_secret" in caplog.text


def test_security_2_a_short_secret_warns_how_to_generate_one(caplog):
    with caplog.at_level(logging.WARNING, logger="brubeck"):
        Brubeck(cookie_secret="OMGSOOOOSECRET")
    assert "shorter than 32 bytes" in caplog.text
    assert 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="brubeck"):
        Brubeck(cookie_secret={1: "short", 2: LONG_SECRET})
    assert "version 1" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="brubeck"):
        Brubeck(cookie_secret=LONG_SECRET)
    assert "shorter" not in caplog.text


def test_security_2_a_secret_with_an_empty_key_refuses_to_start():
    with pytest.raises(ConfigError, match="version 2 is empty"):
        Brubeck(cookie_secret={1: LONG_SECRET, 2: ""})


# -- item 14: sessions that can be revoked -------------------------------------------------

USERS = {}


def load(name):
    return USERS.get(name)


class SessionHandler(WebMessageHandler, UserHandlingMixin):
    def get_current_user(self):
        return self.session_user(load)

    def get(self):
        self.set_body(self.current_user.username if self.current_user else "anonymous")
        return self.render()

    def post(self):  # log in as ?name=
        self.start_session(USERS[self.get_argument("name")])
        return self.render(status_code=204)

    def delete(self):  # log out everywhere
        if self.current_user:
            self.current_user.revoke_sessions()
        self.end_session()
        return self.render(status_code=204)

    def put(self):  # change password
        self.current_user.password = passwords.hash_password("new", passwords.ScryptParams(
            n=2**10))
        self.current_user.revoke_sessions()
        self.start_session(self.current_user)
        return self.render(status_code=204)


@pytest.fixture
def session_app():
    USERS.clear()
    USERS["jd"] = User(username="jd")
    USERS["ann"] = User(username="ann")
    return Brubeck(handler_tuples=[(r"^/session$", SessionHandler)], cookie_secret=LONG_SECRET)


def test_security_14_logout_revokes_copies_of_the_session(make_client, session_app):
    client = make_client(session_app)
    assert client.post("/session", params={"name": "jd"}).status_code == 204
    stolen = client.cookies["session"]
    assert client.get("/session").text == "jd"
    assert client.delete("/session").status_code == 204
    assert "session" not in client.cookies
    client.cookies["session"] = stolen  # a copy kept elsewhere
    assert client.get("/session").text == "anonymous"


def test_security_14_password_change_revokes_other_sessions(make_client, session_app):
    laptop, phone = make_client(session_app), make_client(session_app)
    laptop.post("/session", params={"name": "jd"})
    phone.post("/session", params={"name": "jd"})
    assert laptop.put("/session").status_code == 204
    assert laptop.get("/session").text == "jd"  # the session that changed it goes on
    assert phone.get("/session").text == "anonymous"


def test_security_14_session_cookie_is_signed_and_names_one_user(make_client, session_app):
    client = make_client(session_app)
    response = client.post("/session", params={"name": "ann"})
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header
    session = cookies.verify(LONG_SECRET, "session", client.cookies["session"])
    assert session["user"] == "ann" and session["version"] == 0 and len(session["id"]) >= 16
    forged = dict(session, user="jd")
    client.cookies["session"] = cookies.sign("another secret " * 3, "session", forged)
    assert client.get("/session").text == "anonymous"
    client.cookies["session"] = cookies.sign(LONG_SECRET, "user", forged)  # wrong name
    assert client.get("/session").text == "anonymous"


@pytest.mark.parametrize("value", [{"user": "jd"}, {"user": "jd", "version": "0", "id": "x"},
                                   {"user": "jd", "version": True, "id": "x"}, "jd", [1]])
def test_security_14_malformed_session_is_anonymous(make_client, session_app, value):
    client = make_client(session_app)
    client.cookies["session"] = cookies.sign(LONG_SECRET, "session", value)
    response = client.get("/session")
    assert (response.status_code, response.text) == (200, "anonymous")


def test_security_14_set_password_revokes_unless_rehashing(monkeypatch):
    monkeypatch.setenv("BRUBECK_SCRYPT_N", "1024")
    user = User.create_user("jd", "old")
    assert user.session_version == 0
    user.set_password("new")
    assert user.session_version == 1
    user.set_password("new", keep_sessions=True)  # a stronger hash of the same password
    assert user.session_version == 1
    assert User(**user.to_db()).session_version == 1  # stored and loaded with the user


# -- item 14: scrypt cost and how many hashes run at once -------------------------------------

def test_security_14_default_scrypt_cost_is_owasp_minimum(monkeypatch):
    monkeypatch.delenv("BRUBECK_SCRYPT_N", raising=False)
    assert passwords.DEFAULT_PARAMS.n >= 2**17
    assert passwords.default_params() == passwords.DEFAULT_PARAMS
    assert passwords.needs_rehash(passwords.hash_password("pw", passwords.ScryptParams(n=2**15)))


def test_security_14_tests_may_lower_the_cost_by_a_setting(monkeypatch):
    monkeypatch.setenv("BRUBECK_SCRYPT_N", "1024")
    encoded = passwords.hash_password("pw")
    assert encoded.startswith("scrypt$1024$8$1$")
    assert passwords.verify_password("pw", encoded)
    assert not passwords.needs_rehash(encoded)
    monkeypatch.setenv("BRUBECK_SCRYPT_N", "1000")
    with pytest.raises(ValueError, match="BRUBECK_SCRYPT_N='1000' is not a power of 2"):
        passwords.hash_password("pw")


def test_security_14_unknown_user_costs_the_default_hash(monkeypatch):
    seen = []
    real = passwords._derive
    monkeypatch.setattr(passwords, "_derive", lambda pw, salt, params: seen.append(params)
                        or real(pw, salt, passwords.ScryptParams(n=2**10)))
    monkeypatch.delenv("BRUBECK_SCRYPT_N", raising=False)
    assert passwords.verify_password("pw", None) is False
    monkeypatch.setenv("BRUBECK_SCRYPT_N", "2048")
    assert passwords.verify_password("pw", "garbage") is False
    assert [p.n for p in seen] == [2**17, 2048]


def test_security_14_at_most_max_concurrent_hashes_run_at_once(monkeypatch):
    """Eight logins at once: the loop stays free, and only two hashes run together."""
    backend = concurrency.active()
    monkeypatch.setattr(passwords, "MAX_CONCURRENT_HASHES", 2)
    monkeypatch.setattr(passwords, "_slots", None)
    lock = threading.Lock()
    running, peak = [0], [0]

    def fake_hash():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)  # a real thread: blocks only itself
        with lock:
            running[0] -= 1
        return "hashed"

    ticks = []

    def ticker():
        for _ in range(10):
            ticks.append(time.perf_counter())
            backend.sleep(0.01)

    workers = [backend.spawn(passwords.off_loop, fake_hash) for _ in range(8)]
    clock = backend.spawn(ticker)
    results = [w.get() if hasattr(w, "get") else w.wait() for w in workers]
    clock.get() if hasattr(clock, "get") else clock.wait()
    assert results == ["hashed"] * 8
    assert peak[0] == 2
    assert len(ticks) == 10  # the loop kept running while hashes waited their turn


# -- item 14: the login throttle ---------------------------------------------------------------

def test_security_14_login_throttle_per_name_and_client(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    throttle = LoginThrottle(limit=3, window=60)
    for _ in range(3):
        assert throttle.retry_after("jd", "10.0.0.1") == 0
        throttle.failed("JD", "10.0.0.1")
    assert throttle.retry_after("jd", "10.0.0.1") == 60
    assert throttle.retry_after("jd", "10.0.0.2") == 0  # another client
    assert throttle.retry_after("ann", "10.0.0.1") == 0  # another name
    now[0] += 30
    assert throttle.retry_after("jd", "10.0.0.1") == 30
    now[0] += 30
    assert throttle.retry_after("jd", "10.0.0.1") == 0  # the window slid past
    throttle.failed("jd", "10.0.0.1")
    assert throttle.retry_after("jd", "10.0.0.1") == 0  # one recent failure of three
    now[0] += 1
    throttle.failed("jd", "10.0.0.1")
    throttle.failed("jd", "10.0.0.1")
    assert throttle.retry_after("jd", "10.0.0.1") == 59
    throttle.succeeded("jd", "10.0.0.1")
    assert throttle.retry_after("jd", "10.0.0.1") == 0


def test_security_14_login_throttle_memory_is_bounded(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    throttle = LoginThrottle(limit=2, window=10, max_keys=100)
    for i in range(1000):
        throttle.failed(f"user{i}", "10.0.0.1")
    assert len(throttle._failures) == 100
    now[0] += 11
    for i in range(50):
        throttle.failed("x", f"10.0.1.{i}")
    assert len(throttle._failures) <= 100
