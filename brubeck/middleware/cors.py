"""CORS: which other origins' scripts may call this app, answered in one place.

A policy is a `CORS(origins=..., methods=..., headers=..., credentials=...)`.
The app-wide one comes from the `cors_*` config keys; a handler class or
function route may carry its own (`cors = CORS(...)` as a class attribute, or
`@CORS(...)` as a decorator), which replaces the app's for that route.

* A preflight (OPTIONS with `Origin` and `Access-Control-Request-Method`) is
  answered here, before routing: 204 with the allowed methods and headers when
  the route's policy allows the origin, the method and every requested header,
  else 403 with a line saying what was refused.
* Any other request with an allowed `Origin` gets `Access-Control-Allow-Origin`
  (the origin itself, or `*` for a public policy without credentials) and, with
  `credentials`, `Access-Control-Allow-Credentials: true`. A disallowed origin
  gets no CORS header, so the browser withholds the response from its script.

`*` and credentials never go together: such a policy is refused when it is made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..config import ConfigError
from ..errors import loggable
from ..request import Request
from ..response import Response, plain_response
from . import Middleware

if TYPE_CHECKING:
    from ..app import Brubeck

log = logging.getLogger("brubeck.cors")

T = TypeVar("T")
DEFAULT_METHODS = ("GET", "HEAD", "POST")
_PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


def _names(values: Iterable[str] | str, upper: bool = False) -> tuple[str, ...]:
    items = values.split(",") if isinstance(values, str) else values
    cleaned = (item.strip() for item in items)
    return tuple(item.upper() if upper else item for item in cleaned if item)


@dataclass(frozen=True)
class CORS:
    """One cross-origin policy; also a decorator putting itself on a route target."""

    origins: tuple[str, ...]
    methods: tuple[str, ...] = DEFAULT_METHODS
    headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    credentials: bool = False
    max_age: int = 600

    def __init__(self, origins: Iterable[str] | str, methods: Iterable[str] | str = DEFAULT_METHODS,
                 headers: Iterable[str] | str = (), expose_headers: Iterable[str] | str = (),
                 credentials: bool = False, max_age: int = 600) -> None:
        set_field = object.__setattr__  # a frozen dataclass with a normalising constructor
        set_field(self, "origins", tuple(o.rstrip("/") for o in _names(origins)))
        set_field(self, "methods", _names(methods, upper=True))
        set_field(self, "headers", _names(headers))
        set_field(self, "expose_headers", _names(expose_headers))
        set_field(self, "credentials", bool(credentials))
        set_field(self, "max_age", int(max_age))
        if not self.origins:
            raise ConfigError("a CORS policy needs at least one origin (or '*')")
        wildcard = "*" in self.origins or "*" in self.headers or "*" in self.methods
        if self.credentials and wildcard:
            raise ConfigError("CORS with credentials must name its origins, methods and "
                              "headers: '*' with credentials would let every site act as "
                              "the signed-in user")
        self._lower_headers: frozenset[str]
        set_field(self, "_lower_headers", frozenset(h.lower() for h in self.headers))

    def __call__(self, target: T) -> T:
        """`@CORS(...)` on a function route or handler class: this policy for its route."""
        target.cors = self  # type: ignore[attr-defined]
        return target

    @property
    def public(self) -> bool:
        """Any origin, no credentials: the answer is the same for every origin (`*`)."""
        return "*" in self.origins

    def allows_origin(self, origin: str) -> bool:
        return self.public or origin in self.origins

    def allows_method(self, method: str) -> bool:
        return "*" in self.methods or method.upper() in self.methods

    def refused_headers(self, requested: str) -> list[str]:
        """The requested header names this policy does not allow."""
        if "*" in self.headers:
            return []
        return [h for h in _names(requested) if h.lower() not in self._lower_headers]

    def allow_origin_headers(self, origin: str) -> list[tuple[str, str]]:
        if self.public:
            return [("Access-Control-Allow-Origin", "*")]
        pairs = [("Access-Control-Allow-Origin", origin)]
        if self.credentials:
            pairs.append(("Access-Control-Allow-Credentials", "true"))
        return pairs


def policy_from_config(origins: Iterable[str] | None, methods: Iterable[str] | None,
                       headers: Iterable[str] | None, expose_headers: Iterable[str] | None,
                       credentials: bool, max_age: int) -> CORS | None:
    """The app-wide policy of the `cors_*` keys; None without `cors_origins`."""
    if not origins:
        return None
    return CORS(origins, methods or DEFAULT_METHODS, headers or (), expose_headers or (),
                credentials, max_age)


def _target_policy(target: Any, default: CORS | None) -> CORS | None:
    found = getattr(target, "cors", None)
    return found if isinstance(found, CORS) else default


class CORSMiddleware(Middleware):
    """Answers preflights and marks the answers to allowed origins."""

    def __init__(self, policy: CORS | None = None) -> None:
        self.policy = policy

    def before(self, app: Brubeck, message: Request) -> Response | None:
        if message.method != "OPTIONS":
            return None
        headers = message.headers
        origin = headers.get("Origin")
        requested = headers.get("Access-Control-Request-Method")
        if origin is None or requested is None:
            return None  # a plain OPTIONS: the route answers it
        found = app.router.match(message.path, requested.upper())
        target = found.route.target if found.route is not None else None
        policy = _target_policy(target, self.policy)
        if policy is None:
            return None  # no CORS here: the route's OPTIONS answer has no CORS headers
        vars(message)["cors_preflight"] = True  # answered: `after` leaves it alone
        return self._preflight(policy, origin, requested,
                               headers.get("Access-Control-Request-Headers", ""))

    def _preflight(self, policy: CORS, origin: str, method: str, requested: str) -> Response:
        refused = self._refusal(policy, origin, method, requested)
        if refused:
            log.info("CORS preflight refused: %s", loggable(refused))
            return plain_response(403, headers={"Vary": _PREFLIGHT_VARY})
        pairs = policy.allow_origin_headers(origin)
        pairs.append(("Access-Control-Allow-Methods", ", ".join(policy.methods)))
        if requested.strip():
            allowed = requested if "*" not in policy.headers else "*"
            pairs.append(("Access-Control-Allow-Headers", allowed))
        pairs.append(("Access-Control-Max-Age", str(policy.max_age)))
        pairs.append(("Vary", _PREFLIGHT_VARY))
        return Response(b"", 204, None, pairs)

    @staticmethod
    def _refusal(policy: CORS, origin: str, method: str, requested: str) -> str | None:
        if not policy.allows_origin(origin):
            return f"origin {origin} is not allowed"
        if not policy.allows_method(method):
            return f"method {method} is not allowed for {origin}"
        refused = policy.refused_headers(requested)
        if refused:
            return f"headers {', '.join(refused)} are not allowed for {origin}"
        return None

    def after(self, app: Brubeck, message: Request, response: Response) -> None:
        fields = vars(message)
        if fields.get("cors_preflight"):
            return
        route = fields.get("route")
        policy = _target_policy(route.target if route is not None else None, self.policy)
        if policy is None:
            return
        if response.get_header("Access-Control-Allow-Origin") is not None:
            return  # answered by the preflight or by the handler itself
        if not policy.public:
            response.headers.append(("Vary", "Origin"))
        origin = message.headers.get("Origin")
        if origin is None or not policy.allows_origin(origin):
            return
        response.headers.extend(policy.allow_origin_headers(origin))
        if policy.expose_headers:
            response.headers.append(("Access-Control-Expose-Headers",
                                     ", ".join(policy.expose_headers)))


def uses_cors(target: Callable[..., Any]) -> bool:
    """Whether a route target carries its own policy (the app then adds the middleware)."""
    return isinstance(getattr(target, "cors", None), CORS)
