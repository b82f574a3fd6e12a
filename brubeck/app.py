"""The Brubeck application: configuration, routes, and turning a Request into a Response.

The rules that hold for every request, whatever its transport, live in
`handle()`: the scheme a trusted proxy reports, the `Host` check
(`allowed_hosts`), and `Strict-Transport-Security` with `secure_cookies`.

This module is core: it imports no transport, template engine or extension. What
it needs of them (the WSGI glue, a connection from a URL, AutoAPI, template
rendering) it loads through `ADAPTERS`, by import string, on first use.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import re
from collections.abc import Callable, Iterable
from typing import Any, cast

from . import concurrency, cookies
from .concurrency import Backend
from .config import ConfigError, check_config
from .cookies import DEFAULT_MAX_AGE
from .errors import HTTPError, loggable
from .handlers import (
    MessageHandler,
    WebMessageHandler,
    check_xsrf,
    needs_cookie_secret,
    xsrf_required,
)
from .limits import Limits
from .request import Request
from .response import Response, to_response
from .routing import Router, allow_header

log = logging.getLogger("brubeck")

CONNECTION_ENV_VAR = "BRUBECK_CONNECTION"
#: Sent with every response when `secure_cookies` is on (one year).
HSTS = ("Strict-Transport-Security", "max-age=31536000")
_SCHEMES = frozenset(("http", "https"))

#: What the core needs from adapters, as "module:attribute". Each is imported on
#: first use, so `import brubeck.app` loads no transport, engine or extension.
ADAPTERS: dict[str, str] = {
    "wsgi_app": "brubeck.connections.wsgi:wsgi_app",
    "connection_from_url": "brubeck.connections:from_url",
    "mongrel2_connection": "brubeck.connections:mongrel2_connection",
    "register_api": "brubeck.autoapi:register_api",
    "render_template": "brubeck.templating:render",
}
_loaded: dict[str, Any] = {}


def adapter(name: str) -> Any:
    """The object `ADAPTERS[name]` names, imported the first time it is asked for."""
    found = _loaded.get(name)
    if found is None:
        module, _, attribute = ADAPTERS[name].partition(":")
        found = _loaded[name] = getattr(importlib.import_module(module), attribute)
    return found


class Brubeck:
    """A web application: routes requests to handlers, served by one connection.

    Constructing it installs the concurrency backend (the one place monkey
    patching happens); `run()` opens the connection and serves forever. The
    instance is also a WSGI callable (`app.wsgi` is the same thing), so any
    WSGI server can serve it.
    """

    def __init__(
        self,
        msg_conn: Any = None,
        mongrel2_pair: tuple[str, str] | None = None,
        handler_tuples: Iterable[tuple[str, Callable]] | None = None,
        pool: Any = None,
        no_handler: Callable | None = None,
        base_handler: type[MessageHandler] | None = None,
        template_loader: Callable[[], Any] | None = None,
        log_level: int | str = logging.INFO,
        login_url: str | None = None,
        db_conn: Any = None,
        cookie_secret: Any = None,
        cookie_max_age: float = DEFAULT_MAX_AGE,
        xsrf_cookies: bool = False,
        secure_cookies: bool = False,
        trusted_proxies: Iterable[str] | None = None,
        allowed_hosts: Iterable[str] | None = None,
        api_base_url: str | None = None,
        autoapi_page_size: int = 100,
        autoapi_max_items: int = 1000,
        concurrency: str | None = None,
        debug: bool = False,
        limits: dict[str, int] | Limits | None = None,
        request_timeout: float = 60.0,
        **unknown: Any,
    ) -> None:
        config = {k: v for k, v in locals().items() if k not in ("self", "unknown", "__class__")}
        check_config({**config, **unknown})
        self._configure_logging(log_level)

        self.backend: Backend = _select_backend(concurrency)
        self.msg_conn = _choose_connection(msg_conn, mongrel2_pair)
        self.pool = pool
        self.base_handler = base_handler or WebMessageHandler
        self.no_handler = no_handler
        self.login_url = login_url or "/login"
        self.db_conn = db_conn
        self.cookie_secret = cookie_secret
        self.cookie_max_age = cookie_max_age
        self.xsrf_cookies = xsrf_cookies
        self.secure_cookies = secure_cookies
        self.trusted_proxies = frozenset(trusted_proxies or ())
        self.allowed_hosts = tuple(allowed_hosts) if allowed_hosts is not None else None
        self.api_base_url = api_base_url or "/"
        self.autoapi_page_size = autoapi_page_size
        self.autoapi_max_items = autoapi_max_items
        self.debug = debug
        self.limits = Limits.from_config(limits)
        self.request_timeout = request_timeout
        self.router = Router()
        self.template_loader = template_loader
        self.template_env = None
        if template_loader is not None:
            self.template_env = template_loader()
            if not self.template_env:
                raise ConfigError("template_loader returned no environment")
        self._check_secret()
        self._check_handler(self.base_handler)
        for pattern, target in handler_tuples or ():
            self.add_route_rule(pattern, target)

    def _check_secret(self) -> None:
        """A dict secret with an empty key fails here; a short one gets a warning."""
        if not self.cookie_secret:
            return
        try:
            short = cookies.short_secret_versions(self.cookie_secret)
        except cookies.MissingSecret as error:
            raise ConfigError(str(error)) from None
        if short:
            log.warning("cookie_secret (version %s) is shorter than %d bytes, so signed cookies "
                        "can be forged by brute force; generate one with %s",
                        ", ".join(map(str, short)), cookies.MIN_SECRET_BYTES,
                        cookies.GENERATE_SECRET)

    def _check_handler(self, handler_class: Any) -> None:
        """Refuse at start-up a login flow that has no secret to sign its cookie with."""
        if not isinstance(handler_class, type) or self.cookie_secret:
            return
        if needs_cookie_secret(handler_class):
            raise ConfigError(
                f"{handler_class.__name__} uses web_authenticated, which needs a signed login "
                f"cookie, but cookie_secret is not set; generate one with "
                f"{cookies.GENERATE_SECRET} and pass it as cookie_secret")
        if getattr(handler_class, "uses_session_cookie", False):  # auth.UserHandlingMixin
            log.warning("%s uses UserHandlingMixin without cookie_secret: its session and "
                        "signed cookies will fail (500) until cookie_secret is set",
                        handler_class.__name__)

    @staticmethod
    def _configure_logging(level: int | str) -> None:
        if isinstance(level, str):
            level = logging.getLevelName(level.upper())
        logging.getLogger("brubeck").setLevel(level)
        if not logging.getLogger().handlers:
            logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    # -- routes -------------------------------------------------------------------

    def add_route_rule(self, pattern: str | re.Pattern, kallable: Callable,
                       method: str | Iterable[str] | None = None) -> None:
        """Route `pattern` to a handler class or a `fn(application, message, ...)`."""
        self._check_handler(kallable)
        self.router.add(pattern, kallable, method)

    def add_route(self, url_pattern: str, method: str | Iterable[str] | None = None
                  ) -> Callable[[Callable], Callable]:
        """Decorator routing `url_pattern` (for `method`, default any) to a function."""
        def decorator(kallable: Callable) -> Callable:
            self.add_route_rule(url_pattern, kallable, method)
            return kallable
        return decorator

    def register_api(self, APIClass: type, prefix: str | None = None) -> type:  # noqa: N803 (0.4's keyword)
        """Route an AutoAPI class at `prefix` (default `{api_base_url}{model name}/`)."""
        return cast(type, adapter("register_api")(self, APIClass, prefix))

    def route_message(self, message: Request) -> Callable[[], Any]:
        """A zero-argument callable that answers `message` (Brubeck 0.4's contract)."""
        found = self.router.match(message.path, message.method)
        route = found.route
        if route is None:
            if self.no_handler is not None:
                return self._bind(self.no_handler, message, (), {})
            return lambda: self.base_handler(self, message).write_error(404)
        if found.refused:
            return self._refuse(route.target, message, found.allowed)
        return self._bind(route.target, message, found.args, found.kwargs)

    def _bind(self, target: Callable, message: Request, args: tuple,
              kwargs: dict[str, str]) -> Callable[[], Any]:
        if isinstance(target, type):  # inspect.isclass, without a call per request
            handler = cast("type[MessageHandler]", target)(self, message)
            handler._url_args = args
            handler._url_kwargs = kwargs
            return handler
        return lambda: self._call_function(target, message, args, kwargs)

    def _refuse(self, target: Callable, message: Request,
                allowed: frozenset[str]) -> Callable[[], Any]:
        """The path matched but no route takes this method: OPTIONS or 405."""
        allow = allow_header(allowed)
        if message.method == "OPTIONS":
            return lambda: Response(b"", 204, None, {"Allow": allow})
        handler_class = cast("type[MessageHandler]", target) if inspect.isclass(target) \
            else self.base_handler
        handler = handler_class(self, message)
        handler.allowed_methods = allowed
        return handler.unsupported

    def _call_function(self, target: Callable, message: Request, args: tuple,
                       kwargs: dict[str, str]) -> Any:
        """Call a function route; what it raises, `handle` answers."""
        if xsrf_required(self, message, target):
            check_xsrf(message)  # no session here: the `_xsrf` cookie's token
        result = target(self, message, *args, **kwargs)
        return Response(b"", 204) if result is None else result

    # -- answering ------------------------------------------------------------------

    def handle(self, message: Request) -> Response:
        """Answer one request; never raises, whatever the handler does."""
        if self.trusted_proxies and message.remote_addr in self.trusted_proxies:
            message.scheme = forwarded_scheme(message) or message.scheme
        try:
            if self.allowed_hosts is not None:
                self._check_host(message)
            response = to_response(self.route_message(message)())
        except Exception as err:  # from a function route, the router or a handler's __init__
            response = self._answer_error(message, err)
        if self.secure_cookies and response.get_header(HSTS[0]) is None:
            response.headers.append(HSTS)
        return response

    def _check_host(self, message: Request) -> None:
        """400 unless the Host header names one of `allowed_hosts` (DNS rebinding,
        poisoned absolute URLs)."""
        host = message.headers.get("Host")
        name = host_name(host) if host is not None else None
        if name is None or not host_allowed(name, self.allowed_hosts or ()):
            raise HTTPError(400, "Bad Request: Host not allowed",
                            log_message=f"Host {loggable(host)!s} is not in allowed_hosts")

    def _answer_error(self, message: Request, err: Exception) -> Response:
        """`base_handler`'s answer to `err` (the handlers' one error funnel); plain text
        if even that fails."""
        try:
            return to_response(self.base_handler(self, message).answer_exception(err))
        except Exception:
            log.exception("base_handler failed to render an error for %s",
                          loggable(message.path))
            status = err.status_code if isinstance(err, HTTPError) else 500
            return Response(f"{status}\n", status, headers={"Content-Type": "text/plain"})

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        """The app as a WSGI callable (for gunicorn and other WSGI servers)."""
        wsgi_app: Callable[..., Iterable[bytes]] = _loaded.get("wsgi_app") or adapter("wsgi_app")
        return wsgi_app(self, environ, start_response)

    @property
    def wsgi(self) -> Brubeck:
        """The WSGI callable: the application itself."""
        return self

    # -- templates ------------------------------------------------------------------

    def render_template(self, template_file: str, **context: Any) -> str:
        """Render `template_file` with the configured `template_loader`'s environment."""
        if self.template_env is None:
            raise ConfigError("render_template needs a template_loader in the config")
        return cast(str, adapter("render_template")(self.template_env, template_file, context))

    # -- running --------------------------------------------------------------------

    def run(self) -> None:
        """Open the connection and serve until interrupted."""
        if self.msg_conn is None:
            raise ConfigError(
                "no connection configured: give msg_conn=WSGIConnection(...) or "
                f"mongrel2_pair=(...), or set {CONNECTION_ENV_VAR}"
            )
        log.info("Brubeck online (%s, %s)", self.backend.name, self.msg_conn)
        try:
            self.msg_conn.run(self)
        except KeyboardInterrupt:
            log.info("Brubeck going down")


def forwarded_scheme(message: Request) -> str | None:
    """The scheme the nearest proxy saw: the last `proto=` of `Forwarded`, else the last
    value of `X-Forwarded-Proto`; None when neither says http or https."""
    forwarded = message.headers.get_all("Forwarded")
    if forwarded:
        for pair in forwarded[-1].rpartition(",")[2].split(";"):
            name, _, value = pair.partition("=")
            if name.strip().lower() == "proto":
                scheme = value.strip().strip('"').lower()
                return scheme if scheme in _SCHEMES else None
        return None
    proto = message.headers.get_all("X-Forwarded-Proto")
    if proto:
        scheme = proto[-1].rpartition(",")[2].strip().lower()
        return scheme if scheme in _SCHEMES else None
    return None


_HOST_NAME = re.compile(r"[a-z0-9.-]+|\[[0-9a-f:.]+\]")


def host_name(host: str) -> str | None:
    """The lower-case name of a Host header without its port; None if malformed."""
    host = host.strip().lower()
    name, colon, port = host.rpartition(":") if not host.endswith("]") else ("", "", "")
    if colon and port.isdigit() and port.isascii():
        host = name
    elif colon and not host.startswith("["):
        return None
    if not _HOST_NAME.fullmatch(host):
        return None
    return host[:-1] if host.endswith(".") else host


def host_allowed(name: str, allowed: Iterable[str]) -> bool:
    """`name` is listed, or under a listed `.domain` (which allows the domain itself), or
    the list holds `*`."""
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern == "*" or name == pattern:
            return True
        if pattern.startswith(".") and (name.endswith(pattern) or name == pattern[1:]):
            return True
    return False


def _select_backend(configured: str | None) -> Backend:
    try:
        return concurrency.select(configured)
    except concurrency.BackendError as error:
        raise ConfigError(str(error)) from None


def _choose_connection(msg_conn: Any, mongrel2_pair: tuple[str, str] | None) -> Any:
    """`BRUBECK_CONNECTION` first, then `msg_conn`, then `mongrel2_pair`."""
    override = os.environ.get(CONNECTION_ENV_VAR)
    if override:
        return adapter("connection_from_url")(override)
    if mongrel2_pair is not None:
        return adapter("mongrel2_connection")(*mongrel2_pair)
    return msg_conn
