"""A queryset in Redis (redis-py): one hash per model, id -> the item's JSON.

Bulk writes and deletes go in one MULTI/EXEC transaction, so other clients
see all of them or none. redis-py talks over the stdlib socket, which the
concurrency backend has made green, so calls yield to the loop while waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from .base import AbstractQueryset, M, Status


class RedisQueryset(AbstractQueryset[M]):
    """Items in the hash `name` (default: the model's name) of the server behind `db_conn`."""

    def __init__(self, db_conn: redis.Redis, api_id: str = "id",
                 model: type[M] | None = None, name: str | None = None) -> None:
        super().__init__(db_conn=db_conn, api_id=api_id, model=model, name=name)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisQueryset[M]:
        """`RedisQueryset.from_url('redis://127.0.0.1:6379/0', model=Todo)`."""
        return cls(redis.Redis.from_url(url), **kwargs)

    def create_many(self, items: Sequence[M]) -> list[Status]:
        rows = [(self.key(item), self.dump(item)) for item in items]
        with self.db_conn.pipeline(transaction=True) as pipe:
            for key, doc in rows:
                pipe.hset(self.name, key, doc)
            added = pipe.execute()  # 1: a new field, 0: an overwritten one
        return [(self.MSG_CREATED if new else self.MSG_UPDATED, item)
                for new, item in zip(added, items, strict=True)]

    def read_all(self) -> list[Status]:
        return [(self.MSG_OK, self.load(doc)) for doc in self.db_conn.hvals(self.name)]

    def read_many(self, ids: Sequence[Any]) -> list[Status]:
        if not ids:
            return []
        docs = self.db_conn.hmget(self.name, [self.key(iid) for iid in ids])
        return [(self.MSG_OK, self.load(doc)) if doc is not None else (self.MSG_NOTFOUND, iid)
                for iid, doc in zip(ids, docs, strict=True)]

    def destroy_many(self, ids: Sequence[Any]) -> list[Status]:
        if not ids:
            return []
        keys = [self.key(iid) for iid in ids]
        with self.db_conn.pipeline(transaction=True) as pipe:
            pipe.hmget(self.name, keys)
            for key in keys:
                pipe.hdel(self.name, key)
            docs, *deleted = pipe.execute()
        return [(self.MSG_OK, self.load(doc)) if gone else (self.MSG_NOTFOUND, iid)
                for iid, doc, gone in zip(ids, docs, deleted, strict=True)]
