"""User and UserProfile as pydantic v2 models.

Brubeck 0.4 built these on DictShield, which does not run on Python 3; the
fields are 0.4's. Times are integer milliseconds since the epoch, like a
handler's `timestamp`. Storage is up to you: the models never touch a database.

The password hash is excluded from `model_dump()`/`model_dump_json()` and from
`repr()`, so a user put in a payload or a log line never carries it; read
`user.password` (or `user.to_db()`) to store it.

`session_version` goes into the user's signed session cookie (see
`brubeck.auth.UserHandlingMixin.start_session`); raising it (`revoke_sessions()`,
which a password change does) makes every session cookie issued before invalid.
"""

from __future__ import annotations

import re
import time
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .fields import owner_only, read_only  # noqa: F401  (markers for models, re-exported)
from .passwords import hash_password, verify_password


def curtime() -> int:
    """Now, in milliseconds since the epoch."""
    return int(time.time() * 1000)


Email = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=100,
                                         pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Url = Annotated[str, StringConstraints(max_length=255, pattern=r"^https?://[^\s]+$")]
USERNAME_PATTERN = r"^[A-Za-z0-9._]+$"


class User(BaseModel):
    """The bare minimum to have the concept of a user (0.4's fields)."""

    model_config = ConfigDict(validate_assignment=True)

    username: Annotated[str, StringConstraints(min_length=1, max_length=30)]
    email: Email | None = None
    password: str | None = Field(default=None, max_length=128, repr=False, exclude=True)
    is_active: bool = False
    last_login: int = Field(default_factory=curtime)
    date_joined: int = Field(default_factory=curtime)
    session_version: int = 0

    username_regex: ClassVar[re.Pattern[str]] = re.compile(USERNAME_PATTERN)
    username_min_length: ClassVar[int] = 2

    def __str__(self) -> str:
        return self.username

    def set_password(self, raw_password: str, keep_sessions: bool = False) -> None:
        """Store a new salted scrypt hash of `raw_password` (hashed off the event loop).

        A changed password logs the user out everywhere (`revoke_sessions`), since
        whoever knew the old one may hold a session; `keep_sessions=True` is for
        re-hashing the same password at a stronger cost.
        """
        self.password = hash_password(raw_password)
        if not keep_sessions:
            self.revoke_sessions()

    def revoke_sessions(self) -> None:
        """Invalidate every session cookie issued so far (store the user afterwards)."""
        self.session_version += 1

    def check_password(self, raw_password: str) -> bool:
        """Whether `raw_password` is this user's; a success updates `last_login`.

        A user without a password still costs one full hash, like any other.
        """
        if not verify_password(raw_password, self.password):
            return False
        self.last_login = curtime()
        return True

    @classmethod
    def create_user(cls, username: str, password: str, email: str = "",
                    **fields: Any) -> User:
        """A new user with a hashed password: username lower-cased, of 2 to 30 of
        `[A-Za-z0-9._]`, email optional. Bad input raises pydantic's ValidationError,
        which a handler answers as a 400 naming the fields.
        """
        checked = _NewUser(username=username.lower(), email=email.strip().lower() or None)
        user = cls(username=checked.username, email=checked.email, date_joined=curtime(),
                   **fields)
        user.set_password(password, keep_sessions=True)
        return user

    def to_db(self) -> dict[str, Any]:
        """All fields including the password hash, for storing the user."""
        return {**self.model_dump(), "password": self.password}


class _NewUser(BaseModel):
    """What create_user demands beyond the model (0.4 checked these only there)."""

    username: Annotated[str, StringConstraints(min_length=User.username_min_length,
                                               max_length=30, pattern=USERNAME_PATTERN)]
    email: Email | None = None


class UserProfile(BaseModel):
    """What a user shows about themselves, kept apart from the private User."""

    model_config = ConfigDict(validate_assignment=True)

    owner_id: Any = None
    owner_username: Annotated[str, StringConstraints(max_length=30)] | None = None
    created_at: int = Field(default_factory=curtime)
    updated_at: int = Field(default_factory=curtime)

    name: Annotated[str, StringConstraints(max_length=255)] | None = None
    email: Email | None = None
    website: Url | None = None
    bio: Annotated[str, StringConstraints(max_length=100)] | None = None
    location_text: Annotated[str, StringConstraints(max_length=100)] | None = None
    avatar_url: Url | None = None

    def __str__(self) -> str:
        return self.name or ""
