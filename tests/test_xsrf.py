"""XSRF (security issue #13, item 13): function routes are checked too, the token is
tied to the session where there is one, and API handlers that authenticate otherwise
can opt out."""

import base64
import re

import pytest

from brubeck import cookies
from brubeck.auth import UserHandlingMixin, authenticated
from brubeck.handlers import xsrf_exempt
from brubeck.models import User
from brubeck.request_handling import Brubeck, WebMessageHandler, http_response

SECRET = "s" * 43
USERS = {"jd": User(username="jd"), "ann": User(username="ann")}


def form_token(response):
    return re.search(r'name="_xsrf" value="([0-9a-f]+)"', response.text).group(1)


class Page(WebMessageHandler, UserHandlingMixin):
    def get_current_user(self):
        return self.session_user(USERS.get)

    def get(self):
        self.set_body(f"<form>{self.xsrf_form_html()}</form>")
        return self.render()

    def post(self):
        self.set_body(f"accepted for {self.current_user or 'anonymous'}")
        return self.render()


class Login(Page):
    def post(self):
        self.start_session(USERS[self.get_argument("name")])
        return self.render(status_code=204)


class BasicApi(WebMessageHandler, UserHandlingMixin):
    """The documented opt-out: Basic credentials are checked on every request."""

    def get_current_user(self):
        header = self.message.headers.get("Authorization", "")
        if header.startswith("Basic "):
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return USERS.get(name) if password == "pw" else None
        return self.session_user(USERS.get)

    def check_xsrf_cookie(self):
        if not self.message.headers.get("Authorization"):
            super().check_xsrf_cookie()

    @authenticated
    def post(self):
        self.set_body(f"api for {self.current_user}")
        return self.render()


@xsrf_exempt
class Webhook(WebMessageHandler):
    def post(self):
        self.set_body("hooked")
        return self.render()


def fun_post(application, message):
    return http_response("function accepted", 200, "OK", {})


@xsrf_exempt
def fun_exempt(application, message):
    return http_response("exempt accepted", 200, "OK", {})


def xsrf_app():
    app = Brubeck(handler_tuples=[(r"^/page$", Page), (r"^/login$", Login),
                                  (r"^/api$", BasicApi), (r"^/hook$", Webhook),
                                  (r"^/fun$", fun_post), (r"^/exempt$", fun_exempt)],
                  cookie_secret=SECRET, xsrf_cookies=True)

    @app.add_route(r"^/deco$", method=["POST", "DELETE"])
    def deco(application, message):
        return http_response("decorated accepted", 200, "OK", {})

    return app


@pytest.fixture
def client(make_client):
    return make_client(xsrf_app())


def log_in(client, name="jd"):
    token = form_token(client.get("/page"))
    assert client.post("/login", data={"name": name, "_xsrf": token}).status_code == 204


# -- function routes -------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/fun", "/deco"])
def test_security_13_function_routes_are_checked(client, path):
    client.get("/page")  # the _xsrf cookie
    refused = client.post(path)
    assert refused.status_code == 403 and "accepted" not in refused.text
    assert client.delete("/deco").status_code == 403
    token = form_token(client.get("/page"))
    assert client.post(path, data={"_xsrf": token}).status_code == 200
    assert client.post(path, headers={"X-XSRFToken": token}).status_code == 200
    assert client.post(path, data={"_xsrf": "0" * 64}).status_code == 403


def test_security_13_function_routes_safe_methods_and_opt_in(make_client):
    app = Brubeck(handler_tuples=[(r"^/fun$", fun_post)])
    client = make_client(app)
    assert client.post("/fun").text == "function accepted"  # xsrf_cookies off
    client = make_client(xsrf_app())
    assert client.get("/fun").status_code == 200  # GET is never checked


def test_security_13_exempt_routes_take_no_token(client):
    assert client.post("/exempt").text == "exempt accepted"
    assert client.post("/hook").text == "hooked"


# -- the token belongs to the session -------------------------------------------------------

def test_security_13_session_token_accepted(client):
    log_in(client)
    token = form_token(client.get("/page"))
    assert client.post("/page", data={"_xsrf": token}).text == "accepted for jd"


def test_security_13_a_planted_xsrf_cookie_does_not_pass_with_a_session(client):
    """Double submit alone trusts whoever can write the _xsrf cookie (a sibling subdomain,
    plain HTTP); with a session the token must be the session's."""
    log_in(client)
    client.cookies["_xsrf"] = "0" * 64  # the attacker's cookie: mask 0, token 0
    response = client.post("/page", data={"_xsrf": "1" * 64})  # unmasks to token 0 too
    assert response.status_code == 403


def test_security_13_another_sessions_token_is_refused(client, make_client):
    other = make_client(xsrf_app())
    log_in(other, "ann")
    foreign = form_token(other.get("/page"))
    log_in(client, "jd")
    assert client.post("/page", data={"_xsrf": foreign}).status_code == 403
    mine = form_token(client.get("/page"))
    assert client.post("/page", data={"_xsrf": mine}).status_code == 200


def test_security_13_logging_in_changes_the_token(client):
    before = cookies.unmask_xsrf_token(form_token(client.get("/page")))
    log_in(client)
    page = client.get("/page")
    after = cookies.unmask_xsrf_token(form_token(page))
    assert before != after
    # The _xsrf cookie now carries the session's token, for scripts that echo it.
    assert cookies.unmask_xsrf_token(client.cookies["_xsrf"]) == after
    assert client.post("/page", headers={"X-XSRFToken": client.cookies["_xsrf"]}) \
        .status_code == 200


def test_security_13_session_token_survives_a_lost_xsrf_cookie(client):
    log_in(client)
    token = form_token(client.get("/page"))
    del client.cookies["_xsrf"]
    assert client.post("/page", data={"_xsrf": token}).status_code == 200


def test_security_13_session_token_keeps_working_across_key_rotation(make_client):
    app = xsrf_app()
    client = make_client(app)
    log_in(client)
    token = form_token(client.get("/page"))
    app.cookie_secret = {0: SECRET, 1: "r" * 43}  # rotated: the old key still verifies
    assert client.post("/page", data={"_xsrf": token}).text == "accepted for jd"


# -- API handlers that authenticate otherwise ----------------------------------------------

def test_security_13_basic_auth_script_needs_no_token(client):
    auth = {"Authorization": "Basic " + base64.b64encode(b"jd:pw").decode()}
    assert client.post("/api", headers=auth).text == "api for jd"


def test_security_13_api_with_the_session_cookie_still_needs_the_token(client):
    log_in(client)
    assert client.post("/api").status_code == 403
    token = form_token(client.get("/page"))
    assert client.post("/api", headers={"X-XSRFToken": token}).text == "api for jd"
