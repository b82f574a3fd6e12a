"""Todos: Brubeck 0.4's AutoAPI demo behind a login, kept in SQLite (./data, made on first run).

    python examples/todos/app.py        # serves http://127.0.0.1:6767

Log in first (user jd, password foo, or $TODOS_PASSWORD); curl keeps the signed
cookie in a jar. Without it every request answers 401. Each todo's `owner` is
set by the server (clients cannot set it), and a user sees and changes only
their own todos. Then 0.4's demo_autoapi (add `| python -m json.tool` to read the replies):

    curl -c jar -f -d username=jd -d password=foo http://localhost:6767/login
    curl -b jar http://localhost:6767/todo/
    curl -b jar -H "content-type: application/json" -f -X POST -d '{"id": "111b4bb7-55f5-441b-ba25-c7a4fd99442c", "text": "Watch more bsg", "order": 1}' http://localhost:6767/todo/111b4bb7-55f5-441b-ba25-c7a4fd99442c/
    curl -b jar -H "content-type: application/json" -f -X POST -d '{"id": "222b4bb7-55f5-441b-ba25-c7a4fd994421", "text": "Watch Blade Runner", "order": 2}' http://localhost:6767/todo/222b4bb7-55f5-441b-ba25-c7a4fd994421/
    curl -b jar http://localhost:6767/todo/
    curl -b jar http://localhost:6767/todo/222b4bb7-55f5-441b-ba25-c7a4fd994421/
    curl -b jar -H "content-type: application/json" -f -X DELETE http://localhost:6767/todo/222b4bb7-55f5-441b-ba25-c7a4fd994421/
    curl -b jar http://localhost:6767/todo/
    curl -b jar -H "content-type: application/json" -f -X POST -d '[{"id": "333b4bb7-55f5-441b-ba25-c7a4fd99442c", "text": "Write more Brubeck code", "order": 3},{"id": "444b4bb7-55f5-441b-ba25-c7a4fd994421", "text": "Drink coffee", "order": 4}]' http://localhost:6767/todo/
    curl -b jar http://localhost:6767/todo/
    curl -b jar -H "content-type: application/json" -X POST -d '{"id": "b4bb7-55f5-441b-ba25-c7a4fd994421", "text": "Watch Blade Runner", "order": 2}' http://localhost:6767/todo/222b4bb7-55f5-441b-ba25-c7a4fd994421/
    curl -b jar -H "content-type: application/json" -X POST -d '{"id": "b4bb7-55f5-441b-ba25-c7a4fd994421", "text": "Watch Blade Runner", "order": 2}' http://localhost:6767/todo/b4bb7-55f5-441b-ba25-c7a4fd994421/
    curl -b jar -H "content-type: application/json" -X POST -d '{"id": "111b4bb7-55f5-441b-ba25-c7a4fd99442c", "text": "Again?"}' http://localhost:6767/todo/

The last three answer 400 (a body id that is not the URL's, a malformed UUID)
and 409 (POST to the collection only creates; PUT replaces). Lists come a page
at a time (`?limit=&offset=`). `curl http://localhost:6767/openapi.json` describes the API.

TODOS_DATA=/some/dir keeps the database elsewhere; TODOS_REDIS=redis://127.0.0.1:6379/0
keeps the todos in Redis instead. TODOS_COOKIE_SECRET keeps logins across restarts
(by default a new random secret at each start logs everyone out).
"""  # noqa: E501  (long curl lines, as in 0.4's demo)

import os
import secrets
from pathlib import Path

from pydantic import Field

from brubeck.autoapi import APIModel, AutoAPIBase, read_only
from brubeck.connections import WSGIConnection
from brubeck.request_handling import Brubeck, JSONMessageHandler

# Built first: it installs the concurrency backend before any store client is imported.
app = Brubeck(msg_conn=WSGIConnection(port=6767),
              cookie_secret=os.environ.get("TODOS_COOKIE_SECRET") or secrets.token_urlsafe(32))

from brubeck.auth import User, UserHandlingMixin, authenticate  # noqa: E402
from brubeck.queryset import SQLiteQueryset  # noqa: E402

USERS = {"jd": User.create_user("jd", os.environ.get("TODOS_PASSWORD", "foo"), is_active=True)}


class Todo(APIModel):
    """A todo: an id (a UUID, made for you if you send none), some text, a place in the list,
    and its owner, which only the server sets."""

    text: str = Field(min_length=1, max_length=500)
    order: int = 0
    owner: str = read_only("")


class LoggedIn(UserHandlingMixin):
    """The user of the signed session cookie, unless they logged out since."""

    def get_current_user(self):
        return self.session_user(USERS.get)


class Login(JSONMessageHandler, LoggedIn):
    def post(self):
        user = authenticate(USERS.get(self.get_argument("username") or ""),
                            self.get_argument("password") or "")
        if user is None:
            return self.render(status_code=401)
        self.start_session(user)
        self.add_to_payload("user", user.username)
        return self.render(status_code=200)


class Logout(JSONMessageHandler, LoggedIn):
    def post(self):
        if self.current_user is not None:
            self.current_user.revoke_sessions()  # every copy of the cookie, not just this one
        self.end_session()
        return self.render(status_code=200)


def todo_store():
    redis_url = os.environ.get("TODOS_REDIS")
    if redis_url:
        from brubeck.queryset import RedisQueryset

        return RedisQueryset.from_url(redis_url)
    data = Path(os.environ.get("TODOS_DATA") or Path(__file__).parent / "data")
    data.mkdir(parents=True, exist_ok=True)
    return SQLiteQueryset(data / "todos.db")


class TodosAPI(AutoAPIBase, LoggedIn):
    queries = todo_store()
    model = Todo

    def authorize(self, action, item):
        """Logged-in users only, each with their own todos."""
        user = self.current_user
        if user is None:
            return False  # 401
        return item is None or item.owner == user.username  # else 403

    def server_values(self, action, stored):
        return {"owner": self.current_user.username} if action == "create" else {}


app.add_route_rule(r"^/login$", Login)
app.add_route_rule(r"^/logout$", Logout)
app.register_api(TodosAPI)


if __name__ == "__main__":
    app.run()
