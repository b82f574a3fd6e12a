"""A queryset in SQLite (stdlib sqlite3): the embedded store that keeps data across restarts.

One table per model, `(id TEXT PRIMARY KEY, doc TEXT)`, the doc being the
model's JSON: the key-value shape 0.4's querysets assumed. A bulk write or
delete is one `BEGIN IMMEDIATE` transaction, so it lands whole or not at all.

sqlite3 blocks in C, so in a process a concurrency backend made green (any
Brubeck app; `register_api` binds it up front, and a queryset used on its own
binds it on its first call) every call runs in the backend's native thread pool
(`run_in_thread`) and the event loop keeps serving. Connections are handed out
through the backend's green Queue, so one connection is never used by two
threads at once.
"""

from __future__ import annotations

import os
import queue
import re
import sqlite3
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .base import AbstractQueryset, ConflictException, M, Status

T = TypeVar("T")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MEMORY = ":memory:"


class SQLiteQueryset(AbstractQueryset[M]):
    """Items in table `name` (default: the model's name) of the database at `path`.

    `connections` bounds how many threads use the file at once; an in-memory
    database is private to its connection, so it always gets exactly one.
    """

    def __init__(self, path: str | os.PathLike[str] = MEMORY, api_id: str = "id",
                 model: type[M] | None = None, name: str | None = None,
                 connections: int = 4, timeout: float = 10.0) -> None:
        self.path = os.fspath(path)
        self.size = 1 if self.path == MEMORY else max(1, connections)
        self.timeout = timeout
        self._idle: Any = None  # a Queue of connections, made on first use
        self._opened = 0
        self._closer: weakref.finalize[Any, Any] | None = None
        super().__init__(db_conn=self.path, api_id=api_id, model=model, name=name)

    def prepare(self) -> None:
        if not _IDENTIFIER.match(self.name or ""):
            raise ValueError(f"{self.name!r} is not a usable SQLite table name")

    # -- running a blocking call ------------------------------------------------------

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(connection)` on a free connection, in a native thread if we can."""
        if self._idle is None:
            backend = self.blocking_backend()
            self._idle = (backend.Queue if backend else queue.Queue)()
            self._opened = 0
            # A queryset dropped without `close` still closes its connections
            # (Python 3.13 warns about every sqlite3 connection left open).
            self._closer = weakref.finalize(self, _close_idle, self._idle)
        idle = self._idle
        if idle.empty() and self._opened < self.size:
            self._opened += 1  # reuse open connections first; open one more if all are busy
            conn = None
        else:
            conn = idle.get()
        try:
            if conn is None:
                conn = self._blocking(self._connect)
            result = self._blocking(work, conn)
        except Exception:
            idle.put(conn)
            raise
        except BaseException:
            # Interrupted (a timeout, a kill): its thread may still be using the
            # connection, so it is not handed to anyone else.
            idle.put(None)
            raise
        idle.put(conn)
        return result

    def _blocking(self, fn: Callable[..., T], *args: Any) -> T:
        backend = self.blocking_backend()
        return backend.run_in_thread(fn, *args) if backend else fn(*args)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                               check_same_thread=False)
        if self.path != MEMORY:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{self.name}" '
                     "(id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
        return conn

    def _transaction(self, conn: sqlite3.Connection,
                     steps: Callable[[sqlite3.Connection], T]) -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = steps(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    # -- the four backend operations --------------------------------------------------

    def create_many(self, items: Sequence[M]) -> list[Status]:
        rows = [(self.key(item), self.dump(item)) for item in items]
        table = self.name

        def upsert(conn: sqlite3.Connection) -> list[bool]:
            created = []
            for key, doc in rows:
                taken = conn.execute(f'SELECT 1 FROM "{table}" WHERE id = ?', (key,)).fetchone()
                conn.execute(f'INSERT INTO "{table}" (id, doc) VALUES (?, ?) '
                             "ON CONFLICT(id) DO UPDATE SET doc = excluded.doc", (key, doc))
                created.append(taken is None)
            return created

        created = self._run(lambda conn: self._transaction(conn, upsert))
        return [(self.MSG_CREATED if new else self.MSG_UPDATED, item)
                for new, item in zip(created, items, strict=True)]

    def insert_many(self, items: Sequence[M]) -> list[Status]:
        self._refuse_repeats(items)
        rows = [(self.key(item), self.dump(item)) for item in items]
        table = self.name

        def insert(conn: sqlite3.Connection) -> None:
            taken = [item for item, row in zip(items, rows, strict=True) if conn.execute(
                f'INSERT INTO "{table}" (id, doc) VALUES (?, ?) ON CONFLICT(id) DO NOTHING',
                row).rowcount == 0]
            if taken:  # rolls the transaction back
                raise ConflictException([getattr(item, self.api_id) for item in taken])

        self._run(lambda conn: self._transaction(conn, insert))
        return [(self.MSG_CREATED, item) for item in items]

    def read_page(self, offset: int, limit: int) -> list[Status]:
        """In creation order (an upsert keeps the row)."""
        docs = self._run(lambda conn: conn.execute(
            f'SELECT doc FROM "{self.name}" ORDER BY rowid LIMIT ? OFFSET ?',
            (limit, offset)).fetchall())
        return [(self.MSG_OK, self.load(doc)) for (doc,) in docs]

    def read_all(self) -> list[Status]:
        docs = self._run(lambda conn: conn.execute(
            f'SELECT doc FROM "{self.name}" ORDER BY rowid').fetchall())
        return [(self.MSG_OK, self.load(doc)) for (doc,) in docs]

    def read_many(self, ids: Sequence[Any]) -> list[Status]:
        keys = [self.key(iid) for iid in ids]
        table = self.name

        def select(conn: sqlite3.Connection) -> list[str | None]:
            rows = (conn.execute(f'SELECT doc FROM "{table}" WHERE id = ?', (key,)).fetchone()
                    for key in keys)
            return [row[0] if row else None for row in rows]

        docs = self._run(select)
        return [(self.MSG_OK, self.load(doc)) if doc is not None else (self.MSG_NOTFOUND, iid)
                for iid, doc in zip(ids, docs, strict=True)]

    def destroy_many(self, ids: Sequence[Any]) -> list[Status]:
        keys = [self.key(iid) for iid in ids]
        table = self.name

        def delete(conn: sqlite3.Connection) -> list[str | None]:
            rows = [conn.execute(f'DELETE FROM "{table}" WHERE id = ? RETURNING doc',
                                 (key,)).fetchone() for key in keys]
            return [row[0] if row else None for row in rows]

        docs = self._run(lambda conn: self._transaction(conn, delete))
        return [(self.MSG_OK, self.load(doc)) if doc is not None else (self.MSG_NOTFOUND, iid)
                for iid, doc in zip(ids, docs, strict=True)]

    def close(self) -> None:
        """Close the idle connections; the next call opens new ones."""
        if self._closer is not None:
            self._closer()
        self._idle = self._closer = None


def _close_idle(idle: Any) -> None:
    """Close the connections waiting in a queryset's pool."""
    while not idle.empty():
        conn = idle.get_nowait()
        if conn is not None:
            conn.close()
