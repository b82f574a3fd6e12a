"""0.4 behaviours an unchanged 0.4 app can observe (issue 19, items 9-13).

Each test drives a 0.4 demo, or a handler written against 0.4's API, the way
0.4 apps use it: the demo files as processes behind Mongrel2 and over WSGI
(`demo_site`), handlers through every transport (`make_client`). The choices
are documented in docs/differences.rst.
"""

import shutil
import sqlite3
import subprocess
import sys
import time

import pytest
from pydantic import BaseModel

from brubeck import concurrency
from brubeck.autoapi import AutoAPIBase
from brubeck.queryset import DictQueryset, SQLiteQueryset
from brubeck.request import Request
from brubeck.request_handling import Brubeck, JSONMessageHandler, WebMessageHandler
from brubeck.testing import LiveClient
from tests.compat import test_demos
from tests.compat.test_demos import DEMOS, first_answer
from tests.support.processes import stop

demo_site = test_demos.demo_site  # the 0.4 demos' fixture: Mongrel2 and WSGI

BACKEND = concurrency.active()


def start_demo_in(tmp_path, name, env, templates=()):
    """Run a demo from a scratch folder holding its templates (it writes files there)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    for folder in templates:
        shutil.copytree(DEMOS / "templates" / folder, tmp_path / "templates" / folder)
    return subprocess.Popen([sys.executable, str(DEMOS / f"{name}.py")], env=env, cwd=tmp_path)


def app_04(*routes):
    return Brubeck(handler_tuples=list(routes))


# -- item 9: blank values fall back to the default ------------------------------------

def test_compat_9_blank_query_value_falls_back_to_the_default(demo_site, tmp_path):
    base_url, env = demo_site
    proc = start_demo_in(tmp_path / "run", "demo_jinja2_noclasses", env, ["jinja2"])
    try:
        assert "Take five, dude!" in first_answer(base_url + "/?name=", proc)
        client = LiveClient(base_url)
        assert "Take five, ann!" in client.get("/?name=ann").text
        assert "Take five, dude!" in client.get("/?name=&other=1").text
        assert "Take five, dude!" in client.post("/", data={"name": ""}).text  # a blank field
        assert "Take five, bo!" in client.post("/", data={"name": "bo"}).text
        client.close()
    finally:
        stop(proc)


def test_compat_9_blank_values_are_left_out_of_arguments():
    request = Request("GET", "/", "a=&b=1&a=2&flag")
    assert request.arguments == {"b": ["1"], "a": ["2"]}
    assert request.get_argument("c", "dflt") == "dflt"


# -- item 10: get_arguments() of a missing name is None -------------------------------

class ArgumentsHandler(WebMessageHandler):
    def get(self):
        tags = self.get_arguments('tag')
        if tags is None:  # 0.4: "If the argument is not present, returns a None."
            self.set_body('no tags')
        else:
            self.set_body(','.join(tags))
        return self.render()


def test_compat_10_get_arguments_of_a_missing_name_is_none(make_client):
    client = make_client(app_04((r'^/tags$', ArgumentsHandler)))
    assert client.get('/tags').text == 'no tags'
    assert client.get('/tags?tag=').text == 'no tags'
    assert client.get('/tags?tag=a&tag=%20b%20').text == 'a,b'
    assert Request("GET", "/", "").arguments.get("tag", []) == []  # the plain way to a list


# -- item 11: `files` exists on multipart requests only -------------------------------

def test_compat_11_urlencoded_post_to_the_multipart_demo_redirects(demo_site, tmp_path):
    base_url, env = demo_site
    run = tmp_path / "run"
    proc = start_demo_in(run, "demo_multipart", env, ["multipart"])
    try:
        assert 'enctype="multipart/form-data"' in first_answer(base_url + "/add_file", proc)
        client = LiveClient(base_url)
        plain = client.post("/add_file", data={"data": "not a file"})
        assert (plain.status_code, plain.headers["Location"]) == (302, "/")
        assert not (run / "word.png").exists()
        upload = client.post("/add_file", files={"data": ("word.png", b"\x89PNG bytes")})
        assert (upload.status_code, upload.headers["Location"]) == (302, "/")
        assert (run / "word.png").read_bytes() == b"\x89PNG bytes"
        client.close()
    finally:
        stop(proc)


def test_compat_11_files_only_on_multipart_and_uploads_always():
    plain = Request("POST", "/", "", {"Content-Type": "application/x-www-form-urlencoded"},
                    b"data=x")
    assert not hasattr(plain, "files") and plain.uploads == {}
    assert not hasattr(Request("GET", "/"), "files")
    body = (b'--b\r\nContent-Disposition: form-data; name="data"; filename="a.txt"\r\n\r\n'
            b'abc\r\n--b--\r\n')
    upload = Request("POST", "/", "", {"Content-Type": "multipart/form-data; boundary=b"}, body)
    assert upload.files["data"][0]["body"] == b"abc"
    assert upload.uploads == upload.files


# -- item 12: AutoAPI items carry their status when hide_status hides the payload's ----

def test_compat_12_autoapi_demo_items_carry_their_status(demo_site, tmp_path):
    base_url, env = demo_site
    proc = start_demo_in(tmp_path / "run", "demo_autoapi", env)
    try:
        assert first_answer(base_url + "/todo/", proc) == "[]"
        client = LiveClient(base_url)
        one = "111b4bb7-55f5-441b-ba25-c7a4fd99442c"
        made = client.post(f"/todo/{one}/", json={"id": one, "title": "Watch more bsg"})
        assert made.status_code == 201
        assert made.json() == {"id": one, "completed": False, "deleted": False,
                               "archived": False, "title": "Watch more bsg",
                               "status_code": 201, "status_msg": "Created"}
        again = client.post(f"/todo/{one}/", json={"id": one, "title": "Watch bsg"})
        assert (again.status_code, again.json()["status_code"]) == (200, 200)
        listed = client.get("/todo/").json()
        assert [(item["title"], item["status_code"], item["status_msg"]) for item in listed] \
            == [("Watch bsg", 200, "OK")]
        two = "222b4bb7-55f5-441b-ba25-c7a4fd994421"
        mixed = client.put("/todo/", json=[{"id": one, "title": "a"}, {"id": two, "title": "b"}])
        assert mixed.status_code == 207
        assert [item["status_code"] for item in mixed.json()] == [200, 201]
        client.close()
    finally:
        stop(proc)


class Flagged(BaseModel):
    id: int
    status_code: str = "draft"  # the model's own field keeps its value


def test_compat_12_a_model_field_wins_and_the_envelope_keeps_items_plain(make_client):
    class FlaggedAPI(AutoAPIBase):
        queries = DictQueryset()
        model = Flagged

        def render(self, **kwargs):
            return super().render(hide_status=True, **kwargs)

    class ShownAPI(AutoAPIBase):
        queries = DictQueryset()
        model = Flagged

    app = app_04()
    app.register_api(FlaggedAPI, prefix="/hidden")
    app.register_api(ShownAPI, prefix="/shown")
    client = make_client(app)
    assert client.post("/hidden/1/", json={"id": 1}).json() == \
        {"id": 1, "status_code": "draft", "status_msg": "Created"}
    shown = client.post("/shown/", json={"id": 2}).json()
    assert (shown["status_code"], shown["data"]) == (201, {"id": 2, "status_code": "draft"})


# -- item 13: querysets: 0.4's shape, a plain API, bound to the backend ----------------

class Note(BaseModel):
    id: int
    text: str


class NotesHandler(JSONMessageHandler):
    queries = None  # set per test: used outside AutoAPI, never bound by anyone

    def get(self):
        self.add_to_payload('pairs', [[s, n.text] for s, n in self.queries.read_all()])
        self.add_to_payload('texts', [n.text for n in self.queries.all()])
        found = self.queries.get(int(self.get_argument('id', '0')))
        self.add_to_payload('found', found.text if found else None)
        return self.render()

    def post(self):
        new = self.queries.save(Note(id=int(self.get_argument('id')),
                                     text=self.get_argument('text')))
        return self.render(status_code=201 if new else 200)


@pytest.mark.parametrize("store", ["dict", "sqlite"])
def test_compat_13_read_all_keeps_0_4_shape_and_the_plain_api(make_client, tmp_path, store):
    queries = DictQueryset(model=Note) if store == "dict" else \
        SQLiteQueryset(tmp_path / "notes.db", model=Note)
    handler = type("Notes", (NotesHandler,), {"queries": queries})
    client = make_client(app_04((r'^/notes$', handler)))
    assert client.post('/notes', data={'id': '1', 'text': 'one'}).status_code == 201
    assert client.post('/notes', data={'id': '1', 'text': 'uno'}).status_code == 200
    assert client.post('/notes', data={'id': '2', 'text': 'two'}).status_code == 201
    body = client.get('/notes?id=2').json()
    assert body['pairs'] == [['OK', 'uno'], ['OK', 'two']]
    assert (body['texts'], body['found']) == (['uno', 'two'], 'two')
    assert client.get('/notes?id=3').json()['found'] is None
    assert [n.text for n in queries.page(1, 5)] == ['two']
    assert queries.delete(1) == Note(id=1, text='uno') and queries.delete(1) is None
    if store == "sqlite":
        assert queries.backend is BACKEND  # bound on first use, no register_api
        queries.close()


def test_compat_13_unbound_sqlite_queryset_does_not_block_the_loop(tmp_path):
    """A write waits on a lock another connection holds for 0.5 s: in a native thread
    the loop keeps ticking (and the holder, a green thread, can let go); on the loop
    it would stall until SQLite's timeout and fail."""
    path = tmp_path / "locked.db"
    queries = SQLiteQueryset(path, model=Note, timeout=3.0)
    queries.save(Note(id=1, text="first"))  # creates the table
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    ticks = []

    def tick():
        for _ in range(100):
            ticks.append(time.monotonic())
            BACKEND.sleep(0.02)

    def let_go():
        BACKEND.sleep(0.5)
        holder.execute("COMMIT")

    ticker = BACKEND.spawn(tick)
    BACKEND.spawn(let_go)
    started = time.monotonic()
    assert queries.save(Note(id=2, text="second")) is True
    waited = time.monotonic() - started
    during = [t for t in ticks if started <= t <= started + waited]
    assert waited >= 0.4 and len(during) >= 5  # 25 expected at 20 ms; 5x slack
    assert [n.text for n in queries.all()] == ["first", "second"]
    ticker.kill()
    holder.close()
    queries.close()
