"""The queryset contract itself, the same over Dict, SQLite and Redis."""

import contextlib
import gc
import sqlite3
import uuid

import pytest
from pydantic import Field

from brubeck import concurrency
from brubeck.autoapi import APIModel
from brubeck.queryset import (
    AbstractQueryset,
    ConflictException,
    FourOhFourException,
    SQLiteQueryset,
)


class Note(APIModel):
    text: str
    secret: str = Field("", exclude=True)


@pytest.fixture
def notes(queryset_factory):
    return queryset_factory(model=Note)


def test_writes_report_created_then_updated(notes):
    note = Note(text="a")
    assert notes.create_one(note) == (AbstractQueryset.MSG_CREATED, note)
    changed = note.model_copy(update={"text": "b"})
    assert notes.update_one(changed) == (AbstractQueryset.MSG_UPDATED, changed)
    assert notes.read_one(note.id) == (AbstractQueryset.MSG_OK, Note(id=note.id, text="b"))


def test_one_forms_raise_for_a_missing_id(notes):
    with pytest.raises(FourOhFourException):
        notes.read_one(uuid.uuid4())
    with pytest.raises(FourOhFourException):
        notes.destroy_one(uuid.uuid4())


def test_many_forms_report_missing_ids_in_order(notes):
    here, gone = Note(text="here"), uuid.uuid4()
    notes.create_many([here])
    assert notes.read_many([gone, here.id]) == [(notes.MSG_NOTFOUND, gone), (notes.MSG_OK, here)]
    assert notes.destroy_many([here.id, gone]) == [(notes.MSG_OK, here), (notes.MSG_NOTFOUND, gone)]
    assert notes.read_all() == []


def test_dispatchers_take_one_or_a_list(notes):
    a, b = Note(text="a"), Note(text="b")
    assert notes.create([a, b]) == [(notes.MSG_CREATED, a), (notes.MSG_CREATED, b)]
    assert notes.read(a.id) == (notes.MSG_OK, a)
    assert sorted(item.text for _, item in notes.read()) == ["a", "b"]
    assert notes.destroy([a.id]) == [(notes.MSG_OK, a)]


def test_excluded_fields_are_stored(notes):
    note = Note(text="t", secret="s3cret")
    assert "secret" not in note.model_dump()
    notes.create_one(note)
    assert notes.read_one(note.id)[1].secret == "s3cret"


def test_a_queryset_serves_one_model(notes):
    class Other(APIModel):
        pass

    with pytest.raises(ValueError, match="already serves Note"):
        notes.bind(Other)


def test_the_model_needs_the_id_field():
    class NoId(Note.__base__.__base__):  # pydantic BaseModel
        name: str

    with pytest.raises(ValueError, match="no 'id' field"):
        SQLiteQueryset(model=NoId)


# -- SQLite specifics -----------------------------------------------------------------

def test_sqlite_keeps_data_across_restarts(tmp_path):
    note = Note(text="persisted", secret="kept")
    first = SQLiteQueryset(tmp_path / "db.sqlite", model=Note)
    first.create_one(note)
    first.close()
    again = SQLiteQueryset(tmp_path / "db.sqlite", model=Note)
    assert again.read_all() == [(again.MSG_OK, note)]
    assert again.read_one(note.id)[1].secret == "kept"


def test_issue19_3_a_dropped_sqlite_queryset_closes_its_connections(tmp_path, monkeypatch):
    """Python 3.13 warns about each sqlite3 connection left open (an error in this
    suite): a queryset nobody closed closes its pool when it is collected."""
    made, real_connect = [], sqlite3.connect

    def connect(*args, **kwargs):
        made.append(real_connect(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr("brubeck.queryset.sqlite.sqlite3.connect", connect)
    notes = SQLiteQueryset(tmp_path / "db.sqlite", model=Note)
    notes.save(Note(text="kept"))
    assert made
    del notes
    gc.collect()
    for conn in made:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            conn.execute("SELECT 1")


def test_sqlite_bulk_write_is_one_transaction(tmp_path):
    path = tmp_path / "db.sqlite"
    notes = SQLiteQueryset(path, model=Note)
    notes.read_all()  # creates the table
    with contextlib.closing(sqlite3.connect(path)) as conn:  # `with conn` only commits
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON note "
                     "WHEN json_extract(NEW.doc, '$.text') = 'boom' "
                     "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with pytest.raises(sqlite3.IntegrityError):
        notes.create_many([Note(text="fine"), Note(text="boom")])
    assert notes.read_all() == []


def test_sqlite_table_name_is_checked():
    with pytest.raises(ValueError, match="table name"):
        SQLiteQueryset(model=Note, name='note"; DROP TABLE x; --')


def test_sqlite_blocking_calls_go_through_the_backend_thread_pool(tmp_path):
    backend = concurrency.active()
    calls = []

    class Recording:
        Queue = backend.Queue

        @staticmethod
        def run_in_thread(fn, *args):
            calls.append(fn)
            return backend.run_in_thread(fn, *args)

    notes = SQLiteQueryset(tmp_path / "db.sqlite")
    notes.bind(Note, Recording)
    note = Note(text="threaded")
    notes.create_one(note)
    assert notes.read_one(note.id)[1] == note
    assert len(calls) == 3  # connect, write, read


def test_sqlite_does_not_stall_the_loop(tmp_path):
    """While one greenlet waits on a slow SQLite call, another keeps running."""
    backend = concurrency.active()
    notes = SQLiteQueryset(tmp_path / "db.sqlite")
    notes.bind(Note, backend)
    notes.read_all()
    ticks = []

    def ticker():
        for _ in range(10):
            ticks.append(1)
            backend.sleep(0.01)

    def slow(conn):  # a recursive CTE that keeps SQLite busy in C for a while
        return conn.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                            "WHERE i < 3000000) SELECT count(*) FROM n").fetchone()

    worker = backend.spawn(ticker)
    assert notes._run(slow) == (3000000,)
    ticked_meanwhile = len(ticks)
    worker.wait() if hasattr(worker, "wait") else worker.join()
    assert ticked_meanwhile >= 3


def test_security_5_insert_many_refuses_taken_ids_and_writes_nothing(notes):
    here, new = Note(text="here"), Note(text="new")
    notes.create_one(here)
    with pytest.raises(ConflictException) as refused:
        notes.insert_many([new, Note(id=here.id, text="again")])
    assert refused.value.ids == [here.id]
    assert notes.read_many([new.id]) == [(notes.MSG_NOTFOUND, new.id)]
    assert notes.read_one(here.id)[1].text == "here"
    twice = Note(text="twice")
    with pytest.raises(ConflictException):
        notes.insert_many([twice, twice])
    assert notes.read_many([twice.id]) == [(notes.MSG_NOTFOUND, twice.id)]
    assert notes.insert_many([new]) == [(notes.MSG_CREATED, new)]
    assert notes.insert_one(twice) == (notes.MSG_CREATED, twice)


def test_security_5_read_page_walks_a_stable_order(notes):
    made = [Note(text=str(i)) for i in range(5)]
    notes.create_many(made)
    notes.update_one(made[1].model_copy(update={"text": "1b"}))  # an update does not move it
    pages = [notes.read_page(offset, 2) for offset in (0, 2, 4, 6)]
    assert [len(page) for page in pages] == [2, 2, 1, 0]
    walked = [item.id for page in pages for _, item in page]
    assert sorted(walked) == sorted(item.id for item in made)
    assert [item.id for _, item in notes.read_page(1, 3)] == walked[1:4]
    assert all(status == notes.MSG_OK for page in pages for status, _ in page)
