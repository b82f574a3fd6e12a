"""A queryset in Redis (redis-py): one hash per model, id -> the item's JSON.

Bulk writes and deletes go in one MULTI/EXEC transaction (an insert in one
Lua script), so other clients see all of them or none. redis-py talks over the
stdlib socket, which the concurrency backend has made green, so calls yield to
the loop while waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from .base import AbstractQueryset, ConflictException, M, Status

# KEYS[1]: the hash; ARGV: id, doc, id, doc... Writes nothing if any id is taken.
_INSERT = """
local taken = {}
for i = 1, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then taken[#taken + 1] = ARGV[i] end
end
if #taken == 0 then
  for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return taken
"""


class RedisQueryset(AbstractQueryset[M]):
    """Items in the hash `name` (default: the model's name) of the server behind `db_conn`."""

    def __init__(self, db_conn: redis.Redis, api_id: str = "id",
                 model: type[M] | None = None, name: str | None = None) -> None:
        super().__init__(db_conn=db_conn, api_id=api_id, model=model, name=name)
        self._insert: Any = None

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

    def insert_many(self, items: Sequence[M]) -> list[Status]:
        self._refuse_repeats(items)
        if self._insert is None:
            self._insert = self.db_conn.register_script(_INSERT)
        args = [part for item in items for part in (self.key(item), self.dump(item))]
        taken = {key.decode() if isinstance(key, bytes) else key
                 for key in self._insert(keys=[self.name], args=args)}
        if taken:
            raise ConflictException([getattr(item, self.api_id) for item in items
                                     if self.key(item) in taken])
        return [(self.MSG_CREATED, item) for item in items]

    def read_page(self, offset: int, limit: int) -> list[Status]:
        """In id order: a hash has none of its own, so this sorts every id (not every doc)."""
        keys = sorted(key.decode() if isinstance(key, bytes) else key
                      for key in self.db_conn.hkeys(self.name))[offset:offset + limit]
        if not keys:
            return []
        docs = self.db_conn.hmget(self.name, keys)
        return [(self.MSG_OK, self.load(doc)) for doc in docs if doc is not None]

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
