"""Authentication: decorators that guard handler methods, the mixin that finds the
current user, safe `next=` redirects, and (re-exported) password hashing and `User`.

    from brubeck.auth import web_authenticated, UserHandlingMixin

    class DemoHandler(WebMessageHandler, UserHandlingMixin):
        def get_current_user(self):
            username = self.get_cookie("user", secret=self.application.cookie_secret)
            return load_user(self.db_conn, username) if username else None

        @web_authenticated
        def get(self):
            ...

How a user is found is the application's business (`get_current_user`); this
module only decides what happens when there is none.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

from .passwords import DEFAULT_PARAMS, ScryptParams, hash_password, needs_rehash, verify_password

if TYPE_CHECKING:
    from .models import User, UserProfile

__all__ = [
    "DEFAULT_PARAMS", "ScryptParams", "User", "UserHandlingMixin", "UserProfile",
    "authenticate", "authenticated", "hash_password", "login_redirect_url", "needs_rehash",
    "safe_next", "verify_password", "web_authenticated",
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


def login_redirect_url(handler: Any) -> str:
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
    """Require a `current_user`; without one, redirect to `login_url?next=<this page>`."""
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.current_user:
            if not getattr(self.application, "login_url", None):
                log.error("web_authenticated needs login_url in the config")
                return self.render_error(self._SERVER_ERROR)
            return self.redirect(login_redirect_url(self))
        return method(self, *args, **kwargs)
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


class UserHandlingMixin:
    """Gives a handler `current_user` (computed once per request) and the hooks around it.

    Override `get_current_user` (from a signed cookie, a token, credentials in
    the arguments...); the decorators above read `current_user`.
    """

    @property
    def current_user(self) -> Any:
        """The authenticated user for this request, or None; asked for once, then kept."""
        if not hasattr(self, "_current_user"):
            self._current_user = self.get_current_user()
        return self._current_user

    def get_current_user(self) -> Any:
        """Override to find the user, e.g. from a signed cookie. None means anonymous."""
        return None

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
