"""The app behind the shared handler suite: one route per behaviour under test.

It is importable on its own (`tests.suite.app:app`) so that every connection
(in process, a WSGI server, Mongrel2) can serve exactly the same handlers.
"""

import hashlib
import time
from typing import ClassVar

from brubeck import concurrency
from brubeck.errors import HTTPError
from brubeck.request_handling import (
    Brubeck,
    JSONMessageHandler,
    WebMessageHandler,
    http_response,
    render,
)


class HelloHandler(WebMessageHandler):
    def get(self):
        self.set_body("Take five")
        return self.render()


class EchoHandler(WebMessageHandler):
    """Reports what the request carried, as JSON, for request-parsing tests."""

    def get(self):
        return self.echo()

    def post(self):
        return self.echo()

    def put(self):
        return self.echo()

    def echo(self):
        import json

        msg = self.message
        files = {
            name: [{"filename": f["filename"], "size": len(f["body"]),
                    "content_type": f["content_type"]} for f in items]
            for name, items in msg.uploads.items()
        }
        self.headers["Content-Type"] = "application/json"
        self.set_body(json.dumps({
            "method": msg.method,
            "path": msg.path,
            "arguments": msg.arguments,
            "name": self.get_argument("name", "dude"),
            "names": self.get_arguments("name"),
            "json": msg.json if msg.content_type == "application/json" else None,
            "cookies": {k: c.value for k, c in msg.cookies.items()},
            "x_custom": msg.headers.get("X-CUSTOM"),
            "files": files,
            "body_length": len(msg.body),
        }))
        return self.render()


class NameHandler(WebMessageHandler):
    def get(self, name):
        self.set_body(f"Take five, {name}!")
        return self.render()


class NamedArgsHandler(WebMessageHandler):
    def get(self, year, month="01"):
        self.set_body(f"{year}-{month}")
        return self.render()


class LifecycleHandler(WebMessageHandler):
    events: ClassVar[list] = []

    def initialize(self):
        self.seen = ["initialize"]

    def prepare(self):
        self.seen.append("prepare")

    def get(self):
        self.seen.append("get")
        self.set_body(",".join(self.seen))
        return self.render()

    def on_finish(self):
        LifecycleHandler.events.append("on_finish")


class EarlyHandler(WebMessageHandler):
    """prepare() answers by itself; get() must not run."""

    def prepare(self):
        self.set_body("from prepare", status_code=202)
        self._finished = True

    def get(self):
        raise AssertionError("get must not run after prepare finished the request")


class StatusHandler(WebMessageHandler):
    def get(self):
        self.set_body("created", status_code=201)
        self.headers["X-Thing"] = "yes"
        return self.render()

    def post(self):
        self.set_body("ignored")
        return self.render(status_code=418, http_200=True)


class NoReturnHandler(WebMessageHandler):
    def get(self):
        self.set_body("implicit render")


class ForbiddenHandler(WebMessageHandler):
    def get(self):
        raise HTTPError(403, log_message="not your thing")


class CrashHandler(WebMessageHandler):
    def get(self):
        raise RuntimeError("secret internals")


class RedirectHandler(WebMessageHandler):
    def get(self):
        return self.redirect("/brubeck")


class CookieHandler(WebMessageHandler):
    def get(self):
        self.set_cookie("flavour", "oatmeal", path="/", httponly=True)
        self.set_body(self.get_cookie("flavour", "none"))
        return self.render()

    def delete(self):
        self.delete_cookies()
        self.set_body("gone")
        return self.render()


class JSONHandler(JSONMessageHandler):
    def get(self):
        self.add_to_payload("data", {"answer": 42})
        self.set_status(200)
        return self.render(hide_status=self.get_argument("hide") == "1")

    def post(self):
        self.add_to_payload("got", self.message.json)
        return self.render(status_code=201)


class JSONCrashHandler(JSONMessageHandler):
    def get(self):
        raise RuntimeError("boom")


class SlowHandler(WebMessageHandler):
    def get(self):
        concurrency.active().sleep(float(self.get_argument("seconds", "2")))
        self.set_body("slept")
        return self.render()


class ThreadHandler(WebMessageHandler):
    """C work (scrypt releases the GIL) in the backend's thread pool, or inline."""

    def get(self):
        seconds = int(self.get_argument("ms", "200")) / 1000
        if self.get_argument("inline") == "1":
            busy_c_work(seconds)
        else:
            concurrency.active().run_in_thread(busy_c_work, seconds)
        self.set_body("computed")
        return self.render()


def busy_c_work(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        hashlib.scrypt(b"pw", salt=b"salt", n=2**12, r=8, p=1)


class ItemReader(WebMessageHandler):
    def get(self, item_id):
        self.set_body(f"read {item_id}")
        return self.render()


def item_writer(application, message, item_id):
    return http_response(f"wrote {item_id}", 200, "OK", {})


def fun_name(application, message, name):
    return http_response(f"Take five, {name}!", 200, "OK", {})


def fun_render(application, message):
    return render("rendered dict", 202, "Accepted", {"X-Kind": "dict"})


def fun_crash(application, message):
    raise RuntimeError("function secret")


def fun_forbidden(application, message):
    raise HTTPError(403)


def fun_db(application, message):
    return http_response(application.db_conn["name"], 200, "OK", {})


URLS = [
    (r"^/brubeck$", HelloHandler),
    (r"^/echo$", EchoHandler),
    (r"^/class/(\w+)$", NameHandler),
    (r"^/fun/(?P<name>\w+)$", fun_name),
    (r"^/date/(?P<year>\d{4})(?:/(?P<month>\d{2}))?$", NamedArgsHandler),
    (r"^/lifecycle$", LifecycleHandler),
    (r"^/early$", EarlyHandler),
    (r"^/status$", StatusHandler),
    (r"^/noreturn$", NoReturnHandler),
    (r"^/forbidden$", ForbiddenHandler),
    (r"^/crash$", CrashHandler),
    (r"^/redirect$", RedirectHandler),
    (r"^/cookies$", CookieHandler),
    (r"^/json$", JSONHandler),
    (r"^/jsoncrash$", JSONCrashHandler),
    (r"^/slow$", SlowHandler),
    (r"^/thread$", ThreadHandler),
    (r"^/render$", fun_render),
    (r"^/funcrash$", fun_crash),
    (r"^/funforbidden$", fun_forbidden),
    (r"^/db$", fun_db),
    (r"^/first", HelloHandler),
    (r"^/first/shadowed$", NameHandler),
]


def build_app(**config):
    app = Brubeck(handler_tuples=URLS, db_conn={"name": "the db"}, **config)
    app.add_route_rule(r"^/items/(\w+)$", ItemReader)
    app.add_route_rule(r"^/items/(\w+)$", item_writer, method=["PUT", "POST"])

    @app.add_route(r"^/deco/(?P<name>\w+)$", method="GET")
    def deco(application, message, name):
        return http_response(f"Hi {name}", 200, "OK", {})

    @app.add_route(r"^/anymethod$")
    def anymethod(application, message):
        return http_response(message.method, 200, "OK", {})

    return app


app = build_app()
