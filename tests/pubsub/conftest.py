"""Buses for the pubsub tests: the in-process one and Redis Streams on a real redis-server.

Every Redis bus gets its own key prefix, so tests sharing the session's
redis-server never see each other's channels, and is closed at the end.
"""

from __future__ import annotations

import uuid

import pytest

from brubeck import pubsub
from tests.support.redis import redis_url  # noqa: F401  (the session fixture)

BACKENDS = ["memory", "redis"]


@pytest.fixture
def make_bus(request):
    """`make_bus(kind, **options)` -> a fresh bus; every one is closed after the test."""
    buses = []
    prefix = f"test:{uuid.uuid4().hex[:12]}:"

    def make(kind: str, **options) -> pubsub.Bus:
        if kind == "memory":
            bus = pubsub.connect("memory://", **options)
        else:
            options.setdefault("prefix", prefix)
            bus = pubsub.connect(request.getfixturevalue("redis_url"), **options)
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        bus.close()


@pytest.fixture(params=BACKENDS)
def kind(request):
    return request.param
