"""An in-memory queryset: a dict from id to the item's JSON, gone when the process ends."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice
from typing import Any

from .base import AbstractQueryset, ConflictException, M, Status


class DictQueryset(AbstractQueryset[M]):
    """Items live in `self.db_conn`, a dict. Stored as JSON so callers never share state.

    Nothing here yields to the event loop, so each call is atomic by construction.
    """

    def __init__(self, api_id: str = "id", model: type[M] | None = None,
                 name: str | None = None) -> None:
        super().__init__(db_conn={}, api_id=api_id, model=model, name=name)

    def create_many(self, items: Sequence[M]) -> list[Status]:
        rows = [(self.key(item), self.dump(item), item) for item in items]
        statuses = []
        for key, stored, item in rows:
            status = self.MSG_UPDATED if key in self.db_conn else self.MSG_CREATED
            self.db_conn[key] = stored
            statuses.append((status, item))
        return statuses

    def insert_many(self, items: Sequence[M]) -> list[Status]:
        self._refuse_repeats(items)
        taken = [getattr(item, self.api_id) for item in items if self.key(item) in self.db_conn]
        if taken:
            raise ConflictException(taken)
        return self.create_many(items)

    def read_page(self, offset: int, limit: int) -> list[Status]:
        """In insertion order (an update keeps an item's place)."""
        return [(self.MSG_OK, self.load(stored))
                for stored in islice(self.db_conn.values(), offset, offset + limit)]

    def read_all(self) -> list[Status]:
        return [(self.MSG_OK, self.load(stored)) for stored in self.db_conn.values()]

    def read_many(self, ids: Sequence[Any]) -> list[Status]:
        found = (self.db_conn.get(self.key(iid)) for iid in ids)
        return [(self.MSG_OK, self.load(stored)) if stored is not None else
                (self.MSG_NOTFOUND, iid) for iid, stored in zip(ids, found, strict=True)]

    def destroy_many(self, ids: Sequence[Any]) -> list[Status]:
        statuses = []
        for iid in ids:
            stored = self.db_conn.pop(self.key(iid), None)
            statuses.append((self.MSG_OK, self.load(stored)) if stored is not None
                            else (self.MSG_NOTFOUND, iid))
        return statuses
