"""Where Listsurf keeps users and links: SQLite by default, Redis when asked.

Both stores have the same small interface, so the handlers never know which
one they talk to. Every query is short (one user's rows, by index), so it runs
on the event loop; SQLite is opened in WAL mode so the web and API processes
(behind Mongrel2) can share one file.
"""

from __future__ import annotations

import fcntl
import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, StringConstraints, field_validator

from brubeck.models import User

MAX_TAGS = 10


def now_ms() -> int:
    return int(time.time() * 1000)


def split_tags(text: str | list[str] | None) -> list[str]:
    """'Python, web  tools' -> ['python', 'web', 'tools'] (lower case, no repeats)."""
    if not text:
        return []
    words = text if isinstance(text, list) else re.split(r"[,\s]+", text)
    tags: list[str] = []
    for word in words:
        tag = str(word).strip().lower().lstrip("#")
        if tag and tag not in tags:
            tags.append(tag)
    return tags


class NewLink(BaseModel):
    """What a person may save: checked the same way for the form and the API."""

    url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000,
                                          pattern=r"^https?://[^\s/$.?#][^\s]*$")]
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    tags: list[Annotated[str, StringConstraints(max_length=30,
                                                pattern=r"^[\w.+-]+$")]] = []

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> list[str]:
        tags = split_tags(value)
        if len(tags) > MAX_TAGS:
            raise ValueError(f"at most {MAX_TAGS} tags")
        return tags


def matches(link: dict[str, Any], query: str | None, tag: str | None) -> bool:
    """The search rule both stores share: words in title or URL, and one tag."""
    if tag and tag.lower() not in link["tags"]:
        return False
    haystack = f"{link['title']} {link['url']}".lower()
    return all(word in haystack for word in (query or "").lower().split())


class SQLiteStore:
    """One SQLite file in the data directory, made on first run."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None, timeout=5)
        self.db.row_factory = sqlite3.Row
        # The pages and the API start together on one file: switching to WAL does
        # not wait for a busy database, so the two set it up one after the other.
        with open(path.with_name(path.name + ".setup-lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._set_up()

    def _set_up(self) -> None:
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript("""
            CREATE TABLE IF NOT EXISTS users (
                username TEXT PRIMARY KEY, data TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS links (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                owner TEXT NOT NULL REFERENCES users(username),
                url TEXT NOT NULL, title TEXT NOT NULL, tags TEXT NOT NULL,
                created INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS links_owner ON links(owner, created);
        """)

    def add_user(self, user: User) -> bool:
        """Store a new user; False if the name is taken."""
        try:
            self.db.execute("INSERT INTO users VALUES (?, ?)",
                            (user.username, json.dumps(user.to_db())))
        except sqlite3.IntegrityError:
            return False
        return True

    def save_user(self, user: User) -> None:
        """Store changes to an existing user (a revoked session, a new password)."""
        with self.db:
            self.db.execute("UPDATE users SET data = ? WHERE username = ?",
                            (json.dumps(user.to_db()), user.username))

    def get_user(self, username: str) -> User | None:
        row = self.db.execute("SELECT data FROM users WHERE username = ?",
                              (username,)).fetchone()
        return User(**json.loads(row["data"])) if row else None

    def add_link(self, owner: str, link: NewLink) -> dict[str, Any]:
        created = now_ms()
        cursor = self.db.execute(
            "INSERT INTO links (owner, url, title, tags, created) VALUES (?, ?, ?, ?, ?)",
            (owner, link.url, link.title or link.url, " ".join(link.tags), created))
        return self.get_link(owner, cursor.lastrowid)  # type: ignore[return-value]

    def _row(self, row: sqlite3.Row) -> dict[str, Any]:
        return {"id": row["id"], "url": row["url"], "title": row["title"],
                "tags": row["tags"].split(), "created": row["created"]}

    def get_link(self, owner: str, link_id: int | None) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM links WHERE owner = ? AND id = ?",
                              (owner, link_id)).fetchone()
        return self._row(row) if row else None

    def links(self, owner: str, query: str | None = None,
              tag: str | None = None) -> list[dict[str, Any]]:
        """Newest first; the filter runs in Python over one user's rows."""
        rows = self.db.execute("SELECT * FROM links WHERE owner = ? ORDER BY created DESC, "
                               "id DESC", (owner,)).fetchall()
        return [link for link in map(self._row, rows) if matches(link, query, tag)]

    def delete_link(self, owner: str, link_id: int) -> bool:
        cursor = self.db.execute("DELETE FROM links WHERE owner = ? AND id = ?",
                                 (owner, link_id))
        return cursor.rowcount > 0


class RedisStore:
    """The same data in Redis: a hash per user and per link, a sorted set per owner."""

    def __init__(self, url: str, prefix: str = "listsurf") -> None:
        import redis

        self.redis = redis.Redis.from_url(url, decode_responses=True)
        self.prefix = prefix

    def _key(self, *parts: Any) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    def add_user(self, user: User) -> bool:
        return bool(self.redis.hsetnx(self._key("users"), user.username,
                                      json.dumps(user.to_db())))

    def save_user(self, user: User) -> None:
        self.redis.hset(self._key("users"), user.username, json.dumps(user.to_db()))

    def get_user(self, username: str) -> User | None:
        data = self.redis.hget(self._key("users"), username)
        return User(**json.loads(data)) if data else None

    def add_link(self, owner: str, link: NewLink) -> dict[str, Any]:
        link_id = self.redis.incr(self._key("next_id"))
        stored = {"id": link_id, "url": link.url, "title": link.title or link.url,
                  "tags": link.tags, "created": now_ms()}
        pipe = self.redis.pipeline()
        pipe.set(self._key("link", owner, link_id), json.dumps(stored))
        pipe.zadd(self._key("links", owner), {str(link_id): link_id})
        pipe.execute()
        return stored

    def get_link(self, owner: str, link_id: int | None) -> dict[str, Any] | None:
        data = self.redis.get(self._key("link", owner, link_id))
        return json.loads(data) if data else None

    def links(self, owner: str, query: str | None = None,
              tag: str | None = None) -> list[dict[str, Any]]:
        ids = self.redis.zrevrange(self._key("links", owner), 0, -1)
        if not ids:
            return []
        found = self.redis.mget([self._key("link", owner, i) for i in ids])
        links = [json.loads(data) for data in found if data]
        return [link for link in links if matches(link, query, tag)]

    def delete_link(self, owner: str, link_id: int) -> bool:
        pipe = self.redis.pipeline()
        pipe.delete(self._key("link", owner, link_id))
        pipe.zrem(self._key("links", owner), str(link_id))
        deleted, _ = pipe.execute()
        return bool(deleted)


def open_store(db: str, data_dir: Path) -> SQLiteStore | RedisStore:
    """`sqlite` (a file in `data_dir`) or a `redis://` URL."""
    if db.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(db)
    if db in ("", "sqlite"):
        return SQLiteStore(data_dir / "listsurf.sqlite3")
    return SQLiteStore(Path(db))
