"""register_api refuses what it cannot serve, with a ConfigError naming the problem."""

import pytest
from pydantic import BaseModel

from brubeck.app import Brubeck
from brubeck.autoapi import APIModel, AutoAPIBase, api_registry
from brubeck.config import ConfigError
from brubeck.queryset import DictQueryset


class Thing(APIModel):
    name: str


def api(model=Thing, queries=None):
    queries = DictQueryset() if queries is None else queries
    return type("ThingsAPI", (AutoAPIBase,), {"model": model, "queries": queries})


def test_needs_an_autoapi_class():
    with pytest.raises(ConfigError, match="AutoAPIBase subclass"):
        Brubeck().register_api(object)


def test_needs_a_model_and_a_queryset():
    with pytest.raises(ConfigError, match="pydantic model"):
        Brubeck().register_api(api(model=dict))
    with pytest.raises(ConfigError, match="must be a queryset"):
        Brubeck().register_api(api(queries={}))


def test_needs_an_id_field():
    class NoId(BaseModel):
        name: str

    with pytest.raises(ConfigError, match="no 'id' field"):
        Brubeck().register_api(api(model=NoId))


def test_one_url_per_api_and_one_model_per_queryset():
    app = Brubeck()
    things = api()
    app.register_api(things)
    with pytest.raises(ConfigError, match="already registered at /thing/"):
        app.register_api(api())
    app.register_api(things, prefix="/v2/things")  # the same class at a second prefix
    assert list(api_registry(app).apis) == ["/thing/", "/v2/things/"]

    class Other(APIModel):
        pass

    with pytest.raises(ConfigError, match="already serves Thing"):
        app.register_api(api(model=Other, queries=things.queries))


def test_registries_are_per_app():
    first, second = Brubeck(), Brubeck()
    first.register_api(api())
    assert api_registry(second) is None
