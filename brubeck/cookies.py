"""Cookies: Set-Cookie formatting and signed values.

A signed value is `v1.<key version>.<timestamp>.<base64 JSON value>.<signature>`,
the signature being HMAC-SHA256 over the cookie name and the four fields before
it, checked with `hmac.compare_digest`. The value is JSON, never pickle, so a
forged cookie can at worst be a wrong value, never code. `secret` is a string
(key version 0) or a dict `{version: secret}`: new cookies use the highest
version, and older versions still verify until removed (key rotation).
A missing or empty secret is an error, never an unsigned cookie.
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
#: Shorter secrets are accepted with a warning (0.4 apps used short ones).
MIN_SECRET_BYTES = 32
GENERATE_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
NO_SECRET = ("cookie_secret is not set (or empty), so signed cookies cannot be made or "
             f"trusted; generate one with {GENERATE_SECRET} and pass it as cookie_secret")


class MissingSecret(ValueError):
    """Signed cookies were asked for without a usable `cookie_secret`."""


def check_secret(secret: Any) -> dict[int, bytes]:
    """`secret` as `{version: key bytes}`; MissingSecret when there is no usable key."""
    if not secret:
        raise MissingSecret(NO_SECRET)
    items = secret.items() if isinstance(secret, dict) else [(0, secret)]
    keys = {}
    for version, key in items:
        if not isinstance(version, int) or version < 0:
            raise MissingSecret("cookie_secret versions must be non-negative ints")
        if not isinstance(key, (str, bytes)) or not key:
            raise MissingSecret(f"cookie_secret version {version} is empty: {NO_SECRET}")
        keys[version] = key.encode("utf-8") if isinstance(key, str) else key
    return keys


def short_secret_versions(secret: Secret) -> list[int]:
    """Key versions shorter than `MIN_SECRET_BYTES` (guessable by brute force)."""
    return sorted(v for v, key in check_secret(secret).items() if len(key) < MIN_SECRET_BYTES)


def is_cookie_name(name: Any) -> bool:
    """Whether `name` can be written in a Set-Cookie header (an RFC 6265 token)."""
    return isinstance(name, str) and _TOKEN.fullmatch(name) is not None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, name: str, fields: str) -> str:
    return _b64(hmac.new(key, f"{name}|{fields}".encode(), hashlib.sha256).digest())


def sign(secret: Secret, name: str, value: Any, now: float | None = None) -> str:
    """A signed, timestamped cookie value holding any JSON-serializable `value`."""
    keys = check_secret(secret)
    version = max(keys)
    timestamp = int(time.time() if now is None else now)
    encoded = _b64(json.dumps(value, separators=(",", ":")).encode("utf-8"))
    fields = f"{_FORMAT}.{version}.{timestamp}.{encoded}"
    return f"{fields}.{_signature(keys[version], name, fields)}"


def verify(secret: Secret, name: str, signed: Any, max_age: float | None = DEFAULT_MAX_AGE,
           now: float | None = None) -> Any:
    """The value of a signed cookie, or None if it is forged, expired or malformed.

    Never raises for anything a client can send: a cookie is attacker input. A
    missing secret raises MissingSecret whatever the cookie holds.
    """
    keys = check_secret(secret)
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
    key = keys.get(int(version_text))
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


def session_xsrf_token(secret: Secret, session_id: str, version: int | None = None) -> bytes:
    """The raw XSRF token of a session: an HMAC of its id, so a token planted in the
    `_xsrf` cookie by someone else (a sibling subdomain, plain HTTP) cannot match it."""
    keys = check_secret(secret)
    key = keys[max(keys) if version is None else version]
    digest = hmac.new(key, f"xsrf|{session_id}".encode(), hashlib.sha256).digest()
    return digest[:XSRF_TOKEN_BYTES]


def session_xsrf_matches(secret: Secret, session_id: str, submitted: Any) -> bool:
    """True when the masked `submitted` token is the session's (under any key version)."""
    given = unmask_xsrf_token(submitted)
    if given is None:
        return False
    return any(hmac.compare_digest(session_xsrf_token(secret, session_id, version), given)
               for version in check_secret(secret))


def _http_date(expires: Any) -> str:
    if isinstance(expires, datetime):
        moment = expires if expires.tzinfo else expires.replace(tzinfo=timezone.utc)
    else:
        moment = datetime.fromtimestamp(float(expires), tz=timezone.utc)
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)


def _check_pair(name: Any, value: Any) -> None:
    """A name and value that cannot break out of their Set-Cookie header, else ValueError."""
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise ValueError(f"invalid cookie name {name!r}")
    if not isinstance(value, str) or not _COOKIE_OCTETS.fullmatch(value):
        raise ValueError(f"cookie {name!r} has characters not allowed in a cookie value")


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
    _check_pair(name, value)
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
