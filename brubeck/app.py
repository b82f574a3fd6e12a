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
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from . import concurrency, cookies
from .concurrency import Backend
from .concurrency.process import ListenError
from .config import ConfigError, check_config, describe, settings_from_env
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
from .middleware import AfterHook, BeforeHook, Middleware, access_log, cors
from .middleware.request_id import RequestId
from .request import Request
from .response import Response, to_response
from .routing import Router, allow_header
from .static import FileBody, StaticFiles, stream

log = logging.getLogger("brubeck")
#: A route's target (a handler class or a function), kept as it is by `add_route`.
_Target = TypeVar("_Target", bound=Callable[..., Any])

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
    "template_renderer": "brubeck.templating:renderer",
    "metrics": "brubeck.middleware.metrics:Metrics",
    "pubsub_configure": "brubeck.pubsub:configure",
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
        handler_tuples: Iterable[tuple[str, Callable[..., Any]]] | None = None,
        pool: Any = None,
        no_handler: Callable[..., Any] | None = None,
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
        shutdown_timeout: float = 30.0,
        middleware: Iterable[Middleware] | None = None,
        access_log: bool | str = False,
        request_ids: bool = True,
        static_path: str | os.PathLike[str] | None = None,
        static_url_prefix: str = "/static/",
        metrics_path: str | None = None,
        ready_path: str | None = None,
        cors_origins: Iterable[str] | None = None,
        cors_methods: Iterable[str] | None = None,
        cors_headers: Iterable[str] | None = None,
        cors_expose_headers: Iterable[str] | None = None,
        cors_credentials: bool = False,
        cors_max_age: int = 600,
        websocket_max_message_size: int | None = None,
        websocket_ping_interval: float | None = None,
        websocket_ping_timeout: float | None = None,
        websocket_write_timeout: float | None = None,
        pubsub_url: str | None = None,
        **unknown: Any,
    ) -> None:
        config = {k: v for k, v in locals().items() if k not in ("self", "unknown", "__class__")}
        from_env = settings_from_env()  # BRUBECK_<KEY> wins over the keyword
        config.update(from_env)
        check_config({**config, **unknown})
        c = config
        self._configure_logging(c["log_level"], c["access_log"])
        if from_env:
            log.debug("settings from the environment: %s", describe(from_env))

        self.backend: Backend = _select_backend(c["concurrency"])
        self.msg_conn = _choose_connection(msg_conn, mongrel2_pair)
        self.pool = pool
        self.base_handler = base_handler or WebMessageHandler
        self.no_handler = no_handler
        self.login_url = c["login_url"] or "/login"
        self.db_conn = db_conn
        self.cookie_secret = c["cookie_secret"]
        self.cookie_max_age = c["cookie_max_age"]
        self.xsrf_cookies = c["xsrf_cookies"]
        self.secure_cookies = c["secure_cookies"]
        self.trusted_proxies = frozenset(c["trusted_proxies"] or ())
        self.allowed_hosts = tuple(c["allowed_hosts"]) if c["allowed_hosts"] is not None \
            else None
        self.api_base_url = c["api_base_url"] or "/"
        self.autoapi_page_size = c["autoapi_page_size"]
        self.autoapi_max_items = c["autoapi_max_items"]
        self.debug = c["debug"]
        self.limits = Limits.from_config(limits)
        self.request_timeout = c["request_timeout"]
        self.shutdown_timeout = _shutdown_timeout(c["shutdown_timeout"], {**unknown, **c})
        #: Set when the app is shutting down: `ready_path` then answers 503.
        self.draining = False
        # Read by brubeck.websocket.setting (None: a handler's own, else the default).
        self.websocket_max_message_size = c["websocket_max_message_size"]
        self.websocket_ping_interval = c["websocket_ping_interval"]
        self.websocket_ping_timeout = c["websocket_ping_timeout"]
        self.websocket_write_timeout = c["websocket_write_timeout"]
        # The process-wide bus of brubeck.pubsub; unset, it reads BRUBECK_PUBSUB_URL itself.
        self.pubsub_url = c["pubsub_url"]
        if self.pubsub_url is not None:
            adapter("pubsub_configure")(self.pubsub_url)
        self.router = Router()
        self.middleware: list[Middleware] = []
        self.metrics: Any = None
        self.static: StaticFiles | None = None
        self._setup_middleware(c)
        self._setup_routes(c)
        self.template_loader = template_loader
        self.template_env = None
        self._renderer: tuple[Any, Callable[[str, dict[str, Any]], str]] | None = None
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
    def _configure_logging(level: int | str, access: bool | str = False) -> None:
        if isinstance(level, str):
            level = logging.getLevelName(level.upper())
        logging.getLogger("brubeck").setLevel(level)
        if not logging.getLogger().handlers:
            logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        log_format = access_log.log_format(access)
        if log_format is not None:
            access_log.configure(log_format == "json")

    # -- middleware -----------------------------------------------------------------

    def _setup_middleware(self, config: dict[str, Any]) -> None:
        """The built-in middleware the config asks for, outermost first, then the user's."""
        if config["request_ids"]:
            self.middleware.append(RequestId())
        log_format = access_log.log_format(config["access_log"])
        if log_format is not None:
            self.middleware.append(access_log.AccessLog(log_format == "json"))
        if config["metrics_path"]:
            self.metrics = adapter_or_extra("metrics", "metrics")()
            self.middleware.append(self.metrics)
        policy = cors.policy_from_config(
            config["cors_origins"], config["cors_methods"], config["cors_headers"],
            config["cors_expose_headers"], config["cors_credentials"], config["cors_max_age"])
        if policy is not None:
            self.middleware.append(cors.CORSMiddleware(policy))
        self.middleware.extend(config["middleware"] or ())

    def _setup_routes(self, config: dict[str, Any]) -> None:
        """Routes the config asks for, ahead of the app's own: metrics, readiness, files."""
        if self.metrics is not None:
            self.router.add(exact_path(config["metrics_path"]), self.metrics.endpoint, "GET")
        if config["ready_path"]:
            self.router.add(exact_path(config["ready_path"]), readiness, "GET")
        if config["static_path"] is not None:
            self.static = StaticFiles(config["static_path"], config["static_url_prefix"])
            self.router.add(self.static.pattern, self.static, "GET")

    def add_middleware(self, middleware: Middleware) -> Middleware:
        """Run `middleware` around every request, after those added before it."""
        self.middleware.append(middleware)
        return middleware

    def before_request(self, function: Callable[[Any, Request], Any]) -> Callable[..., Any]:
        """Decorator: run `function(app, message)` before routing; a response it returns
        answers the request."""
        self.add_middleware(BeforeHook(function))
        return function

    def after_request(self, function: Callable[[Any, Request, Response], Response | None]
                      ) -> Callable[..., Any]:
        """Decorator: run `function(app, message, response)` after answering; a response it
        returns replaces the answer."""
        self.add_middleware(AfterHook(function))
        return function

    # -- routes -------------------------------------------------------------------

    def add_route_rule(self, pattern: str | re.Pattern[str], kallable: Callable[..., Any],
                       method: str | Iterable[str] | None = None) -> None:
        """Route `pattern` to a handler class or a `fn(application, message, ...)`."""
        self._check_handler(kallable)
        self.router.add(pattern, kallable, method)
        if cors.uses_cors(kallable) and not any(
                isinstance(m, cors.CORSMiddleware) for m in self.middleware):
            self.middleware.append(cors.CORSMiddleware())  # answers this route's preflights

    def add_route(self, url_pattern: str, method: str | Iterable[str] | None = None
                  ) -> Callable[[_Target], _Target]:
        """Decorator routing `url_pattern` (for `method`, default any) to a function."""
        def decorator(kallable: _Target) -> _Target:
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
        message.__dict__["route"] = route  # for middleware: per-route metrics, CORS policy
        if route is None:
            if self.no_handler is not None:
                return self._bind(self.no_handler, message, (), {})
            return lambda: self.base_handler(self, message).write_error(404)
        if found.refused:
            return self._refuse(route.target, message, found.allowed)
        return self._bind(route.target, message, found.args, found.kwargs)

    def _bind(self, target: Callable[..., Any], message: Request, args: tuple[str, ...],
              kwargs: dict[str, str]) -> Callable[[], Any]:
        if isinstance(target, type):  # inspect.isclass, without a call per request
            handler: MessageHandler = target(self, message)
            handler._url_args = args
            handler._url_kwargs = kwargs
            return handler
        return lambda: self._call_function(target, message, args, kwargs)

    def _refuse(self, target: Callable[..., Any], message: Request,
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

    def _call_function(self, target: Callable[..., Any], message: Request, args: tuple[str, ...],
                       kwargs: dict[str, str]) -> Any:
        """Call a function route; what it raises, `handle` answers."""
        if xsrf_required(self, message, target):
            check_xsrf(message)  # no session here: the `_xsrf` cookie's token
        result = target(self, message, *args, **kwargs)
        return Response(b"", 204) if result is None else result

    # -- answering ------------------------------------------------------------------

    def handle(self, message: Request) -> Response:
        """Answer one request through the middleware; never raises, whatever the handler
        or a hook does."""
        if self.trusted_proxies and message.remote_addr in self.trusted_proxies:
            message.scheme = forwarded_scheme(message) or message.scheme
        chain = self.middleware
        response = self._through(chain, message) if chain else self._answer(message)
        if self.secure_cookies and response.get_header(HSTS[0]) is None:
            response.headers.append(HSTS)
        return response

    def _through(self, chain: list[Middleware], message: Request) -> Response:
        """`before` hooks in order until one answers, the route unless one did, then the
        `after` hooks of those that ran, in reverse."""
        message.__dict__["started"] = time.perf_counter()
        response: Response | None = None
        ran = 0
        for middleware in chain:
            ran += 1
            try:
                early = middleware.before(self, message)
                if early is not None:
                    response = to_response(early)
            except Exception as err:
                response = self._answer_error(message, err)
            if response is not None:
                break
        if response is None:
            response = self._answer(message)
        for middleware in reversed(chain[:ran]):
            try:
                response = middleware.after(self, message, response) or response
            except Exception as err:
                response = self._answer_error(message, err)
        return response

    def _answer(self, message: Request) -> Response:
        """The route's answer (the Host check first)."""
        try:
            if self.allowed_hosts is not None:
                self._check_host(message)
            return to_response(self.route_message(message)())
        except Exception as err:  # from a function route, the router or a handler's __init__
            return self._answer_error(message, err)

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

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        """The app as a WSGI callable (for gunicorn and other WSGI servers)."""
        wsgi_app: Callable[..., list[bytes]] = _loaded.get("wsgi_app") or adapter("wsgi_app")
        parts = wsgi_app(self, environ, start_response)
        # The glue answers [body]; a file's body is a FileBody, streamed instead.
        if parts.__class__ is list and len(parts) == 1 and parts[0].__class__ is FileBody:
            return cast(Iterable[bytes], stream(parts[0], environ))
        return parts

    @property
    def wsgi(self) -> Brubeck:
        """The WSGI callable: the application itself."""
        return self

    # -- templates ------------------------------------------------------------------

    def render_template(self, template_file: str, **context: Any) -> str:
        """Render `template_file` with the configured `template_loader`'s environment."""
        env = self.template_env
        if env is None:
            raise ConfigError("render_template needs a template_loader in the config")
        bound = self._renderer  # made once per environment (template_env may be replaced)
        if bound is None or bound[0] is not env:
            bound = self._renderer = (env, adapter("template_renderer")(env))
        return bound[1](template_file, context)

    # -- running --------------------------------------------------------------------

    def run(self) -> None:
        """Open the connection and serve until interrupted."""
        if self.msg_conn is None:
            raise ConfigError(
                "no connection configured: give msg_conn=WSGIConnection(...) or "
                f"mongrel2_pair=(...), or set {CONNECTION_ENV_VAR}"
            )
        concurrency.warn_mixed_setup(self.backend.name)  # what the app imported since
        bind = getattr(self.msg_conn, "bind", None)
        try:
            if bind is not None:
                bind(self)  # listen first: a taken port ends here, before "online"
            log.info("Brubeck online (%s, %s)", self.backend.name, self.msg_conn)
            self.msg_conn.run(self)
        except ListenError as error:
            raise SystemExit(f"brubeck: {error}") from None
        except KeyboardInterrupt:  # a connection without its own SIGINT handling
            log.info("Brubeck going down (SIGINT)")


def readiness(application: Brubeck, message: Request) -> Response:
    """`ready_path`: 200 while serving, 503 once the app is draining (load balancers stop
    sending work before the process stops)."""
    headers = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
    if application.draining:
        return Response("draining\n", 503, None, {**headers, "Retry-After": "1"})
    return Response("ready\n", 200, None, headers)


def exact_path(path: str) -> str:
    """A route pattern matching `path` and nothing else."""
    return f"^{re.escape(path)}\\Z"


def adapter_or_extra(name: str, extra: str) -> Any:
    """`adapter(name)`, or a ConfigError naming the extra that installs its library."""
    try:
        return adapter(name)
    except ImportError as error:
        raise ConfigError(f"{error}; install it with: pip install 'brubeck[{extra}]'") from None


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


def _shutdown_timeout(seconds: float, config: dict[str, Any]) -> float:
    """`shutdown_timeout`, or its old name `drain_timeout` (with a warning)."""
    deprecated = config.get("drain_timeout")
    if deprecated is None:
        return float(seconds)
    log.warning("config key 'drain_timeout' is deprecated: use 'shutdown_timeout' "
                "(one timeout for every transport and the supervisor)")
    return float(deprecated)


def _select_backend(configured: str | None) -> Backend:
    try:
        backend = concurrency.select(configured)
    except concurrency.BackendError as error:
        raise ConfigError(str(error)) from None
    concurrency.warn_mixed_setup(backend.name)
    return backend


def _choose_connection(msg_conn: Any, mongrel2_pair: tuple[str, str] | None) -> Any:
    """`BRUBECK_CONNECTION` first, then `msg_conn`, then `mongrel2_pair`."""
    override = os.environ.get(CONNECTION_ENV_VAR)
    if override:
        return adapter("connection_from_url")(override)
    if mongrel2_pair is not None:
        return adapter("mongrel2_connection")(*mongrel2_pair)
    return msg_conn
