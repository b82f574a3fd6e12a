"""Regex routing: the first pattern that matches the path and allows the method wins.

Patterns are compiled once, when routes are added. Named groups reach the
handler as keyword arguments (empty optional groups are left out, so the
handler's defaults apply); otherwise positional groups arrive as arguments.
A path that matches but whose routes all refuse the method is a 405 whose
`Allow` lists what those routes accept; a path that matches nothing is a 404.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


#: The handler attributes that answer each method, first found wins: HEAD runs
#: `head` if a handler defines one, else `get` (the response then drops the body,
#: in `Response.payload`). Built once; dispatch looks a method up here.
VERB_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    method: ("head", "get") if method == "HEAD" else (method.lower(),)
    for method in HTTP_METHODS
}


def with_head(methods: Iterable[str]) -> frozenset[str]:
    """`methods` with HEAD added when GET is there: the one place HEAD follows GET."""
    names = frozenset(methods)
    return names | {"HEAD"} if "GET" in names and "HEAD" not in names else names


def allow_header(methods: Iterable[str]) -> str:
    """The `Allow` value for a resource that answers `methods` (HEAD with GET)."""
    return ", ".join(sorted(with_head(methods)))


def class_methods(handler_class: type) -> frozenset[str]:
    """The HTTP methods a handler class answers: the ones it defines, HEAD with GET."""
    return with_head(m for m in HTTP_METHODS if callable(getattr(handler_class, m.lower(), None)))


def normalize_methods(method: str | Iterable[str] | None) -> frozenset[str] | None:
    """`'GET'`, `['GET', 'POST']` or None (any method) as a set; HEAD comes with GET."""
    if method is None:
        return None
    names = [method] if isinstance(method, str) else list(method)
    return with_head(name.upper() for name in names)


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    target: Callable[..., Any]
    methods: frozenset[str] | None  # None: any method

    @property
    def is_class(self) -> bool:
        return inspect.isclass(self.target)

    def allows(self, method: str) -> bool:
        return self.methods is None or method in self.methods


@dataclass
class RouteMatch:
    """The outcome of routing one request."""

    route: Route | None
    args: tuple[str, ...] = ()
    kwargs: dict[str, str] = field(default_factory=dict)
    allowed: frozenset[str] = frozenset()
    refused: bool = False  # the path matched, but no route there takes the method


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, pattern: str | re.Pattern[str], target: Callable[..., Any],
            method: str | Iterable[str] | None = None) -> Route:
        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)
        methods = normalize_methods(method)
        if methods is None and inspect.isclass(target):
            methods = class_methods(target)
        route = Route(regex, target, methods)
        self.routes.append(route)
        return route

    def match(self, path: str, method: str) -> RouteMatch:
        allowed: set[str] = set()
        first: Route | None = None
        for route in self.routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            if route.allows(method):
                if route.pattern.groupindex:
                    kwargs = {k: v for k, v in found.groupdict().items() if v is not None}
                    return RouteMatch(route, (), kwargs)
                return RouteMatch(route, found.groups(), {})
            first = first or route
            allowed |= route.methods or frozenset()
        return RouteMatch(first, allowed=frozenset(allowed), refused=first is not None)
