"""Security issue #13, item 5: who may use an AutoAPI, and which fields clients may write.

Like test_api.py, every test that takes `client` runs over Dict, SQLite and
Redis and over every transport (in process, WSGI, Mongrel2).
"""

import logging
import uuid
from urllib.parse import quote

import pytest
from openapi_spec_validator import validate
from pydantic import Field

from brubeck.app import Brubeck
from brubeck.auth import UserHandlingMixin
from brubeck.autoapi import APIModel, AutoAPIBase, owner_only, read_only, read_only_fields
from brubeck.handlers import WebMessageHandler
from brubeck.queryset import AbstractQueryset, DictQueryset

SECRET = "a test cookie secret, long enough to sign with"
MAX_ITEMS = 5
PAGE_SIZE = 3


class Note(APIModel):
    text: str = Field(min_length=1, max_length=200)
    order: int = 0
    owner: str = read_only("")       # set by the server from the logged-in user
    role: str = read_only("member")  # never set by clients at all
    secret: str = owner_only("")     # write-only: clients set it, never see it


class NotesAPI(AutoAPIBase, UserHandlingMixin):
    """Everything needs a login; each user reads and writes only their own notes."""

    model = Note
    max_items = MAX_ITEMS
    page_size = PAGE_SIZE

    def get_current_user(self):
        return self.get_cookie("user", secret=self.application.cookie_secret)

    def authorize(self, action, item):
        user = self.current_user
        if user is None:
            return False
        return item is None or item.owner == user

    def server_values(self, action, stored):
        return {"owner": self.current_user} if action == "create" else {}


class Login(WebMessageHandler):
    def post(self):
        self.set_cookie("user", self.get_argument("name"), secret=self.application.cookie_secret)
        self.set_body("in")
        return self.render()


class Token(WebMessageHandler):
    def get(self):
        self.set_body(self.xsrf_token)
        return self.render()


class Open(APIModel):
    text: str = ""
    secret: str = owner_only("")


@pytest.fixture
def app(queryset_factory):
    notes = type("NotesAPI", (NotesAPI,), {"queries": queryset_factory()})
    opened = type("OpenAPI", (AutoAPIBase,), {"queries": queryset_factory(), "model": Open,
                                              "max_items": MAX_ITEMS})
    application = Brubeck(cookie_secret=SECRET, handler_tuples=[
        (r"^/login$", Login), (r"^/token$", Token)])
    application.register_api(notes)
    application.register_api(opened)
    application.notes = notes.queries
    application.opened = opened.queries
    return application


@pytest.fixture
def make(make_client, app):
    return lambda: make_client(app)


def login(client, name):
    assert client.post("/login", data={"name": name}).status_code == 200
    return client


def stored(app, iid):
    return app.notes.read_one(uuid.UUID(iid))[1]


# -- authorize(): 401 for nobody, 403 for the wrong user -----------------------------------

def test_security_5_anonymous_requests_are_401_and_write_nothing(make, app):
    client = make()
    a = str(uuid.uuid4())
    assert client.post("/note/", json={"text": "x"}).status_code == 401
    assert client.put(f"/note/{a}/", json={"text": "x"}).status_code == 401
    assert client.put("/note/", json=[{"id": a, "text": "x"}]).status_code == 401
    assert client.post("/note/", data={"data": '{"text": "x"}'}).status_code == 401
    assert app.notes.read_all() == []
    alice = login(make(), "alice")
    made = alice.post("/note/", json={"text": "mine"}).json()["data"]
    r = client.delete(f"/note/{made['id']}/")
    assert r.status_code == 401
    assert r.json()["status_code"] == 401
    assert client.get("/note/").status_code == 401
    assert client.get(f"/note/{made['id']}/").status_code == 401
    assert stored(app, made["id"]).text == "mine"


def test_security_5_another_user_is_403_and_sees_only_their_own(make, app):
    alice, bob = login(make(), "alice"), login(make(), "bob")
    r = alice.post("/note/", json={"text": "alice's", "owner": "bob"})
    assert r.status_code == 201
    mine = r.json()["data"]
    assert mine["owner"] == "alice"  # the client's owner was ignored; the server set it
    iid = mine["id"]
    assert bob.get(f"/note/{iid}/").status_code == 403
    assert bob.get(f"/note/{iid},{iid}/").status_code == 403
    assert bob.put(f"/note/{iid}/", json={"text": "bob was here"}).status_code == 403
    assert bob.put("/note/", json=[{"id": iid, "text": "bob was here"}]).status_code == 403
    assert bob.delete(f"/note/{iid}/").status_code == 403
    assert stored(app, iid).text == "alice's"
    bob.post("/note/", json={"text": "bob's"})
    assert [n["text"] for n in bob.get("/note/").json()["data"]] == ["bob's"]
    assert [n["text"] for n in alice.get("/note/").json()["data"]] == ["alice's"]
    assert alice.put(f"/note/{iid}/", json={"text": "edited"}).status_code == 200
    assert alice.delete(f"/note/{iid}/").status_code == 200


def test_security_5_a_refused_item_refuses_the_whole_bulk_request(make, app):
    alice, bob = login(make(), "alice"), login(make(), "bob")
    theirs = alice.post("/note/", json={"text": "alice's"}).json()["data"]["id"]
    new = str(uuid.uuid4())
    r = bob.put("/note/", json=[{"id": new, "text": "bob's"}, {"id": theirs, "text": "mine now"}])
    assert r.status_code == 403
    assert bob.delete(f"/note/{theirs},{new}/").status_code == 403
    assert app.notes.read_many([uuid.UUID(new)])[0][0] == AbstractQueryset.MSG_NOTFOUND
    assert stored(app, theirs).text == "alice's"


def test_security_5_default_authorize_keeps_04_and_warns_once_per_open_api(caplog):
    caplog.set_level(logging.WARNING, logger="brubeck.autoapi")
    application = Brubeck(cookie_secret=SECRET)
    application.register_api(type("NotesAPI", (NotesAPI,), {"queries": DictQueryset()}))
    assert not caplog.records
    application.register_api(type("OpenAPI", (AutoAPIBase,), {"queries": DictQueryset(),
                                                              "model": Open}))
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "/open/" in warnings[0] and "authorize" in warnings[0]


def test_security_5_open_api_still_takes_anonymous_writes(make):
    client = make()
    r = client.post("/open/", json={"text": "anyone"})
    assert r.status_code == 201
    assert client.delete(f"/open/{r.json()['data']['id']}/").status_code == 200


# -- read-only and owner-only fields ---------------------------------------------------------

def test_security_5_read_only_fields_cannot_be_set_by_clients(make, app):
    alice = login(make(), "alice")
    r = alice.post("/note/", json={"text": "t", "role": "admin", "owner": "root"})
    assert r.status_code == 201
    iid = r.json()["data"]["id"]
    assert (r.json()["data"]["role"], r.json()["data"]["owner"]) == ("member", "alice")
    r = alice.put(f"/note/{iid}/", json={"text": "u", "role": "admin", "owner": "bob"})
    assert r.status_code == 200
    note = stored(app, iid)
    assert (note.text, note.role, note.owner) == ("u", "member", "alice")
    r = alice.post("/note/", data={"data": '{"text": "f", "role": "admin"}'},
                   headers={"X-XSRFToken": alice.get("/token").text})
    assert r.status_code == 201
    assert r.json()["data"]["role"] == "member"


def test_security_5_read_only_marker_is_pydantic_metadata():
    assert read_only_fields(Note) == frozenset({"owner", "role"})
    schema = Note.model_json_schema()
    assert schema["properties"]["role"]["readOnly"] is True
    assert schema["properties"]["secret"]["writeOnly"] is True


def test_security_5_openapi_marks_read_only_fields(make):
    document = make().get("/openapi.json").json()
    validate(document)
    schemas = document["components"]["schemas"]
    props = [schema["properties"]["owner"] for schema in schemas.values()
             if "owner" in schema.get("properties", {})]
    assert props and all(p.get("readOnly") is True for p in props)
    assert "401" in document["paths"]["/note/"]["post"]["responses"]
    assert "409" in document["paths"]["/note/"]["post"]["responses"]
    assert "413" in document["paths"]["/note/{ids}/"]["delete"]["responses"]
    assert {"limit", "offset"} <= {p["name"] for p in document["paths"]["/note/"]["get"]
                                   ["parameters"]}


def test_security_5_owner_only_fields_survive_a_put_that_omits_them(make, app):
    alice = login(make(), "alice")
    iid = alice.post("/note/", json={"text": "t", "secret": "s3cret"}).json()["data"]["id"]
    seen = alice.get(f"/note/{iid}/").json()["data"]
    assert "secret" not in seen
    seen["text"] = "changed"
    assert alice.put(f"/note/{iid}/", json=seen).status_code == 200  # what the client saw, back
    assert (stored(app, iid).text, stored(app, iid).secret) == ("changed", "s3cret")
    assert alice.put("/note/", json=[{**seen, "text": "bulk"}]).status_code == 200
    assert stored(app, iid).secret == "s3cret"
    assert alice.put(f"/note/{iid}/", json={"text": "t", "secret": "new"}).status_code == 200
    assert stored(app, iid).secret == "new"  # a client that sends it still sets it
    client = make()  # the open API too
    oid = client.post("/open/", json={"secret": "kept"}).json()["data"]["id"]
    assert client.put(f"/open/{oid}/", json={"text": "x"}).status_code == 200
    assert app.opened.read_one(uuid.UUID(oid))[1].secret == "kept"


# -- XSRF for form-encoded writes on an API with cookie logins ---------------------------------

def test_security_5_form_writes_need_the_xsrf_token_when_users_log_in(make, app):
    alice = login(make(), "alice")
    form = {"data": '{"text": "cross-site"}'}
    r = alice.post("/note/", data=form)  # what a cross-site form would send, cookie and all
    assert r.status_code == 403
    assert app.notes.read_all() == []
    a = str(uuid.uuid4())
    assert alice.put(f"/note/{a}/", data=form).status_code == 403
    assert alice.post(f"/note/?data={quote(form['data'])}", data=b"", headers={
        "Content-Type": "text/plain"}).status_code == 403
    assert app.notes.read_all() == []
    token = alice.get("/token").text
    assert alice.post("/note/", data={**form, "_xsrf": token}).status_code == 201
    assert alice.post("/note/", data=form, headers={"X-XSRFToken": token}).status_code == 201
    assert alice.post("/note/", json={"text": "json needs no token"}).status_code == 201
    assert len(app.notes.read_all()) == 3


def test_security_5_open_api_form_writes_are_unchanged(make):
    client = make()
    assert client.post("/open/", data={"data": '{"text": "0.4 form"}'}).status_code == 201


# -- POST to the collection creates: a taken id is 409 ------------------------------------------

def test_security_5_post_with_an_existing_id_is_409_not_a_replace(make, app):
    alice = login(make(), "alice")
    iid = alice.post("/note/", json={"text": "first"}).json()["data"]["id"]
    r = alice.post("/note/", json={"id": iid, "text": "replaced?"})
    assert r.status_code == 409
    assert r.json()["conflicts"] == [iid]
    new = str(uuid.uuid4())
    r = alice.post("/note/", json=[{"id": new, "text": "new"}, {"id": iid, "text": "again"}])
    assert r.status_code == 409
    assert stored(app, iid).text == "first"
    assert app.notes.read_many([uuid.UUID(new)])[0][0] == AbstractQueryset.MSG_NOTFOUND
    r = alice.post("/note/", json=[{"id": new, "text": "a"}, {"id": new, "text": "b"}])
    assert r.status_code == 409  # the same id twice in one body
    assert alice.put("/note/", json=[{"id": iid, "text": "put replaces"}]).status_code == 200
    assert stored(app, iid).text == "put replaces"


# -- bulk size and pagination --------------------------------------------------------------------

def test_security_5_bulk_writes_over_max_items_are_413(make, app):
    alice = login(make(), "alice")
    r = alice.post("/note/", json=[{"text": str(i)} for i in range(MAX_ITEMS + 1)])
    assert r.status_code == 413
    assert app.notes.read_all() == []
    many = ",".join(str(uuid.uuid4()) for _ in range(MAX_ITEMS + 1))
    assert alice.delete(f"/note/{many}/").status_code == 413
    assert alice.get(f"/note/{many}/").status_code == 413
    assert make().post("/open/", json=[{}] * (MAX_ITEMS + 1)).status_code == 413
    r = alice.post("/note/", json=[{"text": str(i)} for i in range(MAX_ITEMS)])
    assert r.status_code == 201


def test_security_5_lists_are_paginated(make, app):
    alice = login(make(), "alice")
    for i in range(MAX_ITEMS):
        assert alice.post("/note/", json={"text": f"n{i}", "order": i}).status_code == 201
    every = [n["id"] for n in alice.get(f"/note/?limit={MAX_ITEMS}").json()["data"]]
    assert len(set(every)) == MAX_ITEMS  # one stable order per store
    body = alice.get("/note/").json()
    assert [n["id"] for n in body["data"]] == every[:PAGE_SIZE]  # page_size items by default
    assert body["paging"] == {"offset": 0, "limit": PAGE_SIZE, "next": "/note/?offset=3&limit=3"}
    body = alice.get(body["paging"]["next"]).json()
    assert [n["id"] for n in body["data"]] == every[PAGE_SIZE:]
    assert body["paging"]["next"] is None
    body = alice.get("/note/?limit=2&offset=1").json()
    assert [n["id"] for n in body["data"]] == every[1:3]
    body = alice.get("/note/?limit=1000").json()  # capped at max_items
    assert body["paging"]["limit"] == MAX_ITEMS
    assert len(body["data"]) == MAX_ITEMS
    for bad in ("limit=-1", "limit=0", "offset=-1", "limit=x", "offset=1e9", "offset=" + "9" * 30):
        assert alice.get(f"/note/?{bad}").status_code == 400, bad


def test_security_5_default_page_size_and_max_items():
    assert (AutoAPIBase.page_size, AutoAPIBase.max_items) == (None, None)
    application = Brubeck()
    handler = AutoAPIBase.__new__(AutoAPIBase)
    handler.application = application
    assert (handler.page_limit, handler.item_limit) == (100, 1000)
