"""Item 0: app-wide before/after hooks, around class handlers, function routes and 404s
alike, on both transports (a real `brubeck serve` process, real HTTP)."""

from __future__ import annotations

import pytest

from brubeck import Brubeck
from brubeck.middleware import Middleware
from brubeck.response import Response
from brubeck.testing import TestClient
from tests.middleware.served import TRANSPORTS, serve


@pytest.fixture(scope="module", params=TRANSPORTS)
def served(request, tmp_path_factory):
    with serve(tmp_path_factory.mktemp(request.param), request.param) as server:
        yield server


def test_middleware_0_hooks_run_around_class_and_function_routes(served):
    assert served.get("/hello").headers["x-hooked"] == "class"
    reply = served.get("/fun")
    assert (reply.status, reply.text, reply.headers["x-hooked"]) == (200, "fun", "other")
    missing = served.get("/nowhere")
    assert (missing.status, missing.headers["x-hooked"]) == (404, "other")


def test_middleware_0_a_before_hook_may_answer(served):
    reply = served.get("/blocked")
    assert (reply.status, reply.text) == (403, "blocked by a hook\n")
    # Routing and the later middleware (the after_request hook) were skipped; the
    # middleware that ran before it (request ids) still finished its work.
    assert "x-hooked" not in reply.headers
    assert len(reply.headers["x-request-id"]) == 32


def test_middleware_0_a_failing_hook_is_a_500_and_the_worker_keeps_serving(served):
    reply = served.get("/hookcrash")
    assert reply.status == 500
    assert "a hook failed" not in reply.text
    assert served.get("/hello").status == 200
    served.wait_for_output("a hook failed")  # its traceback went to the log


class Recorder(Middleware):
    def __init__(self, name, events):
        self.name, self.events = name, events

    def before(self, app, message):
        self.events.append(f"before {self.name}")

    def after(self, app, message, response):
        self.events.append(f"after {self.name}")
        response.headers.append(("X-Seen", self.name))


def test_middleware_0_order_before_in_order_after_reversed_and_replacing():
    events = []
    app = Brubeck(handler_tuples=[(r"^/$", lambda application, message: "ok")],
                  middleware=[Recorder("a", events)], request_ids=False)
    app.add_middleware(Recorder("b", events))

    @app.after_request
    def replace(application, message, response):
        return Response("replaced", 202)

    reply = TestClient(app).get("/")
    assert events == ["before a", "before b", "after b", "after a"]
    assert (reply.status_code, reply.text) == (202, "replaced")
    assert reply.headers.get_all("X-Seen") == ["b", "a"]
