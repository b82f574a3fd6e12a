"""Item 12: every scalar config key as `BRUBECK_<KEY>`, typed and checked like the
keyword, the environment winning over the keyword; secrets never shown. Through a real
`brubeck serve` process (the app file sets login_url='/from-the-code')."""

from __future__ import annotations

import secrets
import subprocess
import sys

import pytest

from brubeck import Brubeck
from brubeck.config import SETTINGS, ConfigError, settings_from_env
from tests.middleware.served import APP, serve
from tests.support.processes import ROOT, free_port, python_env

#: Keys that hold objects (or a table of them), so only code can give them.
OBJECT_KEYS = {"msg_conn", "mongrel2_pair", "handler_tuples", "pool", "base_handler",
               "no_handler", "template_loader", "db_conn", "limits", "middleware"}


def test_config_env_12_every_scalar_key_has_a_variable():
    missing = [s.name for s in SETTINGS if s.env is None and s.name not in OBJECT_KEYS]
    assert missing == []


def test_config_env_12_environment_wins_over_the_keyword_in_a_served_app(tmp_path):
    secret = secrets.token_urlsafe(32)
    with serve(tmp_path, "wsgi", args=("--log-level", "DEBUG"),
               BRUBECK_LOGIN_URL="/from-env", BRUBECK_DEBUG="yes",
               BRUBECK_COOKIE_MAX_AGE="3600", BRUBECK_ALLOWED_HOSTS="127.0.0.1, localhost",
               BRUBECK_COOKIE_SECRET=secret) as served:
        settings = served.get("/settings").json()
        assert served.get("/signed").text == "42"  # signed and verified with the env secret
        output = served.wait_for_output("settings from the environment")
    assert settings == {"login_url": "/from-env", "debug": True, "cookie_max_age": 3600,
                        "has_secret": True, "allowed_hosts": ["127.0.0.1", "localhost"]}
    assert "cookie_secret=***" in output and "login_url='/from-env'" in output
    assert secret not in output


@pytest.mark.parametrize("name, value, message", [
    ("BRUBECK_DEBUG", "maybe", "BRUBECK_DEBUG must be bool"),
    ("BRUBECK_COOKIE_MAX_AGE", "soon", "BRUBECK_COOKIE_MAX_AGE must be seconds"),
    ("BRUBECK_AUTOAPI_PAGE_SIZE", "0", "autoapi_page_size"),
    ("BRUBECK_LOG_LEVEL", "LOUD", "log_level"),
    ("BRUBECK_STATIC_URL_PREFIX", "static", "static_url_prefix"),
])
def test_config_env_12_bad_values_stop_the_app_naming_the_variable(name, value, message):
    started = subprocess.run(
        [sys.executable, "-m", "brubeck", "serve", APP, "--port", str(free_port())],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=python_env(**{name: value}))
    assert started.returncode != 0
    assert message in started.stderr
    assert "Traceback" not in started.stderr or "ConfigError" in started.stderr


def test_config_env_12_secret_values_never_in_messages(monkeypatch):
    with pytest.raises(ConfigError) as refused:
        Brubeck(cookie_secret=123456789)
    assert "123456789" not in str(refused.value)
    assert settings_from_env({"BRUBECK_COOKIE_SECRET": "s3cr3t"}) == {"cookie_secret": "s3cr3t"}
    monkeypatch.setenv("BRUBECK_XSRF_COOKIES", "on")
    monkeypatch.setenv("BRUBECK_REQUEST_TIMEOUT", "2.5")
    monkeypatch.setenv("BRUBECK_TRUSTED_PROXIES", "10.0.0.1,10.0.0.2")
    app = Brubeck(xsrf_cookies=False, request_timeout=60)
    assert (app.xsrf_cookies, app.request_timeout) == (True, 2.5)
    assert app.trusted_proxies == {"10.0.0.1", "10.0.0.2"}
