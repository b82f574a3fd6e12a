"""Configuration: 0.4 keys accepted, unknown keys and wrong types refused clearly."""

from pathlib import Path

import pytest

from brubeck import Brubeck, ConfigError, Mongrel2Connection, WSGIConnection
from brubeck.config import SETTINGS, rst_table

ROOT = Path(__file__).resolve().parents[1]


def test_all_04_keys_accepted():
    app = Brubeck(
        msg_conn=WSGIConnection(7000), handler_tuples=[], pool=None, base_handler=None,
        template_loader=None, log_level="INFO", login_url="/in", db_conn=object(),
        cookie_secret="s", api_base_url="/api/", debug=False,
    )
    assert (app.login_url, app.api_base_url, app.cookie_secret) == ("/in", "/api/", "s")


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"unknown config key.*handler_tupels"):
        Brubeck(handler_tupels=[])


@pytest.mark.parametrize("key, value", [
    ("handler_tuples", "nope"), ("handler_tuples", [("^/", 3)]), ("login_url", 5),
    ("debug", "yes"), ("mongrel2_pair", ("only one",)), ("log_level", "LOUD"),
])
def test_wrong_types_are_named(key, value):
    with pytest.raises(ConfigError, match=key):
        Brubeck(**{key: value})


def test_msg_conn_and_mongrel2_pair_are_exclusive():
    with pytest.raises(ConfigError, match="not both"):
        Brubeck(msg_conn=WSGIConnection(), mongrel2_pair=("tcp://a:1", "tcp://a:2"))


def test_mongrel2_pair_builds_a_connection():
    app = Brubeck(mongrel2_pair=("tcp://127.0.0.1:9999", "tcp://127.0.0.1:9998"))
    assert isinstance(app.msg_conn, Mongrel2Connection)


def test_connection_override_from_environment(monkeypatch):
    monkeypatch.setenv("BRUBECK_CONNECTION", "wsgi://127.0.0.1:8111")
    app = Brubeck(msg_conn=WSGIConnection(6767))
    assert (app.msg_conn.host, app.msg_conn.port) == ("127.0.0.1", 8111)
    monkeypatch.setenv("BRUBECK_CONNECTION", "mongrel2://tcp://127.0.0.1:1,tcp://127.0.0.1:2")
    assert isinstance(Brubeck(msg_conn=WSGIConnection()).msg_conn, Mongrel2Connection)
    monkeypatch.setenv("BRUBECK_CONNECTION", "carrier-pigeon://x")
    with pytest.raises(ValueError, match="unknown connection URL"):
        Brubeck()


def test_limits_validated():
    assert Brubeck(limits={"body": 5}).limits.body == 5
    with pytest.raises(ValueError, match="unknown limits"):
        Brubeck(limits={"bodee": 5})


def test_run_without_connection_explains():
    with pytest.raises(ConfigError, match="no connection configured"):
        Brubeck().run()


def test_docs_table_is_generated_from_the_settings():
    docs = (ROOT / "docs" / "config.rst").read_text()
    assert rst_table() in docs, "regenerate with: python -m brubeck config-table"
    assert all(f"``{s.name}``" in docs for s in SETTINGS)
