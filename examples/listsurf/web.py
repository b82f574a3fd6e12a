"""Listsurf's web pages: sign up, log in and out, save, list, search and delete links."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from store import NewLink

from brubeck.auth import (
    LoginThrottle,
    UserHandlingMixin,
    authenticate,
    safe_next,
    web_authenticated,
)
from brubeck.errors import HTTPError
from brubeck.handlers import WebMessageHandler
from brubeck.models import User
from brubeck.templating import Jinja2Rendering

#: Five wrong passwords for one name from one client lock that pair out for five minutes
#: (per process: the pages process is the only one with a login form).
LOGIN_THROTTLE = LoginThrottle(limit=5, window=300)


def field_messages(error: ValidationError) -> list[str]:
    """Pydantic's errors as sentences a person can act on."""
    return [f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in error.errors()]


class SessionMixin(UserHandlingMixin):
    """The logged-in user comes from the signed session cookie (name, session version, id)."""

    application: Any
    db_conn: Any

    def get_current_user(self) -> User | None:
        return self.session_user(self.db_conn.get_user)

    def log_in(self, user: User) -> None:
        self.start_session(user)

    def log_out(self) -> None:
        """End this session and every copy of it: other browsers, stolen cookies."""
        user = self.current_user
        if user is not None:
            user.revoke_sessions()
            self.db_conn.save_user(user)
        self.end_session()


class Page(WebMessageHandler, Jinja2Rendering, SessionMixin):
    """Every page gets the user and the XSRF field in its template context."""

    def page(self, template: str, status: int = 200, **context: Any) -> Any:
        return self.render_template(template, _status_code=status, user=self.current_user,
                                    xsrf_field=self.xsrf_form_html(), **context)


class SignupHandler(Page):
    def get(self) -> Any:
        return self.page("signup.html", next=self.get_next_url())

    def post(self) -> Any:
        username = self.get_argument("username", "")
        password = self.get_argument("password", "", strip=False)
        errors: list[str] = []
        if len(password) < 8:
            errors.append("password: use at least 8 characters")
        user = None
        try:
            user = User.create_user(username, password or "x", is_active=True)
        except ValidationError as error:
            errors.extend(field_messages(error))
        if not errors and not self.db_conn.add_user(user):
            errors.append(f"username: {username.lower()} is taken")
        if errors:
            return self.page("signup.html", status=400, errors=errors, username=username,
                             next=self.get_next_url())
        self.log_in(user)  # type: ignore[arg-type]
        return self.redirect(self.get_next_url(), status_code=303)


class LoginHandler(Page):
    def get(self) -> Any:
        return self.page("login.html", next=self.get_next_url())

    def post(self) -> Any:
        username = self.get_argument("username", "").lower()
        password = self.get_argument("password", "", strip=False)
        client = self.message.remote_addr
        wait = LOGIN_THROTTLE.retry_after(username, client)
        if wait:  # refused before hashing
            self.headers["Retry-After"] = str(int(wait) + 1)
            return self.page("login.html", status=429, username=username,
                             errors=["Too many failed attempts: try again in a few minutes."],
                             next=self.get_next_url())
        user = authenticate(self.db_conn.get_user(username), password)
        if user is None:
            LOGIN_THROTTLE.failed(username, client)
            return self.page("login.html", status=403, username=username,
                             errors=["Unknown username or wrong password."],
                             next=self.get_next_url())
        LOGIN_THROTTLE.succeeded(username, client)
        self.log_in(user)
        return self.redirect(self.get_next_url(), status_code=303)


class LogoutHandler(Page):
    def post(self) -> Any:
        self.log_out()
        return self.redirect("/login", status_code=303)


class LinksHandler(Page):
    """The home page: your links, newest first, filtered by words and a tag."""

    @web_authenticated
    def get(self) -> Any:
        query = self.get_argument("q", "")
        tag = self.get_argument("tag", "")
        links = self.db_conn.links(self.current_user.username, query, tag)
        return self.page("links.html", links=links, q=query, tag=tag, here=self.message.url)


class NewLinkHandler(Page):
    """The save form; `?url=...&title=...` prefills it (for a bookmarklet)."""

    @web_authenticated
    def get(self) -> Any:
        return self.page("new.html", url=self.get_argument("url", ""),
                         title=self.get_argument("title", ""), tags="")

    @web_authenticated
    def post(self) -> Any:
        form = {name: self.get_argument(name, "") for name in ("url", "title", "tags")}
        try:
            link = NewLink(**form)
        except ValidationError as error:
            return self.page("new.html", status=400, errors=field_messages(error), **form)
        self.db_conn.add_link(self.current_user.username, link)
        return self.redirect("/", status_code=303)


class DeleteLinkHandler(Page):
    @web_authenticated
    def post(self, link_id: str) -> Any:
        if not self.db_conn.delete_link(self.current_user.username, int(link_id)):
            raise HTTPError(404)
        return self.redirect(safe_next(self.get_argument("back")), status_code=303)


ROUTES = [
    (r"^/$", LinksHandler),
    (r"^/links/new$", NewLinkHandler),
    (r"^/links/(\d+)/delete$", DeleteLinkHandler),
    (r"^/signup$", SignupHandler),
    (r"^/login$", LoginHandler),
    (r"^/logout$", LogoutHandler),
]
