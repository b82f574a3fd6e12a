"""User and UserProfile: 0.4's fields on pydantic, scrypt password hashing, 400s for bad input."""

import hashlib
import subprocess
import sys
import time

import pydantic
import pytest

from brubeck import concurrency, passwords
from brubeck.auth import User as AuthUser
from brubeck.auth import authenticate
from brubeck.models import User, UserProfile
from brubeck.request_handling import Brubeck, JSONMessageHandler, WebMessageHandler, render


def test_user_is_importable_from_auth_as_the_readme_says():
    assert AuthUser is User


def test_create_user_fields():
    before = int(time.time() * 1000)
    user = User.create_user("JD", "foo", email="  JD@Example.COM ")
    assert (user.username, user.email, user.is_active) == ("jd", "jd@example.com", False)
    assert before <= user.date_joined <= int(time.time() * 1000) + 1
    assert isinstance(user.last_login, int)
    assert User.create_user("jd", "foo").email is None
    assert User.create_user("jd", "foo", is_active=True).is_active


def test_password_hash_format_and_per_user_salt():
    a, b = User.create_user("aa", "same"), User.create_user("bb", "same")
    algorithm, n, r, p, salt, digest = a.password.split("$")
    assert (algorithm, n, r, p) == ("scrypt", str(passwords.default_params().n), "8", "1")
    assert len(passwords._unb64(salt)) == 16 and len(passwords._unb64(digest)) == 32
    assert a.password != b.password and a.password.split("$")[4] != b.password.split("$")[4]
    assert "same" not in a.password
    assert len(a.password) <= 128


def test_check_password():
    user = User.create_user("jd", "foo")
    user.last_login = 0
    assert not user.check_password("bar")
    assert not user.check_password("")
    assert not user.check_password("foo ")
    assert user.last_login == 0  # only a success counts as a login
    assert user.check_password("foo")
    assert user.last_login > 0


def test_set_password_replaces_the_old_one():
    user = User.create_user("jd", "foo")
    old = user.password
    user.set_password("n3w")
    assert user.password != old
    assert user.check_password("n3w") and not user.check_password("foo")


def test_user_without_password_never_matches():
    assert not User(username="jd").check_password("")


def test_unusable_stored_hash_is_false_and_logged(caplog):
    assert not passwords.verify_password("foo", "md5$abc")
    assert not passwords.verify_password("foo", "scrypt$3$8$1$AAAA$AAAA")
    assert "unusable stored password hash" in caplog.text


def test_none_password_refused():
    with pytest.raises(TypeError):
        User.create_user("jd", None)


def test_hashes_upgrade_through_the_parameter_string():
    weaker_n = passwords.default_params().n // 2  # below whatever cost this run hashes at
    weak = passwords.hash_password("foo", passwords.ScryptParams(n=weaker_n, r=8, p=1))
    assert weak.split("$")[1] == str(weaker_n)
    assert passwords.verify_password("foo", weak)  # old hashes keep working
    assert passwords.needs_rehash(weak)
    assert not passwords.needs_rehash(passwords.hash_password("foo"))
    assert passwords.needs_rehash(None) and passwords.needs_rehash("garbage")


def scrypt_calls(monkeypatch):
    calls = []
    real = hashlib.scrypt

    def spy(password, **kwargs):
        calls.append((kwargs["n"], kwargs["r"], kwargs["p"]))
        return real(password, **kwargs)

    monkeypatch.setattr(passwords.hashlib, "scrypt", spy)
    return calls


def test_unknown_user_costs_one_default_hash_like_a_known_one(monkeypatch):
    user = User.create_user("jd", "foo")
    calls = scrypt_calls(monkeypatch)
    assert authenticate(user, "wrong") is None
    assert authenticate(None, "wrong") is None
    assert authenticate(user, "foo") is user
    default = passwords.default_params()  # this run's cost (BRUBECK_SCRYPT_N)
    assert calls == [(default.n, default.r, default.p)] * 3


def test_unknown_user_takes_about_as_long_as_a_known_one():
    """Interleaved runs, fastest of each: the least noisy estimate on a busy machine."""
    user = User.create_user("jd", "foo")
    known, unknown = [], []
    for _ in range(7):
        for found, runs in ((user, known), (None, unknown)):
            start = time.perf_counter()
            authenticate(found, "x")
            runs.append(time.perf_counter() - start)
    assert 0.5 < min(unknown) / min(known) < 2.0, (known, unknown)


def test_hashing_goes_through_the_backends_run_in_thread(monkeypatch):
    backend = concurrency.active()
    used = []
    real = backend.run_in_thread

    def counting(fn, *args):
        used.append(fn)
        return real(fn, *args)

    monkeypatch.setattr(backend, "run_in_thread", counting)
    user = User.create_user("jd", "foo")
    user.check_password("foo")
    assert used == [passwords._derive, passwords._derive]


def test_hashing_without_a_backend_runs_inline():
    """A script making users before any app exists must not pick and patch a backend."""
    probe = ("import socket, sys; original = socket.socket; from brubeck.models import User; "
             "u = User.create_user('jd', 'foo'); "
             "print(u.check_password('foo'), socket.socket is original, "
             "[m for m in ('gevent', 'eventlet') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "True True []"


@pytest.mark.parametrize("username", ["a" * 31, "a b", "x", "semi;colon", "", "ü"])
def test_create_user_refuses_bad_usernames(username):
    with pytest.raises(pydantic.ValidationError) as info:
        User.create_user(username, "foo")
    assert info.value.errors()[0]["loc"] == ("username",)


def test_username_max_length_on_the_model_too():
    assert User(username="a" * 30).username == "a" * 30
    with pytest.raises(pydantic.ValidationError):
        User(username="a" * 31)
    user = User(username="jd")
    with pytest.raises(pydantic.ValidationError):
        user.username = "b" * 31  # assignment is validated as well


@pytest.mark.parametrize("email", ["nope", "a@b", "a b@c.d", "@x.com", "a@" + "x" * 100 + ".com"])
def test_bad_emails_refused(email):
    with pytest.raises(pydantic.ValidationError) as info:
        User.create_user("jd", "foo", email=email)
    assert info.value.errors()[0]["loc"] == ("email",)


def test_password_hash_never_serialized_or_shown():
    user = User.create_user("jd", "foo")
    assert "password" not in user.model_dump()
    assert "scrypt" not in user.model_dump_json()
    assert "scrypt" not in repr(user) and str(user) == "jd"
    assert user.to_db()["password"] == user.password
    assert User(**user.to_db()).check_password("foo")  # storing and loading keeps the hash


def test_user_profile_fields():
    profile = UserProfile(owner_username="jd", name="J D", email="jd@example.com",
                          website="https://example.com", bio="hi", location_text="NYC",
                          avatar_url="http://example.com/a.png")
    assert str(profile) == "J D" and profile.created_at > 0 and profile.updated_at > 0
    for bad in ({"website": "javascript:alert(1)"}, {"bio": "x" * 101},
                {"owner_username": "x" * 31}, {"name": "x" * 256}):
        with pytest.raises(pydantic.ValidationError):
            UserProfile(**bad)


# -- a ValidationError in a handler is a 400 listing the field errors ---------------------

class SignupHandler(WebMessageHandler):
    def post(self):
        user = User.create_user(self.get_argument("username", ""),
                                self.get_argument("password", ""),
                                email=self.get_argument("email", ""))
        self.set_body(user.username)
        return self.render()


class JSONSignupHandler(JSONMessageHandler):
    def post(self):
        user = User.create_user(**self.message.json)
        self.add_to_payload("user", user)
        return self.render(status_code=201)


def signup_app():
    app = Brubeck(handler_tuples=[(r"^/signup$", SignupHandler),
                                  (r"^/api/signup$", JSONSignupHandler)])

    @app.add_route(r"^/fun/signup$", method="POST")
    def fun_signup(application, message):
        user = User.create_user(message.get_argument("username", ""), "pw")
        return render(user.username, 200, "OK", {})

    return app


@pytest.fixture
def client(make_client):
    return make_client(signup_app())


def test_validation_error_in_web_handler_is_400_json(client, caplog):
    response = client.post("/signup", data={"username": "a b", "password": "s3cret",
                                            "email": "nope"})
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["status_code"] == 400
    assert sorted(e["loc"][0] for e in body["errors"]) == ["email", "username"]
    assert all({"type", "msg", "loc"} <= set(e) for e in body["errors"])
    assert "a b" not in response.text and "s3cret" not in response.text  # no input echoed
    assert "Traceback" not in caplog.text


def test_valid_input_still_works(client):
    response = client.post("/signup", data={"username": "JD", "password": "pw"})
    assert (response.status_code, response.text) == (200, "jd")


def test_validation_error_in_json_handler_is_400_with_errors(client):
    response = client.post("/api/signup", json={"username": "x" * 40, "password": "pw"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["loc"] == ["username"]
    created = client.post("/api/signup", json={"username": "jd", "password": "pw"})
    assert created.status_code == 201
    assert created.json()["user"]["username"] == "jd"
    assert "password" not in created.json()["user"]


def test_validation_error_in_function_route_is_400(client):
    response = client.post("/fun/signup", data={"username": "!"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["loc"] == ["username"]


def test_other_exceptions_are_still_500(make_client):
    class Broken(WebMessageHandler):
        def get(self):
            raise ValueError("not a validation error")

    response = make_client(Brubeck(handler_tuples=[(r"^/", Broken)])).get("/")
    assert response.status_code == 500


def test_core_does_not_import_pydantic():
    probe = ("import sys, brubeck, brubeck.handlers, brubeck.request_handling; "
             "print('pydantic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
