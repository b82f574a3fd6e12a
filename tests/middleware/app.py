"""The day-one app the developer-experience tests serve, as `brubeck serve app.py:app`.

Its features come from the environment (`BRUBECK_ACCESS_LOG`, `BRUBECK_STATIC_PATH`,
`BRUBECK_CORS_ORIGINS`, `BRUBECK_METRICS_PATH`, `BRUBECK_READY_PATH`,
`BRUBECK_DEBUG`...), so one file serves every test, over WSGI and behind Mongrel2.
"""

import json
import os

from brubeck import Brubeck
from brubeck.handlers import JSONMessageHandler, WebMessageHandler
from brubeck.middleware.cors import CORS
from brubeck.response import Response

API_ORIGIN = os.environ.get("DX_API_ORIGIN", "http://api-client.test")


class Hello(WebMessageHandler):
    def get(self):
        self.set_body("hello")
        return self.render()


class Payload(JSONMessageHandler):
    """Adds to the payload and renders without set_status: 200 (0.4 said 500)."""

    def get(self):
        self.add_to_payload("greeting", "hi")
        return self.render()

    def post(self):
        self.add_to_payload("created", True)
        self.set_status(201)
        return self.render()


class Nothing(JSONMessageHandler):
    """Produces nothing and sets no status: still 0.4's 500."""

    def get(self):
        return self.render()


class Crash(WebMessageHandler):
    def get(self):
        api_token = "tok-" + "SECRET-1"  # noqa: F841  (a local the debug page masks)
        shown = "<b>local & visible</b>"  # noqa: F841  (a local the debug page shows, escaped)
        raise RuntimeError("boom <script>alert(1)</script>")


class JSONCrash(JSONMessageHandler):
    def get(self):
        raise RuntimeError("json boom")


@CORS(origins=[API_ORIGIN], methods=["GET", "PUT"], headers=["X-Token"],
      expose_headers=["X-Request-Id"], credentials=True)
class Api(JSONMessageHandler):
    """Its own CORS policy: one origin, with credentials (cookies)."""

    def get(self):
        who = self.get_cookie("who", "nobody")
        self.add_to_payload("who", who)
        return self.render()

    def put(self):
        self.add_to_payload("token", self.message.headers.get("X-Token"))
        self.add_to_payload("who", self.get_cookie("who", "nobody"))
        return self.render()


class SetCookie(WebMessageHandler):
    def get(self):
        self.set_cookie("who", "alice", samesite="Lax", path="/")
        self.set_body("cookie set")
        return self.render()


def fun(application, message):
    return "fun"


def whoami(application, message):
    return json.dumps({"pid": os.getpid(), "request_id": message.request_id})


def settings(application, message):
    return json.dumps({"login_url": application.login_url, "debug": application.debug,
                       "cookie_max_age": application.cookie_max_age,
                       "has_secret": bool(application.cookie_secret),
                       "allowed_hosts": application.allowed_hosts})


def signed(application, message):
    """Sign with the cookie secret from the environment and verify it at once."""
    from brubeck import cookies

    value = cookies.sign(application.cookie_secret, "n", "42")
    return cookies.verify(application.cookie_secret, "n", value, max_age=60)


def drain(application, message):
    application.draining = True
    return "draining"


app = Brubeck(
    handler_tuples=[
        (r"^/hello$", Hello),
        (r"^/fun$", fun),
        (r"^/payload$", Payload),
        (r"^/nothing$", Nothing),
        (r"^/crash$", Crash),
        (r"^/jsoncrash$", JSONCrash),
        (r"^/api$", Api),
        (r"^/setcookie$", SetCookie),
        (r"^/whoami$", whoami),
        (r"^/settings$", settings),
        (r"^/signed$", signed),
        (r"^/drain$", drain),
    ],
    login_url="/from-the-code",
)


@app.before_request
def refuse_blocked(application, message):
    """A hook may answer: `/blocked` never reaches routing."""
    if message.path == "/blocked":
        return Response("blocked by a hook\n", 403)
    if message.path == "/hookcrash":
        raise RuntimeError("a hook failed")
    vars(message)["hooked"] = "class" if message.path == "/hello" else "other"
    return None


@app.after_request
def mark(application, message, response):
    response.headers.append(("X-Hooked", vars(message)["hooked"]))
