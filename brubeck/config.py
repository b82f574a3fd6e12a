"""The table of configuration keys: the one place their types, defaults and meaning live.

`docs/config.rst` is generated from it (`python -m brubeck config-table`) and a
test keeps the two in step. Later features add their rows here.

Every scalar key (and the lists of names) can also come from the environment as
`BRUBECK_<KEY>` (`BRUBECK_COOKIE_SECRET`, `BRUBECK_DEBUG=1`): read by the row's
`env` parser, then checked like the keyword; the environment wins over the
keyword. A row marked `secret` never has its value in a message or log line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
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
    #: Parses `BRUBECK_<NAME>` (raising ValueError on bad text); None: not from the environment.
    env: Callable[[str], Any] | None = None
    #: Never shown: not in errors, not in logs.
    secret: bool = False

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.upper()


ENV_PREFIX = "BRUBECK_"
_TRUE = frozenset(("1", "true", "yes", "on"))
_FALSE = frozenset(("0", "false", "no", "off", ""))


def env_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


def env_int(text: str) -> int:
    return int(text.strip())


def env_number(text: str) -> float:
    value = float(text.strip())
    return int(value) if value.is_integer() else value


def env_str(text: str) -> str:
    return text


def env_list(text: str) -> list[str]:
    """Comma-separated names (`BRUBECK_ALLOWED_HOSTS=example.com,.example.org`)."""
    return [item.strip() for item in text.split(",") if item.strip()]


def env_words(*words: str) -> Callable[[str], Any]:
    """One of `words` (lower case), or a boolean word: `access_log`'s `json`, `text`, `on`."""
    def parse(text: str) -> Any:
        word = text.strip().lower()
        return word if word in words else env_bool(word)
    return parse


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


def _is_middleware_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(
        callable(getattr(item, "before", None)) and callable(getattr(item, "after", None))
        for item in value)


def _is_access_log(value: Any) -> bool:
    return isinstance(value, bool) or value in ("text", "json", "off")


def _is_url_path(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("/")


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
    Setting("pool", "pool with .spawn()", "None",
            "Where Mongrel2 requests run: a backend ``Pool(size)`` bounds them. Without "
            "one, a worker keeps its green threads between requests.",
            lambda v: hasattr(v, "spawn")),
    Setting("base_handler", "handler class", "WebMessageHandler",
            "Renders errors raised outside a handler class (404, function routes).", callable),
    Setting("no_handler", "handler class or function", None,
            "Answers paths that match no route (default: ``base_handler``'s 404).", callable),
    Setting("template_loader", "callable", None,
            "Zero-argument callable returning a template environment "
            "(``load_jinja2_env(path)``...); kept as ``app.template_env``.", callable),
    Setting("log_level", "int or level name", "logging.INFO",
            "Level of Brubeck's loggers.", _is_level, env=env_str),
    Setting("login_url", "str", "'/login'",
            "Where ``web_authenticated`` sends anonymous users.", lambda v: isinstance(v, str),
            env=env_str),
    Setting("db_conn", "any", None,
            "Handed to handlers as ``self.db_conn`` and to functions as "
            "``application.db_conn``."),
    Setting("cookie_secret", "str, bytes or {version: secret}", None,
            "Key(s) signing cookies; a dict rotates keys (highest version signs).", _is_secret,
            env=env_str, secret=True),
    Setting("cookie_max_age", "seconds", str(DEFAULT_MAX_AGE),
            "How long a signed cookie stays valid (31 days).", _is_number, env=env_number),
    Setting("xsrf_cookies", "bool", "False",
            "Check an ``_xsrf`` token (form field, ``X-XSRFToken`` or ``X-CSRFToken`` header) "
            "against the ``_xsrf`` cookie on POST, PUT, PATCH and DELETE to handler classes; "
            "a mismatch is 403. ``self.xsrf_form_html()`` renders the field.",
            lambda v: isinstance(v, bool), env=env_bool),
    Setting("secure_cookies", "bool", "False",
            "Mark session and XSRF cookies ``Secure`` and send ``Strict-Transport-Security``. "
            "Turn it on when clients reach the app over HTTPS (directly or through a proxy).",
            lambda v: isinstance(v, bool), env=env_bool),
    Setting("trusted_proxies", "list of IP addresses", "[]",
            "Peers whose ``X-Forwarded-Proto`` / ``Forwarded: proto=`` headers are believed "
            "(they set ``message.scheme``); from any other peer those headers are ignored.",
            _is_str_list, env=env_list),
    Setting("allowed_hosts", "list of str", None,
            "Host names the app answers to; another ``Host`` header is a 400. "
            "``.example.com`` also allows its subdomains. Off (any host) when not given.",
            _is_str_list, env=env_list),
    Setting("api_base_url", "str", "'/'",
            "Prefix of routes made by ``register_api``.", lambda v: isinstance(v, str),
            env=env_str),
    Setting("autoapi_page_size", "int", "100",
            "Items on a page of an AutoAPI list without ``limit=`` (an API class's "
            "``page_size`` overrides it).", _is_count, env=env_int),
    Setting("autoapi_max_items", "int", "1000",
            "Most items one AutoAPI request may write, name or list; 413 past it (an API "
            "class's ``max_items`` overrides it).", _is_count, env=env_int),
    Setting("concurrency", "'gevent' or 'eventlet'", "first installed",
            "Concurrency backend (``BRUBECK_CONCURRENCY`` overrides it).",
            lambda v: isinstance(v, str), env=env_str),
    Setting("debug", "bool", "False",
            "Answer a crash with the debug page (the request, each frame's source and "
            "local variables; credentials masked). Never in production.",
            lambda v: isinstance(v, bool), env=env_bool),
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
    Setting("websocket_max_message_size", "bytes", "1048576",
            "Largest WebSocket message accepted, its fragments joined; past it the "
            "connection is closed with 1009 as soon as the limit is passed (a handler class "
            "may set ``max_message_size``). See docs/websockets.rst.", _is_count,
            env=env_int),
    Setting("websocket_ping_interval", "seconds", None,
            "Ping every WebSocket client this often; one silent (no pong, no message) for "
            "this plus ``websocket_ping_timeout`` is dropped. Off when not given.", _is_number,
            env=env_number),
    Setting("websocket_ping_timeout", "seconds", "30",
            "See ``websocket_ping_interval``.", _is_number, env=env_number),
    Setting("websocket_write_timeout", "seconds", "10",
            "How long a WebSocket write may wait for a client that does not read before the "
            "connection is dropped (behind Mongrel2, counted from the client's last confirming "
            "pong; see docs/websockets.rst, Backpressure).",
            _is_number, env=env_number),
    Setting("request_timeout", "seconds", "60",
            "A request running longer is answered 504 (Mongrel2).", _is_number, env=env_number),
    Setting("shutdown_timeout", "seconds", "30",
            "On SIGINT or SIGTERM a worker stops taking requests and lets those in flight "
            "finish for this long; what still runs is answered 503, then it exits 0. The "
            "supervisor waits as long for its workers. See docs/shutdown.rst.",
            _is_number, env=env_number),
    Setting("drain_timeout", "seconds", None,
            "Deprecated name of ``shutdown_timeout`` (accepted with a warning).",
            _is_number, env=env_number),
    Setting("middleware", "list of Middleware", "[]",
            "App-wide hooks around every request (``brubeck.middleware.Middleware``: "
            "``before(app, message)``, ``after(app, message, response)``), run after the "
            "built-in ones below; see docs/middleware.rst.", _is_middleware_list),
    Setting("access_log", "'text', 'json' or bool", "False",
            "One line per request (method, path, status, bytes, duration, request id) on the "
            "``brubeck.access`` logger; ``json`` writes bare JSON lines to stderr. "
            "``brubeck serve --access-log``.", _is_access_log,
            env=env_words("text", "json")),
    Setting("request_ids", "bool", "True",
            "Give each request ``message.request_id``: the client's ``X-Request-Id`` when "
            "it is 1-128 characters of ``A-Za-z0-9._:+/=@-``, else a new random one; echoed "
            "in the ``X-Request-Id`` response header and the access log.",
            lambda v: isinstance(v, bool), env=env_bool),
    Setting("static_path", "directory", None,
            "Serve the files under it at ``static_url_prefix`` (WSGI; behind Mongrel2 its "
            "``Dir`` handler serves them): see docs/static.rst.",
            lambda v: isinstance(v, (str, os.PathLike)), env=env_str),
    Setting("static_url_prefix", "str", "'/static/'",
            "Where ``static_path`` is served.", _is_url_path, env=env_str),
    Setting("metrics_path", "str", None,
            "Serve Prometheus metrics (requests by route, method and status; latency "
            "histogram) at this path; needs ``pip install 'brubeck[metrics]'``.",
            _is_url_path, env=env_str),
    Setting("ready_path", "str", None,
            "A readiness route for load balancers: 200 while serving, 503 once "
            "``app.draining`` is set (shutting down).", _is_url_path, env=env_str),
    Setting("cors_origins", "list of origins or ['*']", None,
            "Origins (``https://app.example.com``) whose scripts may call every route; "
            "turns CORS on app-wide. A route's own ``CORS(...)`` replaces it.",
            _is_str_list, env=env_list),
    Setting("cors_methods", "list of str", "GET, HEAD, POST",
            "Methods a cross-origin script may use (preflight).", _is_str_list, env=env_list),
    Setting("cors_headers", "list of str", "[]",
            "Request headers a cross-origin script may send (preflight).", _is_str_list,
            env=env_list),
    Setting("cors_expose_headers", "list of str", "[]",
            "Response headers a cross-origin script may read.", _is_str_list, env=env_list),
    Setting("cors_credentials", "bool", "False",
            "Let cross-origin scripts send cookies; never together with ``*``.",
            lambda v: isinstance(v, bool), env=env_bool),
    Setting("cors_max_age", "seconds", "600",
            "How long a browser may cache a preflight answer.", _is_count, env=env_int),
    Setting("pubsub_url", "str", "'memory://'",
            "Where ``brubeck.pubsub`` carries messages between workers: ``memory://`` (one "
            "process) or ``redis://HOST:PORT/DB`` (Redis Streams); ``?maxlen=N`` keeps the "
            "newest N messages of a channel (1000). See docs/pubsub.rst.",
            lambda v: isinstance(v, str) and v.split("://")[0] in (
                "memory", "redis", "rediss", "unix"), env=env_str),
)

SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings given as `BRUBECK_<KEY>`, parsed; bad text is a ConfigError naming the
    variable (a secret's value left out)."""
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for setting in SETTINGS:
        parse = setting.env
        text = environ.get(setting.env_var) if parse is not None else None
        if text is None or parse is None:
            continue
        try:
            found[setting.name] = parse(text)
        except ValueError as error:
            shown = "" if setting.secret else f", got {text!r}"
            raise ConfigError(f"{setting.env_var} must be {setting.type_name}: "
                              f"{error}{shown}") from None
    return found


def describe(config: Mapping[str, Any]) -> str:
    """`name=value, ...` for a log line, secrets masked."""
    return ", ".join(f"{name}={'***' if SETTINGS_BY_NAME[name].secret else repr(value)}"
                     for name, value in sorted(config.items()) if name in SETTINGS_BY_NAME)


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
            shown = "" if setting.secret else f", got {value!r}"
            raise ConfigError(f"config key {name!r} must be {setting.type_name}{shown}")
    if config.get("msg_conn") is not None and config.get("mongrel2_pair") is not None:
        raise ConfigError("give either 'msg_conn' or 'mongrel2_pair', not both")


def rst_table() -> str:
    """The settings as an RST list-table, for docs/config.rst."""
    lines = [".. list-table::", "   :header-rows: 1", "",
             "   * - name", "     - type", "     - default", "     - meaning"]
    for s in SETTINGS:
        env = f" Environment: ``{s.env_var}``." if s.env is not None else ""
        lines += [f"   * - ``{s.name}``", f"     - {s.type_name}",
                  f"     - {s.default if s.default is not None else '—'}",
                  f"     - {s.meaning}{env}"]
    return "\n".join(lines) + "\n"
