"""The AutoAPI suite: every test runs over Dict, SQLite and Redis, and every transport."""

import uuid

import pytest
from openapi_spec_validator import validate
from pydantic import Field

from brubeck.app import Brubeck
from brubeck.autoapi import APIModel, AutoAPIBase, owner_only

JSON_LIMIT = 4096


class Todo(APIModel):
    text: str = Field(min_length=1, max_length=200)
    order: int = 0


class Account(APIModel):
    name: str
    password_hash: str = owner_only("")


@pytest.fixture
def app(queryset_factory):
    class TodosAPI(AutoAPIBase):
        queries = queryset_factory()
        model = Todo

    class AccountsAPI(AutoAPIBase):
        queries = queryset_factory()
        model = Account

    application = Brubeck(limits={"json_body": JSON_LIMIT})
    application.register_api(TodosAPI)
    application.register_api(AccountsAPI, prefix="/v1/accounts")
    application.todos = TodosAPI.queries
    application.accounts = AccountsAPI.queries
    return application


@pytest.fixture
def client(make_client, app):
    return make_client(app)


def ids():
    return str(uuid.uuid4()), str(uuid.uuid4())


def listed(client, url="/todo/"):
    r = client.get(url)
    assert r.status_code == 200
    return sorted(r.json()["data"], key=lambda item: item["order"])


# -- single items ----------------------------------------------------------------------

def test_empty_list(client):
    r = client.get("/todo/")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.json()["data"] == []


def test_create_without_id_makes_a_uuid(client):
    r = client.post("/todo/", json={"text": "Watch more bsg", "order": 1})
    assert r.status_code == 201
    made = r.json()["data"]
    assert uuid.UUID(made["id"]).version == 4
    assert client.get(f"/todo/{made['id']}/").json()["data"] == made
    assert listed(client) == [made]


def test_post_to_an_item_url_creates_then_updates(client):
    a, _ = ids()
    r = client.post(f"/todo/{a}/", json={"id": a, "text": "first", "order": 1})
    assert r.status_code == 201
    r = client.post(f"/todo/{a}/", json={"text": "second", "order": 2})  # id from the URL
    assert r.status_code == 200
    assert r.json()["data"] == {"id": a, "text": "second", "order": 2}
    assert listed(client) == [{"id": a, "text": "second", "order": 2}]


def test_put_to_an_item_url_is_create_or_update(client):
    a, _ = ids()
    assert client.put(f"/todo/{a}/", json={"text": "x"}).status_code == 201
    assert client.put(f"/todo/{a}/", json={"text": "y"}).status_code == 200
    assert client.get(f"/todo/{a}").json()["data"]["text"] == "y"  # trailing slash optional


def test_missing_id_is_404(client):
    a, _ = ids()
    assert client.get(f"/todo/{a}/").status_code == 404
    r = client.delete(f"/todo/{a}/")
    assert r.status_code == 404
    assert r.json()["status_code"] == 404


def test_delete_answers_with_the_item_and_removes_it(client):
    a, _ = ids()
    client.post(f"/todo/{a}/", json={"text": "gone soon"})
    r = client.delete(f"/todo/{a}/")
    assert r.status_code == 200
    assert r.json()["data"]["text"] == "gone soon"
    assert client.get(f"/todo/{a}/").status_code == 404
    assert listed(client) == []


def test_delete_without_ids_is_refused(client):
    client.post("/todo/", json={"text": "keep me"})
    assert client.delete("/todo/").status_code == 400
    assert len(listed(client)) == 1


# -- bad input ---------------------------------------------------------------------------

def test_validation_error_is_400_with_field_errors(client):
    r = client.post("/todo/", json={"text": "", "order": "first"})
    assert r.status_code == 400
    fields = {tuple(error["loc"]) for error in r.json()["errors"]}
    assert fields == {("text",), ("order",)}
    assert listed(client) == []


def test_malformed_uuid_in_the_url_is_400(client):
    r = client.post("/todo/b4bb7-55f5-441b-ba25-c7a4fd994421/", json={"text": "x"})
    assert r.status_code == 400
    assert r.json()["errors"][0]["loc"] == ["path", "ids", 0]
    assert client.get("/todo/not-a-uuid/").status_code == 400
    assert client.delete("/todo/not-a-uuid/").status_code == 400


def test_body_id_that_does_not_match_the_url_is_400(client):
    a, b = ids()
    r = client.post(f"/todo/{a}/", json={"id": b, "text": "x"})
    assert r.status_code == 400
    assert r.json()["errors"][0]["type"] == "id_mismatch"
    r = client.post(f"/todo/{a}/", json={"id": "b4bb7-55f5", "text": "x"})  # malformed too
    assert r.status_code == 400
    assert client.get(f"/todo/{a}/").status_code == 404


def test_bad_json_is_400(client):
    r = client.post("/todo/", data=b'{"text": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["status_code"] == 400


def test_body_over_the_json_limit_is_413(client):
    big = [{"text": "x" * 100} for _ in range(JSON_LIMIT // 50)]
    r = client.post("/todo/", json=big)
    assert r.status_code == 413
    assert listed(client) == []


@pytest.mark.parametrize("body", [b"", b"[]", b"42", b'"text"', b"[1, 2]"])
def test_body_that_is_not_items_is_400(client, body):
    r = client.post("/todo/", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_form_field_data_holds_json(client):
    r = client.post("/todo/", data={"data": '[{"text": "a", "order": 1}, {"text": "b"}]'})
    assert r.status_code == 201
    assert [item["text"] for item in listed(client)] == ["b", "a"]
    assert client.post("/todo/", data={"data": "{nope"}).status_code == 400
    assert client.post("/todo/", data={"other": "{}"}).status_code == 400


# -- many items ---------------------------------------------------------------------------

def test_bulk_create(client):
    r = client.post("/todo/", json=[{"text": "one", "order": 1}, {"text": "two", "order": 2}])
    assert r.status_code == 201
    body = r.json()
    assert [item["text"] for item in body["data"]] == ["one", "two"]
    assert [entry["status"] for entry in body["multistatus"]] == [201, 201]
    assert body["multistatus"][0]["href"] == f"/todo/{body['data'][0]['id']}/"
    assert [item["text"] for item in listed(client)] == ["one", "two"]


def test_bulk_create_with_one_invalid_item_writes_nothing(client):
    a, b = ids()
    r = client.post("/todo/", json=[{"id": a, "text": "fine"}, {"id": b, "text": ""},
                                    {"text": "fine too", "order": "x"}])
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert [(e["index"], e["id"]) for e in errors] == [(1, b), (2, None)]
    assert errors[0]["errors"][0]["loc"] == ["text"]
    assert errors[1]["errors"][0]["loc"] == ["order"]
    assert listed(client) == []
    assert client.get(f"/todo/{a}/").status_code == 404


def test_bulk_write_of_new_and_existing_items_is_207(client):
    a, b = ids()
    client.post(f"/todo/{a}/", json={"text": "old"})
    # PUT: POST to the collection only creates (a taken id is 409, test_security.py)
    r = client.put("/todo/", json=[{"id": a, "text": "new"}, {"id": b, "text": "b"}])
    assert r.status_code == 207
    assert [e["status"] for e in r.json()["multistatus"]] == [200, 201]


def test_put_list_needs_every_id(client):
    a, _ = ids()
    r = client.put("/todo/", json=[{"id": a, "text": "ok"}, {"text": "no id"}])
    assert r.status_code == 400
    assert [e["index"] for e in r.json()["errors"]] == [1]
    assert listed(client) == []
    assert client.put("/todo/", json=[{"id": a, "text": "ok"}]).status_code == 201


def test_several_ids_in_the_url(client):
    a, b = ids()
    r = client.put(f"/todo/{a},{b}/", json=[{"text": "a", "order": 1}, {"text": "b", "order": 2}])
    assert r.status_code == 201
    r = client.get(f"/todo/{a},{b}/")
    assert r.status_code == 200
    assert [item["id"] for item in r.json()["data"]] == [a, b]
    assert client.put(f"/todo/{a},{b}/", json=[{"text": "a"}]).status_code == 400
    assert client.put(f"/todo/{a},{b}/", json={"text": "a"}).status_code == 400


def test_bulk_read_and_delete_with_missing_ids_is_207(client):
    a, b = ids()
    client.post(f"/todo/{a}/", json={"text": "here"})
    r = client.get(f"/todo/{a},{b}/")
    assert r.status_code == 207
    assert [item["id"] for item in r.json()["data"]] == [a]
    assert [(e["id"], e["status"]) for e in r.json()["multistatus"]] == [(a, 200), (b, 404)]
    r = client.delete(f"/todo/{b},{a}/")
    assert r.status_code == 207
    assert [(e["id"], e["status"]) for e in r.json()["multistatus"]] == [(b, 404), (a, 200)]
    assert listed(client) == []
    assert client.delete(f"/todo/{b},{a}/").status_code == 404


def test_one_malformed_id_among_several_is_400(client):
    a, _ = ids()
    client.post(f"/todo/{a}/", json={"text": "here"})
    r = client.delete(f"/todo/{a},nope/")
    assert r.status_code == 400
    assert r.json()["errors"][0]["loc"] == ["path", "ids", 1]
    assert client.get(f"/todo/{a}/").status_code == 200


# -- owner-only fields, manifest, OpenAPI, prefixes ----------------------------------------

def test_owner_only_fields_are_stored_but_never_sent(client, app):
    r = client.post("/v1/accounts/", json={"name": "jd", "password_hash": "scrypt$secret"})
    assert r.status_code == 201
    made = r.json()["data"]
    assert "password_hash" not in made
    assert "password_hash" not in client.get(f"/v1/accounts/{made['id']}/").json()["data"]
    assert "password_hash" not in client.get("/v1/accounts/").json()["data"][0]
    assert b"scrypt$secret" not in client.delete(f"/v1/accounts/{made['id']},{made['id']}/").body
    r = client.post("/v1/accounts/", json={"name": "kb", "password_hash": "scrypt$kept"})
    _, stored = app.accounts.read_one(uuid.UUID(r.json()["data"]["id"]))
    assert stored.password_hash == "scrypt$kept"


def test_manifest_lists_the_apis(client):
    r = client.get("/manifest.json")
    assert r.status_code == 200
    listing = {api["name"]: api for api in r.json()}
    assert listing["todo"]["url"] == "/todo/"
    assert listing["account"]["url"] == "/v1/accounts/"
    assert set(listing["todo"]["schema"]["properties"]) == {"id", "text", "order"}
    assert "password_hash" not in listing["account"]["schema"]["properties"]


def test_openapi_document_validates(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    document = r.json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert {"/todo/", "/todo/{ids}/", "/v1/accounts/", "/v1/accounts/{ids}/"} <= set(
        document["paths"])
    schemas = document["components"]["schemas"]
    public = schemas["AccountPublic"]["properties"]
    assert "password_hash" not in public
    assert "name" in public
    assert any("password_hash" in schema.get("properties", {}) for schema in schemas.values())


def test_openapi_lives_under_api_base_url(make_client, queryset_factory):
    class TodosAPI(AutoAPIBase):
        queries = queryset_factory()
        model = Todo

    application = Brubeck(api_base_url="/api")
    application.register_api(TodosAPI)
    client = make_client(application)
    assert client.post("/api/todo/", json={"text": "x"}).status_code == 201
    document = client.get("/api/openapi.json").json()
    validate(document)
    assert set(document["paths"]) == {"/api/todo/", "/api/todo/{ids}/"}
    assert client.get("/api/manifest.json").status_code == 200
    assert client.get("/openapi.json").status_code == 404
