"""Item 10: request ids, honoured when valid, else generated; in `message.request_id`,
the `X-Request-Id` response header and the access log; both transports."""

from __future__ import annotations

import re

import pytest

from brubeck.app import Brubeck
from brubeck.middleware.request_id import valid_request_id
from brubeck.response import Response
from brubeck.testing import TestClient
from tests.middleware.served import TRANSPORTS, serve

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module", params=TRANSPORTS)
def served(request, tmp_path_factory):
    with serve(tmp_path_factory.mktemp(request.param), request.param,
               BRUBECK_ACCESS_LOG="text") as server:
        yield server


def test_request_id_10_a_valid_incoming_id_is_kept_everywhere(served):
    sent = "7b0e5a1c-3f4d-4e2a-9c1b-aa00ff11ee22"
    reply = served.get("/whoami", X_Request_Id=sent)
    assert reply.headers["x-request-id"] == sent
    assert reply.json()["request_id"] == sent  # self.message.request_id
    assert f"id={sent}" in served.wait_for_output(f"id={sent}")


@pytest.mark.parametrize("sent", ["x" * 129, "has space", 'quo"te', "new\\nline", "ünï"])
def test_request_id_10_an_invalid_incoming_id_is_replaced(served, sent):
    reply = served.get("/whoami", X_Request_Id=sent)
    made = reply.headers["x-request-id"]
    assert GENERATED.fullmatch(made) and reply.json()["request_id"] == made


def test_request_id_10_generated_ids_differ_and_reach_errors_too(served):
    first, second = served.get("/whoami"), served.get("/whoami")
    ids = {first.headers["x-request-id"], second.headers["x-request-id"]}
    assert len(ids) == 2 and all(GENERATED.fullmatch(i) for i in ids)
    missing = served.get("/nowhere")
    assert missing.status == 404 and GENERATED.fullmatch(missing.headers["x-request-id"])


def test_request_id_10_validation_is_bounded():
    assert valid_request_id("a" * 128) and not valid_request_id("a" * 129)
    assert not valid_request_id("") and not valid_request_id("a\x1bb")
    assert valid_request_id("Root=1-5759e988-bd862e3fe1be46a994272793".replace(";", ""))


@pytest.mark.parametrize("name", ["X-Request-Id", "x-request-id", "X-REQUEST-ID"])
def test_request_id_10_a_handlers_own_id_is_kept_and_not_repeated(name):
    app = Brubeck(log_level="WARNING")

    @app.add_route(r"^/own$", method="GET")
    def own(application, message):
        return Response("mine", 200, headers={name: "handler-made"})

    reply = TestClient(app).get("/own")
    assert reply.headers.get_all("x-request-id") == ["handler-made"]
