"""Querysets: CRUD over one model's items, in memory, in SQLite or in Redis.

`RedisQueryset` is loaded on first use, so redis-py is needed only by apps that use it.
"""

from __future__ import annotations

from typing import Any

from .base import AbstractQueryset, ConflictException, FourOhFourException
from .dict import DictQueryset
from .sqlite import SQLiteQueryset

__all__ = ["AbstractQueryset", "ConflictException", "DictQueryset", "FourOhFourException",
           "RedisQueryset", "SQLiteQueryset"]


def __getattr__(name: str) -> Any:
    if name == "RedisQueryset":
        try:
            from .redis import RedisQueryset
        except ImportError as error:
            raise ImportError(f"RedisQueryset needs redis-py: pip install 'brubeck[redis]' "
                              f"({error})") from None
        return RedisQueryset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
