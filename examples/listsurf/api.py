"""Listsurf's JSON API: the same links as the pages, for scripts and other apps.

A browser is recognised by the signed session cookie (and must then send the
XSRF token in `X-XSRFToken`, as for forms); a script sends HTTP Basic
credentials instead and needs no token, except for a POST that a cross-site form
could send (browsers resend Basic credentials by themselves): post JSON.

    curl -u jd:secret123 localhost:8000/api/links?tag=python
    curl -u jd:secret123 -H 'Content-Type: application/json' \\
         -d '{"url": "https://example.org", "tags": "demo"}' localhost:8000/api/links
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from store import NewLink
from web import SessionMixin

from brubeck.auth import authenticate, authenticated
from brubeck.errors import HTTPError
from brubeck.handlers import JSONMessageHandler
from brubeck.models import User

_FORM_TYPES = frozenset({"", "application/x-www-form-urlencoded", "multipart/form-data",
                         "text/plain"})


class ApiHandler(JSONMessageHandler, SessionMixin):
    """Session cookie or Basic credentials; 401 with a Basic challenge otherwise."""

    def basic_credentials(self) -> tuple[str, str] | None:
        header = self.message.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            username, sep, password = base64.b64decode(encoded, validate=True) \
                .decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return (username.lower(), password) if sep else None

    def get_current_user(self) -> User | None:
        credentials = self.basic_credentials()
        if credentials is None:
            return super().get_current_user()
        username, password = credentials
        return authenticate(self.db_conn.get_user(username), password)

    def check_xsrf_cookie(self) -> None:
        # A browser resends Basic credentials it once gave on its own, even with
        # another site's form. What such a page can send without a CORS preflight
        # (which we never grant) is a POST of a form's content types; anything
        # else (a JSON body, DELETE, PUT) proves a script.
        cross_site_shape = (self.message.method == "POST"
                            and self.message.content_type in _FORM_TYPES)
        if cross_site_shape or self.basic_credentials() is None:
            super().check_xsrf_cookie()

    def auth_error(self) -> Any:
        return self.render_error(
            401, error_handler=lambda: self.headers.__setitem__(
                "WWW-Authenticate", 'Basic realm="listsurf", charset="UTF-8"'))

    def input(self) -> dict[str, Any]:
        """The request's fields, from a JSON object or a form."""
        if self.message.content_type == "application/json":
            data = self.message.json
            if not isinstance(data, dict):
                raise HTTPError(400, "Expected a JSON object")
            return data
        return {name: self.get_argument(name, "") for name in ("url", "title", "tags")}


class LinksApi(ApiHandler):
    @authenticated
    def get(self) -> Any:
        links = self.db_conn.links(self.current_user.username, self.get_argument("q"),
                                   self.get_argument("tag"))
        self.add_to_payload("links", links)
        return self.render(status_code=200)

    @authenticated
    def post(self) -> Any:
        link = self.db_conn.add_link(self.current_user.username, NewLink(**self.input()))
        self.headers["Location"] = f"/api/links/{link['id']}"
        self.add_to_payload("link", link)
        return self.render(status_code=201)


class LinkApi(ApiHandler):
    def _find(self, link_id: str) -> dict[str, Any]:
        link = self.db_conn.get_link(self.current_user.username, int(link_id))
        if link is None:
            raise HTTPError(404)
        return link

    @authenticated
    def get(self, link_id: str) -> Any:
        self.add_to_payload("link", self._find(link_id))
        return self.render(status_code=200)

    @authenticated
    def delete(self, link_id: str) -> Any:
        self._find(link_id)
        self.db_conn.delete_link(self.current_user.username, int(link_id))
        return self.render(status_code=204)


ROUTES = [
    (r"^/api/links/?$", LinksApi),
    (r"^/api/links/(\d+)$", LinkApi),
]
