"""`queryset_factory(model)`: a fresh, empty queryset of the parametrized kind.

Every test that asks for it runs once per store: Dict, SQLite (a file in the
test's tmp dir) and Redis (a real redis-server, flushed per test).
"""

import pytest

from brubeck.queryset import DictQueryset, SQLiteQueryset
from tests.support.redis import redis_url  # noqa: F401  (fixture)

STORES = ["dict", "sqlite", "redis"]


@pytest.fixture(params=STORES)
def store(request):
    return request.param


@pytest.fixture
def queryset_factory(store, request, tmp_path):
    made = []

    def make(**kwargs):
        if store == "dict":
            queries = DictQueryset(**kwargs)
        elif store == "sqlite":
            queries = SQLiteQueryset(tmp_path / "api.db", **kwargs)
        else:
            import redis

            from brubeck.queryset import RedisQueryset

            conn = redis.Redis.from_url(request.getfixturevalue("redis_url"))
            conn.flushdb()
            queries = RedisQueryset(conn, **kwargs)
        made.append(queries)
        return queries

    yield make
    for queries in made:
        if store == "sqlite":
            queries.close()
        elif store == "redis":
            queries.db_conn.close()
