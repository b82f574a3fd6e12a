"""Chat: rooms where messages arrive as they are posted, with or without JavaScript.

    python examples/chat/app.py                       # http://127.0.0.1:8001, one process
    python examples/chat/run_mongrel2.py --workers 2  # Mongrel2 + Redis + 2 workers

The page's script opens a WebSocket, `/rooms/NAME/ws?since=ID`: news and who
is typing are pushed to it, and messages are said through it. Where that fails
it long-polls `/rooms/NAME/poll?since=ID` instead: the handler sleeps in
`brubeck.pubsub`'s wait until a message arrives or 30 s pass. Without
JavaScript the room shows a frame that reloads itself by meta refresh, and that
reload is itself a long poll, so it returns the moment someone speaks.
With `--redis URL` any number of worker processes share rooms through
brubeck.pubsub on Redis Streams; over Mongrel2, waiting clients are answered
with one bulk reply.

`/stats` (pid, memory, waiting clients) is for operators: it answers only
`Authorization: Bearer TOKEN` with the token in `CHAT_STATS_TOKEN` (16+
characters); without that variable it is off.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from brubeck import pubsub  # noqa: E402
from brubeck.app import Brubeck  # noqa: E402
from brubeck.connections import WSGIConnection  # noqa: E402
from brubeck.errors import HTTPError  # noqa: E402
from brubeck.handlers import WebMessageHandler  # noqa: E402
from brubeck.response import Response  # noqa: E402
from brubeck.templating import Jinja2Rendering, load_jinja2_env  # noqa: E402
from brubeck.websocket import WebSocketClosed, WebSocketHandler  # noqa: E402

POLL_TIMEOUT = float(os.environ.get("CHAT_POLL_TIMEOUT", "30"))
NICK_COOKIE = "nick"
TYPING = "chat-typing:"  # who is typing in room NAME: channel chat-typing:NAME
STATS_TOKEN = "CHAT_STATS_TOKEN"
MIN_TOKEN = 16


def stats_token() -> bytes | None:
    """The operators' token for /stats from the environment; None: /stats is off."""
    token = os.environ.get(STATS_TOKEN) or None
    if token is not None and len(token) < MIN_TOKEN:
        raise SystemExit(f"{STATS_TOKEN} must be at least {MIN_TOKEN} characters "
                         "(e.g. python -c 'import secrets; print(secrets.token_urlsafe())')")
    return token.encode() if token else None


def poll_answer(room: Any, messages: list[dict], reset: bool, since: str) -> Response:
    """What a long poll returns; identical bytes for everyone with the same `since`."""
    last = messages[-1]["id"] if messages else (room.last_id if reset else since)
    body = json.dumps({"room": room.name, "messages": messages, "last": last,
                       "reset": reset, "worker": os.getpid()}, separators=(",", ":"))
    return Response(body, 200, headers={"Content-Type": "application/json",
                                        "Cache-Control": "no-store"})


class ChatHandler(WebMessageHandler, Jinja2Rendering):
    """Shared helpers: the rooms, the room from the URL, `since`, the nick."""

    @property
    def rooms(self) -> Any:
        """hub.Rooms on the app's pubsub bus."""
        return self.application.db_conn

    def room(self, name: str) -> Any:
        from hub import ROOM_NAME

        if not ROOM_NAME.match(name):
            raise HTTPError(404, log_message=f"bad room name {name!r}")
        return self.rooms.room(name)

    def since(self) -> str:
        """The `since` argument: a message id (ASCII digits, MS-SEQ; '²' is a digit too)."""
        text = self.get_argument("since", "0") or "0"
        try:
            pubsub.parse_id(text)
        except ValueError:
            raise HTTPError(400, "since must be a message id") from None
        return text

    def nick(self) -> str:
        return self.get_cookie(NICK_COOKIE, "") or ""

    def page(self, template: str, **context: Any) -> Any:
        self.headers["Cache-Control"] = "no-store"
        return self.render_template(template, nick=self.nick(), **context)


class IndexHandler(ChatHandler):
    def get(self) -> Any:
        name = self.get_argument("room")
        if name is not None:  # the "go to room" form
            name = name.lower().replace(" ", "-")
            return self.redirect(f"/rooms/{self.room(name).name}", status_code=303)
        return self.page("index.html", rooms=self.rooms.room_names() or ["lobby"])


class RoomHandler(ChatHandler):
    """The room with JavaScript: history now, then a WebSocket (or a long poll) for news."""

    def get(self, name: str) -> Any:
        room = self.room(name)
        transport = "poll" if self.get_argument("transport") == "poll" else "websocket"
        return self.page("room.html", room=room, messages=room.messages, transport=transport)


class NoJSRoomHandler(ChatHandler):
    """The room without JavaScript: the post form, and the feed in a frame."""

    def get(self, name: str) -> Any:
        return self.page("nojs.html", room=self.room(name))


class FeedHandler(ChatHandler):
    """The frame that refreshes itself; with `since`, it first waits for news."""

    def get(self, name: str) -> Any:
        room = self.room(name)
        if self.get_argument("since") is not None:
            room.wait(self.since(), POLL_TIMEOUT)
        return self.page("feed.html", room=room, messages=room.messages[-50:])


class PollHandler(ChatHandler):
    """The long poll: answers as soon as there is a message newer than `since`."""

    def get(self, name: str) -> Any:
        room = self.room(name)
        since = self.since()
        found, reset = room.after(since)
        if not found and not reset:
            replier = getattr(self.application, "bulk_replier", None)
            parked = replier is not None and self.message.conn_id is not None
            if parked:
                replier.park(room, since, self.message)
            try:
                found, reset = room.wait(since, POLL_TIMEOUT)
            finally:
                if parked:
                    replier.unpark(room, since, self.message)
        return poll_answer(room, found, reset, since)


class MessagesHandler(ChatHandler):
    """GET: the room's history as JSON. POST: say something (JSON or a form)."""

    def get(self, name: str) -> Any:
        room = self.room(name)
        return poll_answer(room, room.messages, False, "0")

    def post(self, name: str) -> Any:
        from hub import check_message

        room = self.room(name)
        wants_json = self.message.content_type == "application/json"
        data = self.message.json if wants_json else {
            "nick": self.get_argument("nick"), "text": self.get_argument("text")}
        if not isinstance(data, dict):
            raise HTTPError(400, "expected a JSON object")
        try:
            nick, text = check_message(data.get("nick"), data.get("text"))
        except ValueError as error:
            if not wants_json:
                raise HTTPError(400, str(error)) from None
            self.set_body(json.dumps({"error": str(error)}),
                          {"Content-Type": "application/json"}, 400)
            return self.render()
        message = self.rooms.post(room.name, nick, text)
        self.set_cookie(NICK_COOKIE, nick, path="/", max_age=365 * 86400, samesite="Lax")
        if wants_json:
            self.set_body(json.dumps(message), {"Content-Type": "application/json"}, 201)
            return self.render()
        back = "nojs" if self.get_argument("back") == "nojs" else ""
        return self.redirect(f"/rooms/{room.name}/{back}".rstrip("/"), status_code=303)


class RoomSocket(WebSocketHandler):
    """The room over a WebSocket: news and who is typing pushed, messages said.

    The client connects with `since` (the last message it shows) and gets
    everything after it, on whichever worker it lands; reconnecting with its
    newest id loses nothing. It sends `{"type": "say", "nick", "text"}` and
    `{"type": "typing", "nick"}`; it receives `hello` (this worker's pid),
    `messages` (`reset` when it must start over) and `typing`.
    """

    def prepare(self) -> None:  # before the upgrade: a refusal is a plain 404 or 400
        from hub import ROOM_NAME

        name = self.message.path.split("/")[2]
        if not ROOM_NAME.match(name):
            raise HTTPError(404, log_message=f"bad room name {name!r}")
        self.since = self.get_argument("since", "0") or "0"
        try:
            pubsub.parse_id(self.since)
        except ValueError:
            raise HTTPError(400, "since must be a message id") from None

    def open(self, name: str) -> None:
        rooms = self.application.db_conn
        self.room = rooms.room(name)
        feeds = [rooms.bus.subscribe(self.room.channel, after=self.since),
                 rooms.bus.subscribe(TYPING + name)]
        self.write_message({"type": "hello", "worker": os.getpid()})  # listening now
        spawn = self.application.backend.spawn
        pumps = [spawn(self.push_messages, feeds[0]), spawn(self.push_typing, feeds[1])]
        try:
            while (said := self.receive()) is not None:
                self.heard(said)
        finally:
            for feed in feeds:
                feed.close()
            for pump in pumps:
                pump.kill()

    def heard(self, said: str | bytes) -> None:
        from hub import check_message

        try:
            data = json.loads(said)
            kind = data["type"]
            nick, text = check_message(data.get("nick"), data.get("text", "..."))
        except (ValueError, TypeError, KeyError) as error:
            self.write_message({"type": "error", "error": str(error)})
            return
        rooms = self.application.db_conn
        if kind == "say":
            rooms.post(self.room.name, nick, text)
        elif kind == "typing":
            rooms.bus.publish(TYPING + self.room.name, nick)

    def push_messages(self, feed: pubsub.Subscription) -> None:
        from hub import decode

        while not self.closed:
            try:
                message = feed.get(timeout=10)
            except pubsub.Gap:  # too far behind: the room's history, and start over
                self.push(self.room.messages, True, self.room.last_id)
                continue
            if message is not None:
                self.push([decode(message)], False, message.id)

    def push(self, messages: list[dict], reset: bool, last: str) -> None:
        with contextlib.suppress(WebSocketClosed):
            self.write_message({"type": "messages", "messages": messages, "reset": reset,
                                "last": last})

    def push_typing(self, feed: pubsub.Subscription) -> None:
        while not self.closed:
            message = feed.get(timeout=10)
            if message is not None:
                with contextlib.suppress(WebSocketClosed):
                    self.write_message({"type": "typing", "nick": message.data})


def rss_kib() -> int:
    """This process's resident memory (Linux), in KiB; 0 elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class StatsHandler(ChatHandler):
    """Who is waiting where, in this worker: for operators (with the token) and the tests."""

    def get(self) -> Any:
        token = self.application.stats_token
        if token is None:
            raise HTTPError(403, f"/stats is off: set {STATS_TOKEN} to turn it on")
        given = self.message.headers.get("authorization", "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, b"Bearer " + token):
            raise HTTPError(403, f"/stats needs Authorization: Bearer <{STATS_TOKEN}>")
        replier = getattr(self.application, "bulk_replier", None)
        stats = {"worker": os.getpid(), "bus": self.rooms.name, "rss_kib": rss_kib(),
                 "waiting": {name: room.waiting for name, room in self.rooms.rooms.items()},
                 "bulk_messages": replier.sent_messages if replier else None}
        self.set_body(json.dumps(stats), {"Content-Type": "application/json",
                                          "Cache-Control": "no-store"})
        return self.render()


ROUTES = [
    (r"^/stats$", StatsHandler),
    (r"^/$", IndexHandler),
    (r"^/rooms/([^/]+)$", RoomHandler),
    (r"^/rooms/([^/]+)/nojs$", NoJSRoomHandler),
    (r"^/rooms/([^/]+)/feed$", FeedHandler),
    (r"^/rooms/([^/]+)/poll$", PollHandler),
    (r"^/rooms/([^/]+)/messages$", MessagesHandler),
    (r"^/rooms/([^/]+)/ws$", RoomSocket),
]


def template_loader() -> Any:
    """Jinja2 over templates/, plus a `clock` filter (seconds -> local HH:MM)."""
    env = load_jinja2_env(str(HERE / "templates"))()
    env.filters["clock"] = lambda seconds: time.strftime("%H:%M", time.localtime(seconds))
    return env


def make_app(redis_url: str | None = None, msg_conn: Any = None) -> Brubeck:
    """The chat app; with `redis_url` (or BRUBECK_PUBSUB_URL), rooms are shared with
    every other worker."""
    from bulk import BulkReplier, adopt
    from hub import open_rooms

    app = Brubeck(msg_conn=msg_conn, handler_tuples=ROUTES, base_handler=ChatHandler,
                  template_loader=template_loader,
                  request_timeout=POLL_TIMEOUT + 30)
    app.stats_token = stats_token()
    app.db_conn = open_rooms(redis_url or os.environ.get(pubsub.ENV_VAR))
    connection = adopt(app.msg_conn)
    app.bulk_replier = BulkReplier(connection, poll_answer) if connection else None
    return app


def __getattr__(name: str) -> Any:
    """`app` for `brubeck serve examples/chat/app.py:app` (CHAT_REDIS for workers)."""
    if name != "app":
        raise AttributeError(name)
    app = globals()["app"] = make_app(os.environ.get("CHAT_REDIS") or None)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Long-polling chat on Brubeck")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--redis", default=os.environ.get("CHAT_REDIS"),
                        help="redis:// URL shared by all workers (default: in process)")
    args = parser.parse_args(argv)
    # BRUBECK_CONNECTION (mongrel2://PULL,PUB) overrides this WSGI default.
    app = make_app(args.redis or None, WSGIConnection(args.port, args.host))
    print(f"Chat on {app.msg_conn} ({app.db_conn.name} bus)", flush=True)
    app.run()


if __name__ == "__main__":
    main()
