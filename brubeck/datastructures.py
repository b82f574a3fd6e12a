"""The one header type every transport builds, and its view over a WSGI environ.

`Headers` is what `Request.headers` always is. A transport that already holds
the headers in another shape gets a view that fills a `Headers` from it only
when someone looks: `EnvironHeaders` here for WSGI, `servers.http.HeadFields`
for the strict head parser (which adds the methods gevent's pywsgi calls).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar, overload

_T = TypeVar("_T")

#: The two CGI keys that carry headers without the HTTP_ prefix.
_SPECIAL_HEADERS = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}


class Headers(Mapping[str, str]):
    """Case-insensitive, multi-valued header map; `headers[name]` is the first value.

    Iteration yields lower-case names, each once; `get_all(name)` every value.
    """

    __slots__ = ("_values",)

    def __init__(self, pairs: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        self._values: dict[str, list[str]] = {}
        # A list first: an ABC's isinstance is a Python call, and transports pass lists.
        items = pairs if pairs.__class__ is list else \
            pairs.items() if isinstance(pairs, Mapping) else pairs
        for name, value in items:
            self._values.setdefault(name.lower(), []).append(value)

    @classmethod
    def of_lists(cls, values: dict[str, list[str]]) -> Headers:
        """Headers over a map of lower-case names to their values, taken as is (not copied:
        a transport that already parsed them that way hands them over)."""
        headers = cls.__new__(cls)
        headers._values = values
        return headers

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()][0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    @overload
    def get(self, name: str, default: _T) -> str | _T: ...

    def get(self, name: str, default: object = None) -> object:
        """The first value of `name`, else `default`: one dict lookup (Mapping's raises and
        catches KeyError, and pywsgi asks several times per request)."""
        values = self._values.get(name.lower())
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        return list(self._values.get(name.lower(), ()))

    def count_over(self, limit: int) -> bool:
        """Whether more than `limit` header lines (values) arrived."""
        if len(self._values) > limit:
            return True
        return sum(map(len, self._values.values())) > limit

    def __repr__(self) -> str:
        return f"Headers({self._values!r})"


def environ_pairs(environ: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The request headers in a WSGI environ, as lower-case (name, value) pairs."""
    pairs = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            pairs.append((key[5:].replace("_", "-").lower(), value))
        elif key in _SPECIAL_HEADERS and value:
            pairs.append((_SPECIAL_HEADERS[key], value))
    return pairs


#: Header name as asked -> its environ key, or "" when the key is ambiguous.
_ENVIRON_KEYS: dict[str, str] = {}


def _environ_key(name: str) -> str:
    """`HTTP_X_REQUEST_ID` for `X-Request-Id`, remembered (a handful of names are asked
    for on every request); "" for the names whose environ key is ambiguous."""
    key = name.upper().replace("-", "_")
    key = "" if "_" in name or key in _SPECIAL_HEADERS else "HTTP_" + key
    if len(_ENVIRON_KEYS) < 256:  # bounded: names come from code, but a handler could echo input
        _ENVIRON_KEYS[name] = key
    return key


class EnvironHeaders(Headers):
    """Headers read from a WSGI environ the first time a handler looks at them.

    Many handlers never do, and building the map costs as much as routing.
    `_values` is Headers' slot: while unset, reading it lands in __getattr__.
    """

    __slots__ = ("_built", "_environ")

    def __init__(self, environ: Mapping[str, Any]) -> None:
        self._environ = environ
        self._built = False

    def __getattr__(self, name: str) -> Any:
        if name != "_values":
            raise AttributeError(name)
        self._values = Headers(environ_pairs(self._environ))._values
        self._built = True
        return self._values

    def count_over(self, limit: int) -> bool:
        # An environ no bigger than the limit cannot hold more headers: no map built.
        return len(self._environ) > limit and super().count_over(limit)

    def get(self, name: str, default: Any = None) -> Any:  # typed by Headers.get overloads
        """While the map is unbuilt, one environ lookup: the request-id middleware asks
        for one header on every request, and building the map for it tripled the cost
        of a hello request. Same answer as the map's; the names whose environ keys
        are ambiguous build it (`a_b` and `a-b` share one key; Content-Type and
        Content-Length have two)."""
        if not self._built:
            key = _ENVIRON_KEYS.get(name) or _environ_key(name)
            if key:
                value = self._environ.get(key)
                return default if value is None else value
        found = self._values.get(name.lower())
        return found[0] if found else default
