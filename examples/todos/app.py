"""Todos: Brubeck 0.4's AutoAPI demo, kept in SQLite (created in ./data on first run).

    python examples/todos/app.py        # serves http://127.0.0.1:6767

Then, as in 0.4's demo_autoapi (add `| python -m json.tool` to read the replies):

    curl http://localhost:6767/todo/
    curl -H "content-type: application/json" -f -X POST -d '{"id": "111b4bb7-55f5-441b-ba25-c7a4fd99442c", "text": "Watch more bsg", "order": 1}' http://localhost:6767/todo/111b4bb7-55f5-441b-ba25-c7a4fd99442c/
    curl -H "content-type: application/json" -f -X POST -d '{"id": "222b4bb7-55f5-441b-ba25-c7a4fd994421", "text": "Watch Blade Runner", "order": 2}' http://localhost:6767/todo/222b4bb7-55f5-441b-ba25-c7a4fd994421/
    curl http://localhost:6767/todo/
    curl http://localhost:6767/todo/222b4bb7-55f5-441b-ba25-c7a4fd994421/
    curl -H "content-type: application/json" -f -X DELETE http://localhost:6767/todo/222b4bb7-55f5-441b-ba25-c7a4fd994421/
    curl http://localhost:6767/todo/
    curl -H "content-type: application/json" -f -X POST -d '[{"id": "333b4bb7-55f5-441b-ba25-c7a4fd99442c", "text": "Write more Brubeck code", "order": 3},{"id": "444b4bb7-55f5-441b-ba25-c7a4fd994421", "text": "Drink coffee", "order": 4}]' http://localhost:6767/todo/
    curl http://localhost:6767/todo/
    curl -H "content-type: application/json" -X POST -d '{"id": "b4bb7-55f5-441b-ba25-c7a4fd994421", "text": "Watch Blade Runner", "order": 2}' http://localhost:6767/todo/222b4bb7-55f5-441b-ba25-c7a4fd994421/
    curl -H "content-type: application/json" -X POST -d '{"id": "b4bb7-55f5-441b-ba25-c7a4fd994421", "text": "Watch Blade Runner", "order": 2}' http://localhost:6767/todo/b4bb7-55f5-441b-ba25-c7a4fd994421/

The last two answer 400: a body id that is not the URL's, and a malformed UUID.
`curl http://localhost:6767/openapi.json` describes the API.

TODOS_DATA=/some/dir keeps the database elsewhere; TODOS_REDIS=redis://127.0.0.1:6379/0
keeps the todos in Redis instead.
"""  # noqa: E501  (long curl lines, as in 0.4's demo)

import os
from pathlib import Path

from pydantic import Field

from brubeck.autoapi import APIModel, AutoAPIBase
from brubeck.connections import WSGIConnection
from brubeck.queryset import SQLiteQueryset
from brubeck.request_handling import Brubeck

# Built first: it installs the concurrency backend before any store client is imported.
app = Brubeck(msg_conn=WSGIConnection(port=6767))


class Todo(APIModel):
    """A todo: an id (a UUID, made for you if you send none), some text, a place in the list."""

    text: str = Field(min_length=1, max_length=500)
    order: int = 0


def todo_store():
    redis_url = os.environ.get("TODOS_REDIS")
    if redis_url:
        from brubeck.queryset import RedisQueryset

        return RedisQueryset.from_url(redis_url)
    data = Path(os.environ.get("TODOS_DATA") or Path(__file__).parent / "data")
    data.mkdir(parents=True, exist_ok=True)
    return SQLiteQueryset(data / "todos.db")


class TodosAPI(AutoAPIBase):
    queries = todo_store()
    model = Todo


app.register_api(TodosAPI)


if __name__ == "__main__":
    app.run()
