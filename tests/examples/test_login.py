"""examples/login: / redirects to /login, logging in sets a signed cookie, / shows the
user, /logout clears it; in process, through a live server, and as its own process."""

import importlib.util
import re
import stat
import urllib.parse

import pytest

from brubeck import cookies
from brubeck.testing import LiveClient
from tests.support.processes import ROOT, free_port, python_env, running

APP_PATH = ROOT / "examples" / "login" / "app.py"


def load_example():
    spec = importlib.util.spec_from_file_location("login_example", APP_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = load_example()


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.delenv("LOGIN_COOKIE_SECRET", raising=False)
    return example.make_app(tmp_path / "data")


def xsrf(response):
    return re.search(r'name="_xsrf" value="([0-9a-f]+)"', response.text).group(1)


def log_in(client, password="foo", next_url=None):
    path = "/login" + (f"?next={urllib.parse.quote(next_url, safe='')}" if next_url else "")
    form = client.get(path)
    data = {"username": "jd", "password": password, "_xsrf": xsrf(form)}
    hidden_next = re.search(r'name="next" value="([^"]*)"', form.text).group(1)
    return client.post("/login", data={**data, "next": hidden_next})


def run_flow(client, secret):
    home = client.get("/")
    assert (home.status_code, home.headers["Location"]) == (302, "/login?next=%2F")
    form = client.get(home.headers["Location"])
    assert form.status_code == 200 and 'name="password"' in form.text

    logged_in = log_in(client, next_url="/")
    assert (logged_in.status_code, logged_in.headers["Location"]) == (302, "/")
    set_cookie = next(c for c in logged_in.headers.get_all("set-cookie")
                      if c.startswith("user="))
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert cookies.verify(secret, "user", client.cookies["user"]) == "jd"  # signed

    page = client.get("/")
    assert page.status_code == 200 and "Hello, <b>jd</b>" in page.text

    out = client.post("/logout", data={"_xsrf": xsrf(page)})
    assert (out.status_code, out.headers["Location"]) == (302, "/login")
    assert "user" not in client.cookies
    assert client.get("/").status_code == 302


def test_login_flow(make_client, app):
    run_flow(make_client(app), app.cookie_secret)


def test_wrong_password_and_unknown_user_are_refused(make_client, app):
    client = make_client(app)
    assert log_in(client, password="nope").status_code == 401
    form = client.get("/login")
    unknown = client.post("/login", data={"username": "nobody", "password": "foo",
                                          "_xsrf": xsrf(form)})
    assert unknown.status_code == 401 and "Wrong username or password" in unknown.text
    assert "user" not in client.cookies


def test_forged_or_tampered_cookie_is_anonymous(make_client, app):
    client = make_client(app)
    client.cookies["user"] = cookies.sign("guessed secret", "user", "jd")
    assert client.get("/").status_code == 302
    log_in(client)
    value = client.cookies["user"]
    client.cookies["user"] = value[:-1] + ("A" if value[-1] != "A" else "B")
    assert client.get("/").status_code == 302


def test_login_without_xsrf_token_is_403(make_client, app):
    client = make_client(app)
    client.get("/login")
    assert client.post("/login", data={"username": "jd", "password": "foo"}).status_code == 403


def test_next_only_goes_to_local_paths(make_client, app):
    client = make_client(app)
    assert log_in(client, next_url="//evil.com").headers["Location"] == "/"
    client.get("/logout")
    assert log_in(client, next_url="/?tab=1").headers["Location"] == "/?tab=1"


def test_first_run_creates_data_dir_with_private_secret(app, tmp_path):
    data = tmp_path / "data"
    assert (data / "users.sqlite3").exists()
    assert stat.S_IMODE((data / "cookie_secret").stat().st_mode) == 0o600
    assert example.load_user(app.db_conn, "jd").check_password("foo")
    assert "foo" not in (data / "users.sqlite3").read_bytes().decode("latin-1")
    again = example.make_app(data)  # a restart keeps users and secret
    assert again.cookie_secret == app.cookie_secret


def test_runs_by_one_command(tmp_path):
    """`python examples/login/app.py`, moved to a free port by BRUBECK_CONNECTION."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = python_env(BRUBECK_CONNECTION=f"wsgi://127.0.0.1:{port}",
                     LOGIN_DATA_DIR=str(tmp_path / "data"), LOGIN_COOKIE_SECRET="s3cret")
    with running([str(APP_PATH)], url=url + "/login", env=env, cwd=tmp_path):
        client = LiveClient(url)
        try:
            run_flow(client, "s3cret")
        finally:
            client.close()
    assert (tmp_path / "data" / "users.sqlite3").exists()
