"""examples/todos answers Brubeck 0.4's demo_autoapi curl sequence after a login, as a real
process; without the login it answers 401."""

import pytest

from brubeck.testing import LiveClient
from tests.support.processes import free_port, python_env, running

ONE = "111b4bb7-55f5-441b-ba25-c7a4fd99442c"
TWO = "222b4bb7-55f5-441b-ba25-c7a4fd994421"
THREE = "333b4bb7-55f5-441b-ba25-c7a4fd99442c"
FOUR = "444b4bb7-55f5-441b-ba25-c7a4fd994421"
BAD = "b4bb7-55f5-441b-ba25-c7a4fd994421"


def serve(env):
    port = free_port()
    env = python_env(BRUBECK_CONNECTION=f"wsgi://127.0.0.1:{port}", **env)
    url = f"http://127.0.0.1:{port}"
    return running(["examples/todos/app.py"], url=url + "/todo/", env=env), url


def login(client, password="foo"):
    return client.post("/login", data={"username": "jd", "password": password}).status_code


def todo_ids(client):
    r = client.get("/todo/")
    assert r.status_code == 200
    return sorted(item["id"] for item in r.json()["data"])


@pytest.fixture(params=["sqlite", "redis"])
def store_env(request, tmp_path):
    if request.param == "sqlite":
        return {"TODOS_DATA": str(tmp_path / "data")}
    import redis

    url = request.getfixturevalue("redis_url")
    redis.Redis.from_url(url).flushdb()
    return {"TODOS_REDIS": url}


def test_the_04_demo_sequence(store_env):
    server, url = serve(store_env)
    with server:
        client = LiveClient(url)
        assert login(client) == 200
        assert todo_ids(client) == []
        r = client.post(f"/todo/{ONE}/", json={"id": ONE, "text": "Watch more bsg", "order": 1})
        assert r.status_code == 201
        assert r.json()["data"] == {"id": ONE, "text": "Watch more bsg", "order": 1,
                                    "owner": "jd"}
        r = client.post(f"/todo/{TWO}/", json={"id": TWO, "text": "Watch Blade Runner",
                                               "order": 2})
        assert r.status_code == 201
        assert todo_ids(client) == [ONE, TWO]
        r = client.get(f"/todo/{TWO}/")
        assert (r.status_code, r.json()["data"]["text"]) == (200, "Watch Blade Runner")
        assert client.delete(f"/todo/{TWO}/").status_code == 200
        assert todo_ids(client) == [ONE]
        r = client.post("/todo/", json=[
            {"id": THREE, "text": "Write more Brubeck code", "order": 3},
            {"id": FOUR, "text": "Drink coffee", "order": 4}])
        assert r.status_code == 201
        assert todo_ids(client) == [ONE, THREE, FOUR]
        mismatch = {"id": BAD, "text": "Watch Blade Runner", "order": 2}
        assert client.post(f"/todo/{TWO}/", json=mismatch).status_code == 400
        assert client.post(f"/todo/{BAD}/", json=mismatch).status_code == 400
        assert client.get(f"/todo/{TWO}/").status_code == 404
        assert todo_ids(client) == [ONE, THREE, FOUR]
        r = client.post("/todo/", json={"id": ONE, "text": "Again?"})
        assert r.status_code == 409
        client.close()


def test_security_5_the_example_requires_a_login(tmp_path):
    server, url = serve({"TODOS_DATA": str(tmp_path / "data")})
    with server:
        client = LiveClient(url)
        assert client.get("/todo/").status_code == 401
        assert client.post("/todo/", json={"text": "anonymous"}).status_code == 401
        assert client.put(f"/todo/{ONE}/", json={"text": "anonymous"}).status_code == 401
        assert client.delete(f"/todo/{ONE}/").status_code == 401
        assert login(client, password="wrong") == 401
        assert login(client) == 200
        r = client.post("/todo/", json={"text": "mine", "owner": "someone else"})
        assert (r.status_code, r.json()["data"]["owner"]) == (201, "jd")
        assert client.post("/todo/", data={"data": '{"text": "a cross-site form"}'}
                           ).status_code == 403  # no XSRF token
        assert [item["text"] for item in client.get("/todo/").json()["data"]] == ["mine"]
        assert client.post("/logout").status_code == 200
        assert client.get("/todo/").status_code == 401
        client.close()


def test_sqlite_data_outlives_a_restart(tmp_path):
    env = {"TODOS_DATA": str(tmp_path / "data")}
    server, url = serve(env)
    with server:
        client = LiveClient(url)
        assert login(client) == 200
        assert client.post("/todo/", json={"text": "remember me"}).status_code == 201
        client.close()
    assert (tmp_path / "data" / "todos.db").exists()
    server, url = serve(env)
    with server:
        client = LiveClient(url)
        assert login(client) == 200  # a new cookie secret: a new login
        r = client.get("/todo/")
        assert [item["text"] for item in r.json()["data"]] == ["remember me"]
        client.close()
