"""The table of configuration keys: the one place their types, defaults and meaning live.

`docs/config.rst` is generated from it (`python -m brubeck config-table`) and a
test keeps the two in step. Later features add their rows here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .cookies import DEFAULT_MAX_AGE


class ConfigError(ValueError):
    """A configuration key is unknown, of the wrong type, or contradicts another."""


@dataclass(frozen=True)
class Setting:
    name: str
    type_name: str
    default: Any
    meaning: str
    check: Callable[[Any], bool] = lambda value: True


def _is_pair(value: Any) -> bool:
    return (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, str) for v in value))


def _is_routes(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(item, (list, tuple)) and len(item) == 2 and callable(item[1])
        for item in value
    )


def _is_level(value: Any) -> bool:
    return isinstance(value, int) or (isinstance(value, str) and
                                      isinstance(logging.getLevelName(value.upper()), int))


def _is_secret(value: Any) -> bool:
    return isinstance(value, (str, bytes, dict))


def _is_str_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


SETTINGS: tuple[Setting, ...] = (
    Setting("msg_conn", "Connection", None,
            "The connection to serve: ``WSGIConnection(port)`` or "
            "``Mongrel2Connection(pull_addr, pub_addr)``. Give this or ``mongrel2_pair``, "
            "not both (``BRUBECK_CONNECTION`` overrides either).",
            lambda v: hasattr(v, "run")),
    Setting("mongrel2_pair", "(str, str)", None,
            "Shorthand for ``Mongrel2Connection(*mongrel2_pair)``.", _is_pair),
    Setting("handler_tuples", "list of (regex, callable)", "[]",
            "Routes: first regex to match the path (and allow the method) wins.", _is_routes),
    Setting("pool", "pool with .spawn()", "backend's Pool",
            "Where request greenlets run (Mongrel2); a backend ``Pool(size)`` bounds them.",
            lambda v: hasattr(v, "spawn")),
    Setting("base_handler", "handler class", "WebMessageHandler",
            "Renders errors raised outside a handler class (404, function routes).", callable),
    Setting("no_handler", "handler class or function", None,
            "Answers paths that match no route (default: ``base_handler``'s 404).", callable),
    Setting("template_loader", "callable", None,
            "Zero-argument callable returning a template environment "
            "(``load_jinja2_env(path)``...); kept as ``app.template_env``.", callable),
    Setting("log_level", "int or level name", "logging.INFO",
            "Level of Brubeck's loggers.", _is_level),
    Setting("login_url", "str", "'/login'",
            "Where ``web_authenticated`` sends anonymous users.", lambda v: isinstance(v, str)),
    Setting("db_conn", "any", None,
            "Handed to handlers as ``self.db_conn`` and to functions as "
            "``application.db_conn``."),
    Setting("cookie_secret", "str, bytes or {version: secret}", None,
            "Key(s) signing cookies; a dict rotates keys (highest version signs).", _is_secret),
    Setting("cookie_max_age", "seconds", str(DEFAULT_MAX_AGE),
            "How long a signed cookie stays valid (31 days).", _is_number),
    Setting("xsrf_cookies", "bool", "False",
            "Check an ``_xsrf`` token (form field, ``X-XSRFToken`` or ``X-CSRFToken`` header) "
            "against the ``_xsrf`` cookie on POST, PUT, PATCH and DELETE to handler classes; "
            "a mismatch is 403. ``self.xsrf_form_html()`` renders the field.",
            lambda v: isinstance(v, bool)),
    Setting("secure_cookies", "bool", "False",
            "Mark session and XSRF cookies ``Secure`` and send ``Strict-Transport-Security``. "
            "Turn it on when clients reach the app over HTTPS (directly or through a proxy).",
            lambda v: isinstance(v, bool)),
    Setting("trusted_proxies", "list of IP addresses", "[]",
            "Peers whose ``X-Forwarded-Proto`` / ``Forwarded: proto=`` headers are believed "
            "(they set ``message.scheme``); from any other peer those headers are ignored.",
            _is_str_list),
    Setting("allowed_hosts", "list of str", None,
            "Host names the app answers to; another ``Host`` header is a 400. "
            "``.example.com`` also allows its subdomains. Off (any host) when not given.",
            _is_str_list),
    Setting("api_base_url", "str", "'/'",
            "Prefix of routes made by ``register_api``.", lambda v: isinstance(v, str)),
    Setting("autoapi_page_size", "int", "100",
            "Items on a page of an AutoAPI list without ``limit=`` (an API class's "
            "``page_size`` overrides it).", _is_count),
    Setting("autoapi_max_items", "int", "1000",
            "Most items one AutoAPI request may write, name or list; 413 past it (an API "
            "class's ``max_items`` overrides it).", _is_count),
    Setting("concurrency", "'gevent' or 'eventlet'", "first installed",
            "Concurrency backend (``BRUBECK_CONCURRENCY`` overrides it).",
            lambda v: isinstance(v, str)),
    Setting("debug", "bool", "False",
            "Send tracebacks to clients in error pages. Never in production.",
            lambda v: isinstance(v, bool)),
    Setting("limits", "dict", "see docs/limits.rst",
            "Request limits, all optional: ``request_line`` (8 KiB), ``header_bytes`` "
            "(64 KiB), ``header_count`` (100), ``body`` (10 MiB), ``json_body`` (1 MiB), "
            "``json_depth`` (100), ``multipart_parts`` (1000), ``multipart_files`` (100), "
            "``form_fields`` (1000); the WSGI servers' timeouts in seconds: "
            "``header_timeout`` (20, from accept or the previous response to the end of "
            "the head, else 408; a silent connection is closed) and ``read_timeout`` (30, "
            "any one read); and ``connections`` (1000, connections one WSGI server "
            "process serves at once; more wait in the listen backlog).",
            lambda v: isinstance(v, dict) or hasattr(v, "body")),
    Setting("request_timeout", "seconds", "60",
            "A request running longer is answered 504 (Mongrel2).", _is_number),
)

SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}


def check_config(config: dict[str, Any]) -> None:
    """Refuse unknown keys and values of the wrong type, naming the key."""
    unknown = sorted(set(config) - set(SETTINGS_BY_NAME))
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {', '.join(unknown)}; known keys: "
            f"{', '.join(SETTINGS_BY_NAME)}"
        )
    for name, value in config.items():
        setting = SETTINGS_BY_NAME[name]
        if value is not None and not setting.check(value):
            raise ConfigError(
                f"config key {name!r} must be {setting.type_name}, got {value!r}"
            )
    if config.get("msg_conn") is not None and config.get("mongrel2_pair") is not None:
        raise ConfigError("give either 'msg_conn' or 'mongrel2_pair', not both")


def rst_table() -> str:
    """The settings as an RST list-table, for docs/config.rst."""
    lines = [".. list-table::", "   :header-rows: 1", "",
             "   * - name", "     - type", "     - default", "     - meaning"]
    for s in SETTINGS:
        lines += [f"   * - ``{s.name}``", f"     - {s.type_name}",
                  f"     - {s.default if s.default is not None else '—'}", f"     - {s.meaning}"]
    return "\n".join(lines) + "\n"
