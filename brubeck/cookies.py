"""Cookies: Set-Cookie formatting and signed values.

A signed value is `v1.<key version>.<timestamp>.<base64 JSON value>.<signature>`,
the signature being HMAC-SHA256 over the cookie name and the four fields before
it, checked with `hmac.compare_digest`. The value is JSON, never pickle, so a
forged cookie can at worst be a wrong value, never code. `secret` is a string
(key version 0) or a dict `{version: secret}`: new cookies use the highest
version, and older versions still verify until removed (key rotation).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import time
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any

log = logging.getLogger("brubeck.cookies")

Secret = str | bytes | dict[int, str | bytes]

DEFAULT_MAX_AGE = 31 * 86400
_FORMAT = "v1"
# Always used with fullmatch: `$` would also match before a trailing newline.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_COOKIE_OCTETS = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")
_ATTRIBUTE_VALUE = re.compile(r"[\x20-\x3a\x3c-\x7e]+")  # printable ASCII but ';'
_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}
# ASCII digits only and bounded: str.isdigit() accepts '²', which int() refuses,
# and int() refuses strings of over 4300 digits; either would raise, not reject.
_NUMBER = re.compile(r"[0-9]{1,20}")
BROWSER_COOKIE_LIMIT = 4096


def _keys(secret: Secret) -> dict[int, bytes]:
    items = secret.items() if isinstance(secret, dict) else [(0, secret)]
    keys = {}
    for version, key in items:
        if not isinstance(version, int) or version < 0:
            raise ValueError("cookie_secret versions must be non-negative ints")
        keys[version] = key.encode("utf-8") if isinstance(key, str) else key
    if not keys or not all(keys.values()):
        raise ValueError("cookie_secret must not be empty")
    return keys


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, name: str, fields: str) -> str:
    return _b64(hmac.new(key, f"{name}|{fields}".encode(), hashlib.sha256).digest())


def sign(secret: Secret, name: str, value: Any, now: float | None = None) -> str:
    """A signed, timestamped cookie value holding any JSON-serializable `value`."""
    keys = _keys(secret)
    version = max(keys)
    timestamp = int(time.time() if now is None else now)
    encoded = _b64(json.dumps(value, separators=(",", ":")).encode("utf-8"))
    fields = f"{_FORMAT}.{version}.{timestamp}.{encoded}"
    return f"{fields}.{_signature(keys[version], name, fields)}"


def verify(secret: Secret, name: str, signed: Any, max_age: float | None = DEFAULT_MAX_AGE,
           now: float | None = None) -> Any:
    """The value of a signed cookie, or None if it is forged, expired or malformed.

    Never raises for anything a client can send: a cookie is attacker input.
    """
    if not isinstance(signed, str):
        log.info("cookie %r rejected: not a string", name)
        return None
    parts = signed.split(".")
    if len(parts) != 5 or parts[0] != _FORMAT:
        log.info("cookie %r rejected: not a signed value", name)
        return None
    _, version_text, timestamp_text, encoded, signature = parts
    if not (_NUMBER.fullmatch(version_text) and _NUMBER.fullmatch(timestamp_text)):
        log.info("cookie %r rejected: malformed", name)
        return None
    key = _keys(secret).get(int(version_text))
    if key is None:
        log.info("cookie %r rejected: unknown key version %s", name, version_text)
        return None
    expected = _signature(key, name, ".".join(parts[:4]))
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        log.warning("cookie %r rejected: bad signature", name)
        return None
    age = (time.time() if now is None else now) - int(timestamp_text)
    if max_age is not None and age > max_age:
        log.info("cookie %r rejected: expired %d s ago", name, age - max_age)
        return None
    try:
        return json.loads(_unb64(encoded))
    except (binascii.Error, ValueError):
        log.warning("cookie %r rejected: signed but undecodable", name)
        return None


# -- XSRF tokens ------------------------------------------------------------------
#
# The raw token is random and lives (masked) in the `_xsrf` cookie; forms and
# headers carry it masked again with a fresh random mask each time it is
# rendered, so the bytes on a page differ on every response (BREACH), while
# unmasking both sides yields the same token to compare.

XSRF_TOKEN_BYTES = 16


def new_xsrf_token() -> bytes:
    return os.urandom(XSRF_TOKEN_BYTES)


def mask_xsrf_token(token: bytes) -> str:
    """`token` XORed with a fresh random mask, as hex `mask + masked`."""
    mask = os.urandom(len(token))
    return (mask + bytes(a ^ b for a, b in zip(mask, token, strict=True))).hex()


def unmask_xsrf_token(text: Any) -> bytes | None:
    """The raw token inside a masked one, or None if `text` is not one."""
    if not isinstance(text, str) or len(text) != 4 * XSRF_TOKEN_BYTES:
        return None
    try:
        data = bytes.fromhex(text)
    except ValueError:
        return None
    mask, masked = data[:XSRF_TOKEN_BYTES], data[XSRF_TOKEN_BYTES:]
    return bytes(a ^ b for a, b in zip(mask, masked, strict=True))


def xsrf_tokens_match(cookie_value: Any, submitted: Any) -> bool:
    """True when both masked tokens are well formed and hold the same raw token."""
    expected, given = unmask_xsrf_token(cookie_value), unmask_xsrf_token(submitted)
    return expected is not None and given is not None and hmac.compare_digest(expected, given)


def _http_date(expires: Any) -> str:
    if isinstance(expires, datetime):
        moment = expires if expires.tzinfo else expires.replace(tzinfo=timezone.utc)
    else:
        moment = datetime.fromtimestamp(float(expires), tz=timezone.utc)
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)


def format_set_cookie(
    name: str,
    value: str,
    max_age: int | None = None,
    expires: Any = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = False,
    samesite: str | None = None,
) -> str:
    """A Set-Cookie header value; refuses anything that could break the header."""
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise ValueError(f"invalid cookie name {name!r}")
    if not isinstance(value, str) or not _COOKIE_OCTETS.fullmatch(value):
        raise ValueError(f"cookie {name!r} has characters not allowed in a cookie value")
    parts = [f"{name}={value}"]
    for attribute, text in (("Path", path), ("Domain", domain)):
        if text:
            if not _ATTRIBUTE_VALUE.fullmatch(text):
                raise ValueError(f"invalid cookie {attribute} {text!r}")
            parts.append(f"{attribute}={text}")
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if expires is not None:
        parts.append(f"Expires={_http_date(expires)}")
    if samesite:
        if samesite.lower() not in _SAMESITE:
            raise ValueError(f"SameSite must be Strict, Lax or None, not {samesite!r}")
        parts.append(f"SameSite={_SAMESITE[samesite.lower()]}")
        secure = secure or samesite.lower() == "none"
    if secure:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    header = "; ".join(parts)
    if len(header) > BROWSER_COOKIE_LIMIT:
        log.warning("cookie %r is %d bytes; browsers drop cookies over %d", name, len(header),
                    BROWSER_COOKIE_LIMIT)
    return header
