"""Notes: the application docs/tutorial.rst builds, step by step."""

import json
import os
from pathlib import Path
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from brubeck import pubsub
from brubeck.auth import (
    User,
    UserHandlingMixin,
    authenticate,
    authenticated,
    web_authenticated,
)
from brubeck.errors import HTTPError
from brubeck.queryset import SQLiteQueryset
from brubeck.request_handling import Brubeck, JSONMessageHandler, WebMessageHandler
from brubeck.templating import Jinja2Rendering, load_jinja2_env

HERE = Path(__file__).resolve().parent

app = Brubeck(
    template_loader=load_jinja2_env(str(HERE / "templates")),
    login_url="/login",
    xsrf_cookies=True,
)


class Note(BaseModel):
    id: UUID = Field(default_factory=uuid4)
    owner: str
    text: str = Field(min_length=1, max_length=500)


class NewNote(BaseModel):
    """What a client may send: the text alone (the server sets id and owner)."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=500)


notes = SQLiteQueryset(os.environ.get("NOTES_DB", "notes.db"), model=Note)


def notes_of(username):
    return [note for note in notes.all() if note.owner == username]


PASSWORD = os.environ.get("NOTES_PASSWORD", "take five")
USERS = {name: User.create_user(name, PASSWORD) for name in ("ann", "bo")}


class Page(WebMessageHandler, UserHandlingMixin, Jinja2Rendering):
    def get_current_user(self):
        return self.session_user(USERS.get)


class LoginHandler(Page):
    def get(self):
        return self.render_template("login.html", next=self.get_next_url(),
                                    xsrf_token=self.xsrf_token)

    def post(self):
        # Always hash, user found or not: timing does not tell who has an account.
        user = authenticate(USERS.get(self.get_argument("username", "")),
                            self.get_argument("password", ""))
        if user is None:
            return self.render_template("login.html", _status_code=401,
                                        error="Wrong username or password.",
                                        next=self.get_next_url(),
                                        xsrf_token=self.xsrf_token)
        self.start_session(user)  # the signed session cookie
        return self.redirect(self.get_next_url())


app.add_route_rule(r"^/login$", LoginHandler)


class HomeHandler(Page):
    @web_authenticated
    def get(self):
        return self.page()

    @web_authenticated
    def post(self):
        try:
            new = NewNote(text=self.get_argument("text", ""))
        except ValidationError as error:
            return self.page(error=error.errors()[0]["msg"], status_code=400)
        add_note(self.current_user.username, new.text)
        return self.redirect("/", status_code=303)

    def page(self, error=None, status_code=200):
        username = self.current_user.username
        return self.render_template("home.html", _status_code=status_code,
                                    user=username, notes=notes_of(username),
                                    error=error, xsrf_token=self.xsrf_token)


def channel(username):
    """The pub/sub channel that carries a user's news."""
    return f"notes:{username}"


def add_note(username, text):
    note = Note(owner=username, text=text)
    notes.save(note)
    pubsub.publish(channel(username), note.model_dump_json())  # news: step 6
    return note


app.add_route_rule(r"^/$", HomeHandler)


def last_news(username):
    """The id of the user's newest news: where a client polls from (step 6)."""
    newest = pubsub.history(channel(username), count=1)
    return newest[-1].id if newest else "0"


class NotesAPI(JSONMessageHandler, UserHandlingMixin):
    def get_current_user(self):
        return self.session_user(USERS.get)

    @authenticated
    def get(self):
        username = self.current_user.username
        self.add_to_payload("data", [note.model_dump(mode="json")
                                     for note in notes_of(username)])
        self.add_to_payload("last", last_news(username))
        return self.render()

    @authenticated
    def post(self):
        body = self.message.json
        if not isinstance(body, dict):
            raise HTTPError(400, "Send a JSON object")
        new = NewNote.model_validate(body)  # invalid: 400 with "errors"
        note = add_note(self.current_user.username, new.text)
        self.add_to_payload("data", note.model_dump(mode="json"))
        return self.render(status_code=201)


app.add_route_rule(r"^/api/notes$", NotesAPI)


POLL_SECONDS = float(os.environ.get("NOTES_POLL_SECONDS", "25"))


class PollHandler(NotesAPI):
    @authenticated
    def get(self):
        since = self.get_argument("since", "0")
        try:
            pubsub.parse_id(since)
        except ValueError:
            raise HTTPError(400, "since must be a message id") from None
        try:
            news = pubsub.wait(channel(self.current_user.username), after=since,
                               timeout=POLL_SECONDS)
        except pubsub.Gap:  # older news is gone: start over from the list
            self.add_to_payload("reset", True)
            news = []
        self.add_to_payload("data", [json.loads(message.data) for message in news])
        self.add_to_payload("last", news[-1].id if news else since)
        self.add_to_payload("worker", os.getpid())
        return self.render()


app.add_route_rule(r"^/api/notes/poll$", PollHandler)
