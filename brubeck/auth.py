"""Authentication: decorators that guard handler methods, the mixin that finds the
current user, safe `next=` redirects, and (re-exported) password hashing and `User`::

    from brubeck.auth import web_authenticated, UserHandlingMixin

    class DemoHandler(WebMessageHandler, UserHandlingMixin):
        def get_current_user(self):
            return self.session_user(lambda name: load_user(self.db_conn, name))

        @web_authenticated
        def get(self):
            ...

How a user is found is the application's business (`get_current_user`); the
mixin offers a signed session cookie that logout and password changes can
revoke (`start_session`, `session_user`, `end_session`), and `LoginThrottle`
slows password guessing.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

from .handlers import CurrentUserMixin, MessageHandler, needs_cookie_secret
from .passwords import DEFAULT_PARAMS, ScryptParams, hash_password, needs_rehash, verify_password

if TYPE_CHECKING:
    from .models import User, UserProfile

__all__ = [
    "DEFAULT_PARAMS", "LoginThrottle", "ScryptParams", "User", "UserHandlingMixin",
    "UserProfile", "authenticate", "authenticated", "hash_password", "login_redirect_url",
    "needs_cookie_secret", "needs_rehash", "safe_next", "verify_password", "web_authenticated",
]

log = logging.getLogger("brubeck.auth")


def __getattr__(name: str) -> Any:
    """`User` and `UserProfile` load pydantic on first use, not when the decorators are
    imported: eventlet's monkey patching trips over pydantic objects created before it."""
    if name in ("User", "UserProfile"):
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

F = TypeVar("F", bound=Callable[..., Any])

# Path characters left as they are when the current path becomes `next`.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def safe_next(url: Any, default: str = "/") -> str:
    """`url` if it is a path on this site, else `default`.

    Refused: anything with a scheme or host (`https://evil.com`, `//evil.com`),
    backslashes (browsers read `/\\evil.com` as `//evil.com`), and whitespace or
    control characters (browsers drop tabs and newlines, so `/\\t/evil.com` too
    would become `//evil.com`). Only printable ASCII passes.
    """
    if not isinstance(url, str) or not url.startswith("/") or url.startswith("//"):
        return default
    if "\\" in url or any(not 0x20 < ord(c) < 0x7F for c in url):
        return default
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return default
    return url


def login_redirect_url(handler: MessageHandler) -> str:
    """`login_url` with `next=` the current path, when that is a page worth returning to.

    Only GET and HEAD come back (a form POST cannot be replayed by a redirect),
    never the login page itself, and never a path `safe_next` would refuse.
    """
    login_url = handler.application.login_url
    message = handler.message
    if message.method not in ("GET", "HEAD"):
        return login_url
    here = quote(message.path, safe=_PATH_SAFE)
    if message.query_string:
        here = f"{here}?{message.query_string}"
    login = urlsplit(login_url)
    on_login_page = not login.netloc and message.path == login.path
    if on_login_page or safe_next(here, default="") != here:
        return login_url
    separator = "&" if "?" in login_url else "?"
    return f"{login_url}{separator}{urlencode({'next': here})}"


def authenticated(method: F) -> F:
    """Require a `current_user`; without one, answer with the handler's `auth_error()` (401)."""
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.current_user:
            hook = getattr(self, "auth_error", None)
            return hook() if hook is not None else self.render_error(self._AUTH_FAILURE)
        return method(self, *args, **kwargs)
    return wrapper  # type: ignore[return-value]


def web_authenticated(method: F) -> F:
    """Require a `current_user`; without one, redirect to `login_url?next=<this page>`.

    A browser login lives in a signed cookie, so the application refuses to
    start when a route's handler uses this without `cookie_secret`.
    """
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.current_user:
            if not getattr(self.application, "login_url", None):
                log.error("web_authenticated needs login_url in the config")
                return self.render_error(self._SERVER_ERROR)
            return self.redirect(login_redirect_url(self))
        return method(self, *args, **kwargs)
    wrapper.needs_cookie_secret = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def authenticate(user: User | None, password: str) -> User | None:
    """`user` if `password` is theirs, else None; an unknown (None) user costs the same.

    Look the user up first, then always call this, found or not, so that the
    response time does not reveal whether a username exists. Whether an
    inactive user may log in is the application's call (`user.is_active`).
    """
    if user is None:
        verify_password(password, None)
        return None
    return user if user.check_password(password) else None


class LoginThrottle:
    """Slows password guessing: after `limit` failed logins for one user name from one
    client within `window` seconds, `retry_after` says how long to refuse (answer 429).

    In memory, per process (each worker counts on its own), holding at most
    `max_keys` (name, client) pairs; expired ones go first. Ask before checking
    the password, so a refused guess costs no hash either.
    """

    def __init__(self, limit: int = 5, window: float = 300.0, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def _key(self, username: str, client: str) -> tuple[str, str]:
        return (username.lower(), client)

    def retry_after(self, username: str, client: str) -> float:
        """Seconds until this name may be tried again from this client; 0 if now."""
        times = self._failures.get(self._key(username, client))
        if not times or len(times) < self.limit:
            return 0.0
        return max(0.0, times[0] + self.window - time.monotonic())

    def failed(self, username: str, client: str) -> None:
        """Count a failed login."""
        now = time.monotonic()
        key = self._key(username, client)
        times = self._failures.pop(key, None) or deque(maxlen=self.limit)
        times.append(now)
        self._failures[key] = times  # most recently failed last
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)
        oldest = next(iter(self._failures.values()))
        if oldest[-1] + self.window < now:  # drop one expired pair per failure
            self._failures.popitem(last=False)

    def succeeded(self, username: str, client: str) -> None:
        """Forget the failures of a name and client that just logged in."""
        self._failures.pop(self._key(username, client), None)


class UserHandlingMixin(CurrentUserMixin):
    """Gives a handler `current_user` (computed once per request) and the hooks around it.

    Override `get_current_user` (from the session cookie with `session_user`, a
    token, credentials in the arguments...); the decorators above read
    `current_user`.

    The session cookie (`session_cookie`, signed) holds the user name, their
    `session_version` and a random session id. `session_user` refuses it once the
    stored user's version moved on: `user.revoke_sessions()` at logout (or a
    password change) ends every session of that user. The id also keys the XSRF
    token (`xsrf_session_id`), so a token planted in the `_xsrf` cookie is useless.
    """

    #: The signed cookie `start_session` sets.
    session_cookie = "session"
    #: Read by the app at start-up: a warning when `cookie_secret` is missing.
    uses_session_cookie = True

    @property
    def current_userprofile(self) -> Any:
        """The current user's profile, asked for once, then kept."""
        if not hasattr(self, "_current_userprofile"):
            self._current_userprofile = self.get_current_userprofile()
        return self._current_userprofile

    def get_current_userprofile(self) -> Any:
        """Override to load the current user's profile."""
        return None

    def auth_error(self) -> Any:
        """Answer a request that needs a user and has none; `authenticated` calls it.

        401 by default; override to add a `WWW-Authenticate` header or a body.
        """
        return self.render_error(self._AUTH_FAILURE)  # type: ignore[attr-defined]

    def get_next_url(self, default: str = "/") -> str:
        """The `next` argument if it is a local path, else `default`: where to go after login."""
        return safe_next(self.get_argument("next"), default)  # type: ignore[attr-defined]

    # -- the session cookie --------------------------------------------------------------

    def start_session(self, user: Any) -> None:
        """Log `user` in: a new signed session cookie (and so a new XSRF token)."""
        session = {"user": str(user.username), "version": getattr(user, "session_version", 0),
                   "id": secrets.token_urlsafe(16)}
        self.set_cookie(self.session_cookie, session,  # type: ignore[attr-defined]
                        secret=self.application.cookie_secret)  # type: ignore[attr-defined]
        self._session: dict[str, Any] | None = session

    def get_session(self) -> dict[str, Any] | None:
        """The verified session cookie (`user`, `version`, `id`), or None."""
        if not hasattr(self, "_session"):
            value = self.get_cookie(self.session_cookie,  # type: ignore[attr-defined]
                                    secret=self.application.cookie_secret)  # type: ignore[attr-defined]
            well_formed = isinstance(value, dict) and isinstance(value.get("user"), str) \
                and type(value.get("version")) is int and isinstance(value.get("id"), str)
            self._session = value if well_formed else None
        return self._session

    def session_user(self, load_user: Callable[[str], Any]) -> Any:
        """The session's user, loaded by `load_user(name)`, unless the session was revoked."""
        session = self.get_session()
        if session is None:
            return None
        user = load_user(session["user"])
        if user is None or getattr(user, "session_version", 0) != session["version"]:
            return None
        return user

    def end_session(self) -> None:
        """Expire the session cookie. To also end copies of it elsewhere, call
        `user.revoke_sessions()` and store the user."""
        self.delete_cookie(self.session_cookie)  # type: ignore[attr-defined]
        self._session = None

    def xsrf_session_id(self) -> str | None:
        """The id the XSRF token is derived from, when there is a session."""
        if not self.application.cookie_secret:  # type: ignore[attr-defined]
            return None
        session = self.get_session()
        return session["id"] if session is not None else None
