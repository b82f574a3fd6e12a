"""Item 1: a JSONMessageHandler (or any web handler) that produced a payload or body and
set no status answers 200, not 0.4's 500; one that produced nothing still answers 500,
and an explicit status is kept. Through a real server on both transports; the 0.4 demos
(tests/compat) run unchanged."""

from __future__ import annotations

import pytest

from brubeck import Brubeck
from brubeck.handlers import JSONMessageHandler, WebMessageHandler
from brubeck.testing import TestClient
from tests.middleware.served import TRANSPORTS, serve


@pytest.fixture(scope="module", params=TRANSPORTS)
def served(request, tmp_path_factory):
    with serve(tmp_path_factory.mktemp(request.param), request.param) as server:
        yield server


def test_handlers_1_json_payload_without_status_answers_200(served):
    reply = served.get("/payload")
    assert reply.status == 200
    data = reply.json()
    assert (data["status_code"], data["status_msg"], data["greeting"]) == (200, "OK", "hi")


def test_handlers_1_explicit_status_kept(served):
    reply = served.request("POST", "/payload")
    assert (reply.status, reply.json()["status_code"]) == (201, 201)


def test_handlers_1_nothing_produced_is_still_500(served):
    reply = served.get("/nothing")
    assert (reply.status, reply.json()["status_code"]) == (500, 500)


def test_handlers_1_web_handler_body_without_status_answers_200():
    class Body(WebMessageHandler):
        def get(self):
            self.body = "a body, no set_status"

    class Cleared(JSONMessageHandler):
        def get(self):
            self.add_to_payload("gone", 1)
            self.clear_payload()  # keeps the (unset) status, drops what was produced
            return self.render()

    client = TestClient(Brubeck(handler_tuples=[(r"^/body$", Body), (r"^/cleared$", Cleared)]))
    assert (client.get("/body").status_code, client.get("/body").text) == \
        (200, "a body, no set_status")
    assert client.get("/cleared").status_code == 500
