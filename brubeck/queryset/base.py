"""The queryset contract: CRUD on documents keyed by id, one item or many at a time.

A queryset stores pydantic model instances. Writes are upserts (Brubeck 0.4's
behaviour): they report whether each item was created or updated; `insert_many`
only creates, and refuses the whole batch if any id is taken. A `_many` write is
all or nothing; a `_many` read or destroy reports missing ids item by item,
while the `_one` forms raise `FourOhFourException` for a missing id.

Backends implement four methods (`create_many`, `read_all`, `read_many`,
`destroy_many`); everything else is derived here, and may be overridden for speed
(or, for `insert_many`, for atomicity: the derived one checks, then writes).

Those answer 0.4's `(status, item)` pairs, which AutoAPI reports from. Code of
your own may prefer the plain forms, items in and items out: `all()`,
`page(offset, limit)`, `get(id)`, `save(item)`, `delete(id)`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from .. import concurrency

M = TypeVar("M", bound=BaseModel)
Status = tuple[str, Any]  # (one of the MSG_* constants, model instance or missing id)


class FourOhFourException(Exception):
    """The id names no stored item."""


class ConflictException(Exception):
    """`insert_many` found ids already taken (or repeated in its batch); nothing was written."""

    def __init__(self, ids: list[Any]) -> None:
        super().__init__(ids)
        self.ids = ids


class AbstractQueryset(Generic[M]):
    """Maps REST calls onto CRUD calls over one kind of model.

    `model` may be given here or bound later by `register_api`; `name` (a
    table or key name) defaults to the model's class name, lower case.
    """

    MSG_OK = "OK"
    MSG_UPDATED = "Updated"
    MSG_CREATED = "Created"
    MSG_NOTFOUND = "Not Found"
    MSG_FAILED = "Failed"

    def __init__(self, db_conn: Any = None, api_id: str = "id",
                 model: type[M] | None = None, name: str | None = None) -> None:
        self.db_conn = db_conn
        self.api_id = api_id
        self.model: type[M] | None = None
        self.name = name
        self.backend: Any = None
        if model is not None:
            self.bind(model)

    def bind(self, model: type[M], backend: Any = None) -> None:
        """Attach the model (and the concurrency backend, for blocking stores) once."""
        if self.model is not None and self.model is not model:
            raise ValueError(f"{type(self).__name__} already serves {self.model.__name__}; "
                             f"give {model.__name__} its own queryset")
        if self.api_id not in model.model_fields:
            raise ValueError(f"{model.__name__} has no {self.api_id!r} field to key items by")
        self.model = model
        self.name = self.name or model.__name__.lower()
        self.backend = backend or self.backend
        self.prepare()

    def prepare(self) -> None:
        """Called once bound: create tables and the like."""

    def blocking_backend(self) -> Any:
        """The backend that runs this store's blocking calls in a native thread.

        The one `bind` was given; else, in a process a backend made green, that
        backend (bound from then on), so a queryset a handler uses on its own
        never blocks the loop; else None: a plain script, with no loop to block.
        """
        if self.backend is None and concurrency.patched_by() is not None:
            self.backend = concurrency.active()
        return self.backend

    # -- helpers for backends ---------------------------------------------------------

    def key(self, item_or_id: Any) -> str:
        """The storage key: the id as text (a UUID in its canonical form)."""
        if isinstance(item_or_id, BaseModel):
            item_or_id = getattr(item_or_id, self.api_id)
        return str(item_or_id)

    def dump(self, item: M) -> str:
        """The stored form: the model's own JSON, plus the fields it excludes from output.

        A field with `exclude=True` (a password hash) must still be kept, or a
        read would lose it; by alias, so that `load` reads it back.
        """
        doc = item.model_dump(mode="json", by_alias=True)
        for name, field in type(item).model_fields.items():
            if field.exclude is True:
                doc[field.alias or name] = to_jsonable_python(getattr(item, name))
        return json.dumps(doc, separators=(",", ":"))

    def load(self, stored: str | bytes) -> M:
        assert self.model is not None, "queryset used before bind(model)"
        return self.model.model_validate_json(stored)

    # -- 0.4's dispatchers: one item or a list ----------------------------------------

    def create(self, items: M | list[M]) -> Status | list[Status]:
        return self.create_many(items) if isinstance(items, list) else self.create_one(items)

    def read(self, ids: Any = None) -> Status | list[Status]:
        if not ids:
            return self.read_all()
        return self.read_many(ids) if isinstance(ids, list) else self.read_one(ids)

    def update(self, items: M | list[M]) -> Status | list[Status]:
        return self.update_many(items) if isinstance(items, list) else self.update_one(items)

    def destroy(self, ids: Any) -> Status | list[Status]:
        return self.destroy_many(ids) if isinstance(ids, list) else self.destroy_one(ids)

    # -- the plain API: items in, items out -------------------------------------------

    def all(self) -> list[M]:
        """Every stored item, in the store's order (`read_all()` without the statuses)."""
        return [item for _, item in self.read_all()]

    def page(self, offset: int = 0, limit: int = 100) -> list[M]:
        """At most `limit` items from `offset` on, in an order stable between calls."""
        return [item for _, item in self.read_page(offset, limit)]

    def get(self, iid: Any) -> M | None:
        """The item with id `iid`, or None."""
        status, item = self.read_many([iid])[0]
        return item if status == self.MSG_OK else None

    def save(self, item: M) -> bool:
        """Store `item`, replacing any with its id; True when it was new."""
        return bool(self.create_many([item])[0][0] == self.MSG_CREATED)

    def delete(self, iid: Any) -> M | None:
        """Delete the item with id `iid`: the deleted item, or None if there was none."""
        status, item = self.destroy_many([iid])[0]
        return item if status == self.MSG_OK else None

    # -- what a backend implements ----------------------------------------------------

    def create_many(self, items: Sequence[M]) -> list[Status]:
        """Upsert all items or none: [(MSG_CREATED or MSG_UPDATED, item)]."""
        raise NotImplementedError

    def read_all(self) -> list[Status]:
        """Every stored item: [(MSG_OK, item)]."""
        raise NotImplementedError

    def read_many(self, ids: Sequence[Any]) -> list[Status]:
        """[(MSG_OK, item) or (MSG_NOTFOUND, id)] in the order of `ids`."""
        raise NotImplementedError

    def destroy_many(self, ids: Sequence[Any]) -> list[Status]:
        """Delete atomically: [(MSG_OK, deleted item) or (MSG_NOTFOUND, id)]."""
        raise NotImplementedError

    # -- derived ----------------------------------------------------------------------

    def create_one(self, item: M) -> Status:
        return self.create_many([item])[0]

    def update_one(self, item: M) -> Status:
        return self.update_many([item])[0]

    def update_many(self, items: Sequence[M]) -> list[Status]:
        """Writes are upserts, so an update is a create that may find the id taken."""
        return self.create_many(items)

    def insert_many(self, items: Sequence[M]) -> list[Status]:
        """Create all items or none: `ConflictException` names the ids already taken.

        This derived form checks, then writes, so a concurrent writer may slip in
        between; the bundled backends override it with one atomic step.
        """
        self._refuse_repeats(items)
        taken = [iid for status, iid in self.read_many([getattr(i, self.api_id) for i in items])
                 if status != self.MSG_NOTFOUND]
        if taken:
            raise ConflictException(taken)
        return self.create_many(items)

    def insert_one(self, item: M) -> Status:
        return self.insert_many([item])[0]

    def read_page(self, offset: int, limit: int) -> list[Status]:
        """At most `limit` items from `offset` on, in an order that is stable between calls."""
        return self.read_all()[offset:offset + limit]

    def read_one(self, iid: Any) -> Status:
        return self._found(self.read_many([iid])[0])

    def destroy_one(self, iid: Any) -> Status:
        return self._found(self.destroy_many([iid])[0])

    def _refuse_repeats(self, items: Sequence[M]) -> None:
        seen: set[str] = set()
        repeated = []
        for item in items:
            key = self.key(item)
            if key in seen:
                repeated.append(getattr(item, self.api_id))
            seen.add(key)
        if repeated:
            raise ConflictException(repeated)

    def _found(self, status: Status) -> Status:
        if status[0] == self.MSG_NOTFOUND:
            raise FourOhFourException(status[1])
        return status
