"""Regex routing: the first pattern that matches the path and allows the method wins.

Patterns are compiled once, when routes are added. Named groups reach the
handler as keyword arguments (empty optional groups are left out, so the
handler's defaults apply); otherwise positional groups arrive as arguments.
A path that matches but whose routes all refuse the method is a 405 whose
`Allow` lists what those routes accept; a path that matches nothing is a 404.

Patterns that are a plain path (`^/about$`) are looked up in a dict instead of
tried one by one; the routes a path could match are still taken in the order
they were added, so the first match wins as before, and an app's hundredth
plain route costs what its first does.
"""

from __future__ import annotations

import heapq
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


#: What makes a pattern more than a plain path.
_SPECIAL = frozenset(".^$*+?{}[]|()\\")


def literal_path(pattern: re.Pattern[str]) -> str | None:
    """The one path `pattern` matches (with `re.match`) if it is a plain path, else None.

    `^/about$`, `/about$` and `^/robots\\.txt$` are plain; `$` also matches before
    a final newline, which `Router.match` keeps. Any flag but the default, any
    special character, or no `$` at the end (a prefix) is not plain.
    """
    text = pattern.pattern
    if pattern.flags != re.UNICODE or not isinstance(text, str):
        return None
    body = text[1:] if text.startswith("^") else text
    if not body.endswith("$"):
        return None
    body, path, index = body[:-1], [], 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            escaped = body[index + 1:index + 2]
            if not escaped or escaped.isalnum() or escaped == "_" or not escaped.isascii():
                return None  # \d, \Z, \1 and the like, or an escape at the end ($ escaped)
            path.append(escaped)
            index += 2
            continue
        if char in _SPECIAL:
            return None
        path.append(char)
        index += 1
    text = "".join(path)
    return None if "\n" in text else text  # "/a\n" is also matched by `^/a$`: left to regexes


class Router:
    """Routes in the order they were added (`add`). `match` indexes them again whenever
    `routes` has grown; a route replaced in place in the list (same length) is not
    seen until the next one is added: add routes, do not swap them."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self._indexed = 0  # how many of `routes` `_plain` and `_patterns` describe
        self._plain: dict[str, list[tuple[int, Route]]] = {}
        self._patterns: list[tuple[int, Route]] = []
        self._first_pattern = 0  # the position of the first route that is not a plain path

    def add(self, pattern: str | re.Pattern[str], target: Callable[..., Any],
            method: str | Iterable[str] | None = None) -> Route:
        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)
        methods = normalize_methods(method)
        if methods is None and inspect.isclass(target):
            methods = class_methods(target)
        route = Route(regex, target, methods)
        self.routes.append(route)
        return route

    def _index(self) -> None:
        """Plain paths by path, the other patterns in order; each with its position."""
        self._plain, self._patterns = {}, []
        for position, route in enumerate(self.routes):
            path = literal_path(route.pattern)
            if path is None:
                self._patterns.append((position, route))
            else:
                self._plain.setdefault(path, []).append((position, route))
        self._first_pattern = self._patterns[0][0] if self._patterns else len(self.routes)
        self._indexed = len(self.routes)

    def match(self, path: str, method: str) -> RouteMatch:
        if self._indexed != len(self.routes):  # routes were added
            self._index()
        plain = self._plain.get(path)
        if plain is not None:  # the common case, answered without a regex
            position, route = plain[0]
            if position < self._first_pattern and (route.methods is None
                                                   or method in route.methods):
                return RouteMatch(route)
        return self._match_in_order(path, method, plain or ())

    def _match_in_order(self, path: str, method: str, plain: Iterable[tuple[int, Route]]
                        ) -> RouteMatch:
        """Every route that may match `path`, in the order they were added: the patterns,
        and the plain routes that are `path`."""
        if path.endswith("\n"):  # `$` matches before a final newline: `^/a$` takes "/a\n"
            plain = sorted((*plain, *self._plain.get(path[:-1], ())))
        allowed: set[str] = set()
        first: Route | None = None
        for _, route in heapq.merge(plain, self._patterns):
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
