"""Password hashing: scrypt with a per-user salt, computed off the event loop.

A stored hash reads `scrypt$<n>$<r>$<p>$<salt>$<hash>` (salt and hash in
unpadded URL-safe base64). Keeping the cost parameters in the string lets the
defaults grow later: old hashes still verify, and `needs_rehash` says when to
store a new one (after a successful login, when the password is at hand).

The default cost is OWASP's minimum for scrypt, n=2**17 (128 MiB and about half
a second per hash). Tests and development machines may lower it with the
environment variable `BRUBECK_SCRYPT_N` (a power of 2); stored hashes keep
their own cost, so they verify whatever the current default.

Run on the event loop's thread a hash would stall every other request for that
long, so it runs through the concurrency backend's `run_in_thread` (gevent's hub
threadpool, eventlet's tpool); `hashlib.scrypt` releases the GIL, so the loop
keeps serving meanwhile. At most `MAX_CONCURRENT_HASHES` run at once (others
wait their turn without blocking the loop), so a burst of logins cannot take
128 MiB each.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from . import concurrency

log = logging.getLogger("brubeck.auth")

ALGORITHM = "scrypt"
SALT_BYTES = 16
HASH_BYTES = 32
_MAX_LOG2_N = 24  # refuse absurd stored costs rather than allocate gigabytes
COST_ENV_VAR = "BRUBECK_SCRYPT_N"
#: Hashes computed at the same time, each taking 128 * n * r bytes (128 MiB by default).
MAX_CONCURRENT_HASHES = max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class ScryptParams:
    """scrypt's cost: `n` (CPU/memory, a power of 2), `r` (block size), `p` (parallelism).

    Memory used is about 128 * n * r bytes: 128 MiB for the default (OWASP's minimum).
    """

    n: int = 2**17
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        valid_n = 1 < self.n <= 2**_MAX_LOG2_N and self.n & (self.n - 1) == 0
        if not (valid_n and 0 < self.r <= 64 and 0 < self.p <= 16):
            raise ValueError(f"invalid scrypt parameters {self}")

    @property
    def maxmem(self) -> int:
        """What OpenSSL must be allowed to allocate (its default cap is 32 MiB)."""
        return 128 * self.r * (self.n + 2 + self.p) + 4096


DEFAULT_PARAMS = ScryptParams()


@lru_cache(maxsize=8)
def _params_from_env(text: str) -> ScryptParams:
    try:
        return ScryptParams(n=int(text))
    except ValueError:
        raise ValueError(f"{COST_ENV_VAR}={text!r} is not a power of 2 up to 2**{_MAX_LOG2_N}; "
                         f"unset it to use the default n={DEFAULT_PARAMS.n}") from None


def default_params() -> ScryptParams:
    """The cost new hashes get: `DEFAULT_PARAMS`, or n from `BRUBECK_SCRYPT_N` (for tests)."""
    text = os.environ.get(COST_ENV_VAR)
    return _params_from_env(text) if text else DEFAULT_PARAMS


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, params: ScryptParams) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=params.n, r=params.r,
                          p=params.p, maxmem=params.maxmem, dklen=HASH_BYTES)


_slots: Any = None  # a backend Queue holding one token per hash allowed to run


def off_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """Run CPU-heavy `fn` in the backend's native threads once a backend patched this process,
    at most `MAX_CONCURRENT_HASHES` at a time; the others wait on a green queue.

    Before patching (a script creating users, say) there is no loop to stall, and
    choosing a backend here would monkey-patch behind the application's back.
    """
    global _slots
    if concurrency.patched_by() is None:
        return fn(*args)
    backend = concurrency.active()
    if _slots is None:
        _slots = backend.Queue()
        for _ in range(MAX_CONCURRENT_HASHES):
            _slots.put(None)
    token = _slots.get()
    try:
        return backend.run_in_thread(fn, *args)
    finally:
        _slots.put(token)


def _encode(params: ScryptParams, salt: bytes, digest: bytes) -> str:
    return f"{ALGORITHM}${params.n}${params.r}${params.p}${_b64(salt)}${_b64(digest)}"


def _decode(encoded: str) -> tuple[ScryptParams, bytes, bytes]:
    """Parse a stored hash; ValueError if it is not one of ours."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != ALGORITHM:
        raise ValueError("not an scrypt hash")
    try:
        params = ScryptParams(int(parts[1]), int(parts[2]), int(parts[3]))
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except binascii.Error as error:
        raise ValueError(str(error)) from None
    if not salt or len(digest) != HASH_BYTES:
        raise ValueError("bad salt or hash length")
    return params, salt, digest


# Checked against when there is no user (or no usable hash), so that a login for
# an unknown name costs one default-strength scrypt, exactly like a known one.
_DUMMY_SALT, _DUMMY_DIGEST = os.urandom(SALT_BYTES), os.urandom(HASH_BYTES)


def _check_password(password: str) -> None:
    if not isinstance(password, str):
        raise TypeError("a password must be a str")


def hash_password(password: str, params: ScryptParams | None = None) -> str:
    """A new salted hash of `password` (at `default_params()` unless given), to store."""
    _check_password(password)
    params = params or default_params()
    salt = os.urandom(SALT_BYTES)
    return _encode(params, salt, off_loop(_derive, password, salt, params))


def verify_password(password: str, encoded: str | None) -> bool:
    """Whether `password` matches the stored `encoded` hash.

    With no hash (unknown user, unusable stored value) it still spends one
    default-cost scrypt, so response times do not reveal which usernames exist.
    """
    _check_password(password)
    try:
        if not encoded:
            raise ValueError("no stored hash")
        params, salt, expected = _decode(encoded)
        usable = True
    except ValueError as error:
        if encoded:
            log.warning("unusable stored password hash: %s", error)
        params, salt, expected = default_params(), _DUMMY_SALT, _DUMMY_DIGEST
        usable = False
    digest = off_loop(_derive, password, salt, params)
    return hmac.compare_digest(digest, expected) and usable


def needs_rehash(encoded: str | None, params: ScryptParams | None = None) -> bool:
    """True when `encoded` is missing, unusable or weaker than `params` (default: the
    current default cost): store a new hash."""
    params = params or default_params()
    try:
        stored, _, _ = _decode(encoded or "")
    except ValueError:
        return True
    return stored.n < params.n or stored.r < params.r or stored.p < params.p
