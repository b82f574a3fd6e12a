"""The `engine` fixture: each templating test runs once per template engine."""

import pytest

from .helpers import ENGINES, Engine


@pytest.fixture(params=ENGINES, ids=[e.name for e in ENGINES])
def engine(request) -> Engine:
    return request.param
