"""examples/login: / redirects to /login, logging in sets a signed session cookie, / shows
the user, a POST to /logout revokes it; in process, through a live server, and as its own
process. Failed logins are throttled; only the example's hosts are answered."""

import importlib.util
import re
import stat
import urllib.parse

import pytest

from brubeck import cookies
from brubeck.testing import LiveClient, TestClient
from tests.support.processes import ROOT, free_port, python_env, running

APP_PATH = ROOT / "examples" / "login" / "app.py"


def load_example():
    spec = importlib.util.spec_from_file_location("login_example", APP_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = load_example()


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    """scrypt at n=2**10 here (the default 2**17 costs ~0.6 s a login); stored hashes
    carry their cost, so nothing else changes."""
    monkeypatch.setenv("BRUBECK_SCRYPT_N", "1024")


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.delenv("LOGIN_COOKIE_SECRET", raising=False)
    monkeypatch.delenv("LOGIN_ALLOWED_HOSTS", raising=False)
    app = example.make_app(tmp_path / "data")
    yield app
    app.db_conn.close()  # Python 3.13 warns about an sqlite3 connection left open


class BrowserLikeClient(TestClient):
    """The in-process client with the Host header every HTTP/1.1 client sends (the
    example answers only its allowed_hosts)."""

    __test__ = False

    def _send(self, method, target, headers, body):
        return super()._send(method, target, [("Host", "127.0.0.1:6767"), *headers], body)


@pytest.fixture
def make_client(make_client, transport):
    return BrowserLikeClient if transport == "inprocess" else make_client


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
                      if c.startswith("session="))
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    session = cookies.verify(secret, "session", client.cookies["session"])  # signed
    assert session["user"] == "jd"

    page = client.get("/")
    assert page.status_code == 200 and "Hello, <b>jd</b>" in page.text
    assert page.headers["X-Content-Type-Options"] == "nosniff"

    out = client.post("/logout", data={"_xsrf": xsrf(page)})
    assert (out.status_code, out.headers["Location"]) == (302, "/login")
    assert "session" not in client.cookies
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
    assert "session" not in client.cookies


def test_forged_or_tampered_cookie_is_anonymous(make_client, app):
    client = make_client(app)
    client.cookies["session"] = cookies.sign("guessed secret", "session",
                                             {"user": "jd", "version": 0, "id": "x"})
    assert client.get("/").status_code == 302
    client.cookies["user"] = "jd"  # 0.4-era unsigned cookie: means nothing
    assert client.get("/").status_code == 302
    log_in(client)
    value = client.cookies["session"]
    client.cookies["session"] = value[:-1] + ("A" if value[-1] != "A" else "B")
    assert client.get("/").status_code == 302


def test_login_without_xsrf_token_is_403(make_client, app):
    client = make_client(app)
    client.get("/login")
    assert client.post("/login", data={"username": "jd", "password": "foo"}).status_code == 403


def test_next_only_goes_to_local_paths(make_client, app):
    client = make_client(app)
    assert log_in(client, next_url="//evil.com").headers["Location"] == "/"
    client.cookies.pop("session")
    assert log_in(client, next_url="/?tab=1").headers["Location"] == "/?tab=1"


# -- security issue #13 -----------------------------------------------------------------------

def test_security_14_logout_is_a_post_with_the_xsrf_token(make_client, app):
    client = make_client(app)
    log_in(client)
    assert client.get("/logout").status_code == 405  # a link or <img> cannot log out
    assert client.post("/logout").status_code == 403  # nor a cross-site form
    assert client.get("/").status_code == 200


def test_security_14_logout_revokes_every_copy_of_the_session(make_client, app):
    client, other_device = make_client(app), make_client(app)
    log_in(client)
    log_in(other_device)
    stolen = client.cookies["session"]
    page = client.get("/")
    assert client.post("/logout", data={"_xsrf": xsrf(page)}).status_code == 302
    client.cookies["session"] = stolen
    assert client.get("/").status_code == 302
    assert other_device.get("/").status_code == 302  # logged out everywhere
    log_in(client)
    assert client.get("/").status_code == 200  # a new login works


def test_security_14_failed_logins_are_throttled_per_name_and_client(make_client, app):
    client = make_client(app)
    for _ in range(5):
        assert log_in(client, password="nope").status_code == 401
    locked = log_in(client)  # even the right password, until the window passes
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "session" not in client.cookies
    assert "Too many failed attempts" in locked.text


def test_security_14_throttle_leaves_other_clients_alone(app):
    attacker = BrowserLikeClient(app, remote_addr="10.0.0.66")
    for _ in range(6):
        log_in(attacker, password="nope")
    assert log_in(attacker).status_code == 429
    owner = BrowserLikeClient(app, remote_addr="10.0.0.7")
    assert log_in(owner).status_code == 302


def test_security_14_an_old_database_gains_session_versions(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    import sqlite3

    old = sqlite3.connect(data / "users.sqlite3")
    old.execute("CREATE TABLE users (username TEXT PRIMARY KEY, email TEXT, password TEXT, "
                "is_active INTEGER, last_login INTEGER, date_joined INTEGER)")
    old.execute("INSERT INTO users VALUES ('ann', NULL, NULL, 1, 0, 0)")
    old.commit()
    old.close()
    db = example.open_db(data)
    assert example.load_user(db, "ann").session_version == 0
    db.close()


def test_security_16_example_answers_only_its_hosts(app):
    client = TestClient(app)
    assert client.get("/login", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/login").status_code == 400  # no Host at all
    assert client.get("/login", headers={"Host": "localhost:6767"}).status_code == 200


def test_first_run_creates_data_dir_with_private_secret(app, tmp_path):
    data = tmp_path / "data"
    assert (data / "users.sqlite3").exists()
    assert stat.S_IMODE((data / "cookie_secret").stat().st_mode) == 0o600
    assert example.load_user(app.db_conn, "jd").check_password("foo")
    assert "foo" not in (data / "users.sqlite3").read_bytes().decode("latin-1")
    again = example.make_app(data)  # a restart keeps users and secret
    assert again.cookie_secret == app.cookie_secret
    again.db_conn.close()


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
