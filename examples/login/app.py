"""Log in and out with a signed session cookie: brubeck.auth, the User model and db_conn
on SQLite.

    python examples/login/app.py        # then open http://127.0.0.1:6767/ (jd / foo)

The first run creates examples/login/data/ (or $LOGIN_DATA_DIR) holding the
SQLite database, seeded with one user (jd, password foo or $LOGIN_DEMO_PASSWORD),
and a random cookie secret (or $LOGIN_COOKIE_SECRET). The same file runs on
other layers: BRUBECK_CONCURRENCY=eventlet, BRUBECK_CONNECTION=wsgi://HOST:PORT.

Logging out (a POST, with the XSRF token) revokes every session of the user,
copies of the cookie included; five wrong passwords for one name from one
client lock that pair out for five minutes (429). Only the hosts in
$LOGIN_ALLOWED_HOSTS (default 127.0.0.1 and localhost) are answered.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from html import escape
from pathlib import Path

from brubeck import concurrency

# Patch first: eventlet's monkey patching walks the objects that already exist,
# and pydantic's (behind brubeck.auth.User) do not survive the walk.
concurrency.select()

from brubeck.auth import (  # noqa: E402
    LoginThrottle,
    User,
    UserHandlingMixin,
    authenticate,
    needs_rehash,
    web_authenticated,
)
from brubeck.connections import WSGIConnection  # noqa: E402
from brubeck.request_handling import Brubeck, WebMessageHandler  # noqa: E402

HERE = Path(__file__).resolve().parent
COLUMNS = ("username", "email", "password", "is_active", "last_login", "date_joined",
           "session_version")


# -- storage: plain SQL on the stdlib's sqlite3 ------------------------------------------

def open_db(data_dir: Path) -> sqlite3.Connection:
    """The user database, created (with its demo user) on first use."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # One process, one OS thread: greenlets share the connection between requests.
    db = sqlite3.connect(data_dir / "users.sqlite3", check_same_thread=False,
                         isolation_level=None)
    db.execute("CREATE TABLE IF NOT EXISTS users (username TEXT PRIMARY KEY, email TEXT, "
               "password TEXT, is_active INTEGER, last_login INTEGER, date_joined INTEGER, "
               "session_version INTEGER NOT NULL DEFAULT 0)")
    if "session_version" not in {row[1] for row in db.execute("PRAGMA table_info(users)")}:
        # A database made before sessions could be revoked.
        db.execute("ALTER TABLE users ADD COLUMN session_version INTEGER NOT NULL DEFAULT 0")
    if db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0:
        password = os.environ.get("LOGIN_DEMO_PASSWORD", "foo")
        save_user(db, User.create_user("jd", password, email="jd@example.com", is_active=True))
    return db


def save_user(db: sqlite3.Connection, user: User) -> None:
    row = user.to_db()
    db.execute(f"INSERT OR REPLACE INTO users ({', '.join(COLUMNS)}) "
               f"VALUES ({', '.join('?' * len(COLUMNS))})", [row[c] for c in COLUMNS])


def load_user(db: sqlite3.Connection, username: str) -> User | None:
    row = db.execute(f"SELECT {', '.join(COLUMNS)} FROM users WHERE username = ?",
                     (username,)).fetchone()
    return User(**dict(zip(COLUMNS, row, strict=True))) if row else None


def cookie_secret(data_dir: Path) -> str:
    """From the environment, else a random one kept in the data dir across restarts."""
    if os.environ.get("LOGIN_COOKIE_SECRET"):
        return os.environ["LOGIN_COOKIE_SECRET"]
    path = data_dir / "cookie_secret"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


# -- handlers ------------------------------------------------------------------------------

class BaseHandler(WebMessageHandler, UserHandlingMixin):
    def get_current_user(self) -> User | None:
        # None once the user's session_version moved on (logout, password change).
        return self.session_user(lambda username: load_user(self.db_conn, username))

    def page(self, title: str, content: str, status_code: int = 200):
        self.set_body(f"<!doctype html><title>{escape(title)}</title>"
                      f"<h1>{escape(title)}</h1>{content}\n", status_code=status_code)
        return self.render()


class HomeHandler(BaseHandler):
    @web_authenticated
    def get(self):
        user = self.current_user
        return self.page("Welcome", f"<p>Hello, <b>{escape(user.username)}</b> "
                                    f"({escape(user.email or 'no email')}).</p>"
                                    f'<form method="post" action="/logout">'
                                    f"{self.xsrf_form_html()}<button>Log out</button></form>")


class LoginHandler(BaseHandler):
    def get(self):
        return self.login_form()

    def post(self):
        username = (self.get_argument("username") or "").lower()
        password = self.get_argument("password") or ""
        throttle, client = self.application.login_throttle, self.message.remote_addr
        wait = throttle.retry_after(username, client)
        if wait:  # refused before hashing: guessing costs the guesser, not the server
            self.headers["Retry-After"] = str(int(wait) + 1)
            return self.login_form("Too many failed attempts: try again later.",
                                   status_code=429)
        # Always hash, found or not: the time taken does not tell who has an account.
        user = authenticate(load_user(self.db_conn, username), password)
        if user is None or not user.is_active:
            throttle.failed(username, client)
            return self.login_form("Wrong username or password.", status_code=401)
        throttle.succeeded(username, client)
        if needs_rehash(user.password):  # stronger defaults since this hash was made
            user.set_password(password, keep_sessions=True)
        save_user(self.db_conn, user)  # keeps last_login
        self.start_session(user)
        return self.redirect(self.get_next_url())

    def login_form(self, error: str = "", status_code: int = 200):
        return self.page("Log in", (f'<p role="alert">{escape(error)}</p>' if error else "") +
                         '<form method="post">'
                         f'<input type="hidden" name="next" value="{escape(self.get_next_url())}">'
                         f"{self.xsrf_form_html()}"
                         '<label>Username <input name="username" autocomplete="username"></label>'
                         '<label>Password <input name="password" type="password" '
                         'autocomplete="current-password"></label>'
                         "<button>Log in</button></form>", status_code)


class LogoutHandler(BaseHandler):
    def post(self):
        """A POST (a link or an image could trigger a GET): ends this session and every
        copy of it, and the user's other sessions with them."""
        user = self.current_user
        if user is not None:
            user.revoke_sessions()
            save_user(self.db_conn, user)
        self.end_session()
        return self.redirect(self.application.login_url)


def make_app(data_dir: Path | None = None) -> Brubeck:
    data_dir = Path(data_dir or os.environ.get("LOGIN_DATA_DIR") or HERE / "data")
    db = open_db(data_dir)
    hosts = os.environ.get("LOGIN_ALLOWED_HOSTS", "127.0.0.1 localhost").split()
    app = Brubeck(
        msg_conn=WSGIConnection(6767),
        handler_tuples=[(r"^/login$", LoginHandler), (r"^/logout$", LogoutHandler),
                        (r"^/$", HomeHandler)],
        db_conn=db,
        cookie_secret=cookie_secret(data_dir),
        login_url="/login",
        xsrf_cookies=True,
        allowed_hosts=hosts,
    )
    app.login_throttle = LoginThrottle(limit=5, window=300)
    return app


if __name__ == "__main__":
    make_app().run()
