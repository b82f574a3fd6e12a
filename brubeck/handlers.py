"""Handler classes: one instance per request, thrown away afterwards.

The shape is Brubeck 0.4's (itself Tornado-like): a payload holding status code,
status message and timestamp; `initialize`/`prepare`/`on_finish` hooks; one
method per HTTP verb; `render()` turning the handler's state into a response.

Errors take one path, whatever raised them (a verb method, a function route, the
router, AutoAPI): `answer_exception(exc)` calls `log_exception(exc)`, then
`write_error(status, exc)` (Tornado's shape). Those two are what to override; 0.4's
`render_error`, `error`, `validation_failed` are thin aliases of `write_error`.
Rendering mixins (see `brubeck.templating`) give `write_error` its page through a
`render_error_page` hook that `WebMessageHandler` deliberately does not define, so
a mixin works whichever side of `WebMessageHandler` it is listed on.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from collections.abc import Callable
from datetime import date, datetime
from html import escape
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from . import cookies, debugpage, streaming
from .errors import HTTPError, InvalidFields, loggable, reason_phrase
from .request import Request
from .response import Response
from .routing import HTTP_METHODS, VERB_ATTRIBUTES, allow_header

if TYPE_CHECKING:
    from .app import Brubeck

log = logging.getLogger("brubeck.handlers")


def json_default(value: Any) -> Any:
    """Serialize what handlers commonly put in payloads: models, dates, UUIDs, sets."""
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


#: Made once: `json.dumps` with options builds an encoder per call (2.7x the cost of
#: encoding a small payload). `encode` keeps no state between calls.
_ENCODER = json.JSONEncoder(default=json_default, separators=(",", ":"))


def to_json(value: Any) -> str:
    return _ENCODER.encode(value)


def validation_errors(err: BaseException) -> list[dict[str, Any]] | None:
    """The field errors of a pydantic ValidationError, else None.

    Looked up in sys.modules so the core never imports pydantic: if it is not
    imported, nothing can have raised its error. The input is left out, since it
    may be a password.
    """
    pydantic = sys.modules.get("pydantic")
    if pydantic is None or not isinstance(err, pydantic.ValidationError):
        return None
    errors: list[dict[str, Any]] = json.loads(err.json(include_url=False,
                                                       include_input=False))
    return errors


def field_errors(err: BaseException | None) -> list[dict[str, Any]] | None:
    """What was wrong with the client's data, when `err` says so (a 400), else None."""
    if isinstance(err, InvalidFields):
        return err.errors
    return None if err is None else validation_errors(err)


def needs_cookie_secret(handler_class: type) -> bool:
    """Whether a method of `handler_class` needs a signed login cookie (`web_authenticated`
    marks it), read at start-up so the app can refuse to run without `cookie_secret`."""
    return any(getattr(getattr(handler_class, name, None), "needs_cookie_secret", False)
               for name in dir(handler_class))


#: The payload keys every handler has; any other key is something the handler produced.
_OWN_KEYS = frozenset(("status_code", "status_msg", "timestamp"))

#: Methods that change state, so must carry the XSRF token when it is enabled.
XSRF_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
XSRF_COOKIE = "_xsrf"

# `secret=` left out (a plain cookie) differs from `secret=None` (an app without a secret).
_NOT_GIVEN: Any = object()


def xsrf_exempt(target: Any) -> Any:
    """Mark a handler class or function route as not checked for an XSRF token.

    Only for routes that never act on cookies (an API authenticated by a token
    or HTTP Basic on every request); a route that reads a session cookie needs
    the check. A class may instead override `check_xsrf_cookie` to skip it per
    request.
    """
    target.xsrf_exempt = True
    return target


def xsrf_required(application: Brubeck, message: Request, target: Any) -> bool:
    """Whether this request to `target` must carry an XSRF token."""
    return (application.xsrf_cookies and message.method in XSRF_METHODS
            and not getattr(target, "xsrf_exempt", False))


def submitted_xsrf_token(message: Request) -> str | None:
    return (message.get_argument(XSRF_COOKIE) or message.headers.get("X-XSRFToken")
            or message.headers.get("X-CSRFToken"))


def check_xsrf(message: Request, secret: Any = None, session_id: str | None = None) -> None:
    """Refuse (403) a state-changing request without the right token.

    With a session, the token must be the session's (`cookies.session_xsrf_token`);
    without one, it must match the `_xsrf` cookie (double submit).
    """
    submitted = submitted_xsrf_token(message)
    if not submitted:
        raise HTTPError(403, log_message="XSRF token missing from form and headers")
    if session_id is not None:
        if not cookies.session_xsrf_matches(secret, session_id, submitted):
            raise HTTPError(403, log_message="XSRF token is not this session's")
        return
    sent = message.cookies.get(XSRF_COOKIE)
    if sent is None:
        raise HTTPError(403, log_message="XSRF cookie missing")
    if not cookies.xsrf_tokens_match(sent.value, submitted):
        raise HTTPError(403, log_message="XSRF token does not match its cookie")


class CurrentUserMixin:
    """`current_user`, found once per request by `get_current_user`: shared by
    `auth.UserHandlingMixin` and `websocket.WebSocketHandler` (its handshake)."""

    @property
    def current_user(self) -> Any:
        """The authenticated user for this request, or None; asked for once, then kept."""
        if not hasattr(self, "_current_user"):
            self._current_user = self.get_current_user()
        return self._current_user

    def get_current_user(self) -> Any:
        """Override to find the user, e.g. from a signed cookie. None means anonymous."""
        return None


class MessageHandler:
    """Base of all handlers: payload, status, hooks and method dispatch."""

    _SUCCESS_CODE = 0
    _BAD_REQUEST = -1
    _AUTH_FAILURE = -2
    _NOT_FOUND = -3
    _NOT_ALLOWED = -4
    _SERVER_ERROR = -5
    _DEFAULT_STATUS = _SERVER_ERROR  # default to error, earn success

    _response_codes: ClassVar[dict[int, str]] = {
        0: "OK",
        -1: "Bad request",
        -2: "Authentication failed",
        -3: "Not found",
        -4: "Method not allowed",
        -5: "Server error",
    }

    _STATUS_CODE = "status_code"
    _STATUS_MSG = "status_msg"
    _TIMESTAMP = "timestamp"

    #: Set by the application when routes sharing a pattern allow other methods.
    allowed_methods: frozenset[str] | None = None

    def __init__(self, application: Brubeck, message: Request, *args: Any, **kwargs: Any) -> None:
        self.application = application
        self.message = message
        self._payload: dict[str, Any] = {}
        self._finished = False
        self._url_args: tuple[str, ...] = ()
        self._url_kwargs: dict[str, str] = {}
        self.set_status(self._DEFAULT_STATUS)
        self._status_set = False  # the default above was not the handler's choice
        self.set_timestamp(int(time.time() * 1000))
        self.initialize()

    # -- hooks ------------------------------------------------------------------

    def initialize(self) -> None:
        """Called at the end of __init__ (and again by clear_payload)."""

    def prepare(self) -> None:
        """Called before the verb method; may render early (set `_finished`)."""

    def on_finish(self) -> None:
        """Called after the response is produced, even when the handler failed."""

    @property
    def db_conn(self) -> Any:
        return self.application.db_conn

    @property
    def supported_methods(self) -> list[str]:
        """The verbs this handler defines, lower case (0.4's shape)."""
        return [m.lower() for m in HTTP_METHODS if callable(getattr(self, m.lower(), None))]

    # -- payload ------------------------------------------------------------------

    def add_to_payload(self, key: str, value: Any) -> None:
        self._payload[key] = value

    def clear_payload(self) -> None:
        """Reset the payload, keeping the status code, and run `initialize` again."""
        status_code, status_set = self.status_code, self._status_set
        self._payload = {}
        self.set_status(status_code)
        self._status_set = status_set
        self.initialize()

    def set_status(self, status_code: int, status_msg: str | None = None,
                   extra_txt: str | None = None) -> None:
        if status_msg is None:
            status_msg = self._response_codes.get(status_code) or reason_phrase(status_code)
        if extra_txt:
            status_msg = f"{status_msg} - {extra_txt}"
        self._payload[self._STATUS_CODE] = status_code
        self._payload[self._STATUS_MSG] = status_msg
        self._status_set = True

    def _default_success(self) -> None:
        """A handler that produced a body or payload and set no status answers 200.

        Brubeck 0.4 answered 500 then (its default status, "earn success"); a
        handler that produced nothing still does.
        """
        if self._status_set:
            return
        if getattr(self, "body", None) or any(key not in _OWN_KEYS for key in self._payload):
            self.set_status(self._SUCCESS_CODE)
        self._status_set = True  # decided: a JSON body made from the payload is not "produced"

    @property
    def status_code(self) -> int:
        code: int = self._payload[self._STATUS_CODE]
        return code

    @property
    def status_msg(self) -> str:
        msg: str = self._payload[self._STATUS_MSG]
        return msg

    @property
    def current_time(self) -> int:
        timestamp: int = self._payload[self._TIMESTAMP]
        return timestamp

    def set_timestamp(self, timestamp: int) -> None:
        self._payload[self._TIMESTAMP] = timestamp
        self.timestamp = timestamp

    # -- output -------------------------------------------------------------------

    def render(self, status_code: int | None = None, **kwargs: Any) -> Any:
        """The payload as JSON; web handlers override this to produce HTTP."""
        if status_code is not None:
            self.set_status(status_code)
        return to_json(self._payload)

    # -- errors: one funnel ----------------------------------------------------------

    def answer_exception(self, exc: Exception) -> Any:
        """The answer to `exc`, raised while serving this request: logged, then written."""
        self.log_exception(exc)
        return self.write_error(self._status_for(exc), exc)

    def _status_for(self, exc: BaseException) -> int:
        if isinstance(exc, HTTPError):
            return exc.status_code
        return self._BAD_REQUEST if field_errors(exc) is not None else self._SERVER_ERROR

    def log_exception(self, exc: BaseException) -> None:
        """Log what `exc` tells about the server: an HTTPError its `log_message` only (a
        warning), the client's invalid fields nothing, anything else its traceback.
        Override it to report errors elsewhere."""
        method, path = loggable(self.message.method), loggable(self.message.path)
        if isinstance(exc, HTTPError):
            if exc.log_message:
                log.warning("%s %s: %s", method, path, loggable(exc))
        elif field_errors(exc) is None:
            log.error("%s %s failed", method, path, exc_info=exc)

    def write_error(self, status: int, exc: BaseException | None = None, **kwargs: Any) -> Any:
        """Answer with error `status` (Tornado's shape): every error answer ends here.

        The payload is cleared, then gets what `exc` tells the client (field errors).
        `kwargs` are 0.4 `render_error`'s: `error_handler` (called on the cleared
        payload), `status_msg`, `detail`.
        """
        self._error_payload(exc, kwargs.get("error_handler"))
        self._finished = True
        return self.render(status_code=status)

    def _error_payload(self, exc: BaseException | None,
                       error_handler: Callable[[], Any] | None) -> list[dict[str, Any]] | None:
        """How every error answer starts: the payload cleared, the client's field errors
        in it (returned), then 0.4's `error_handler` run on it."""
        self.clear_payload()
        errors = field_errors(exc)
        if errors is not None:
            self.add_to_payload("errors", errors)
        if error_handler is not None:
            error_handler()
        return errors

    # 0.4's names, kept as aliases of write_error.

    def render_error(self, status_code: int, error_handler: Callable[[], Any] | None = None,
                     **kwargs: Any) -> Any:
        """Render `status_code`; `error_handler` may add to the cleared payload first."""
        return self.write_error(status_code, None, error_handler=error_handler, **kwargs)

    def error(self, err: Exception) -> Any:
        return self.write_error(self._status_for(err), err)

    def validation_failed(self, errors: list[dict[str, Any]]) -> Any:
        """A model refused the client's data: a bad request listing the field errors."""
        return self.write_error(self._BAD_REQUEST, InvalidFields(errors))

    def unsupported(self, *args: Any, **kwargs: Any) -> Any:
        return self.write_error(self._NOT_ALLOWED)

    # -- dispatch -----------------------------------------------------------------

    def _verb_method(self) -> Callable[..., Any] | None:
        for name in VERB_ATTRIBUTES.get(self.message.method, ()):
            fun = getattr(self, name, None)
            if fun is not None:
                return fun if callable(fun) else None
        return None

    def __call__(self) -> Any:
        """Run prepare, the verb method and on_finish; always produce a response."""
        try:
            return self._run()
        except Exception as exc:
            return self.answer_exception(exc)
        finally:
            try:
                self.on_finish()
            except Exception:
                log.exception("on_finish failed for %s %s", loggable(self.message.method),
                              loggable(self.message.path))

    def _run(self) -> Any:
        if xsrf_required(self.application, self.message, self):
            getattr(self, "check_xsrf_cookie", lambda: None)()
        self.prepare()
        if self._finished:
            return self.render()
        fun = self._verb_method()
        if fun is None:
            return self.unsupported()
        rendered = fun(*self._url_args, **self._url_kwargs)
        self._finished = True
        if hasattr(rendered, "__next__"):  # a generator of chunks: stream it (brubeck.streaming)
            self.body, rendered = rendered, None
        return self.render() if rendered is None else rendered


class WebMessageHandler(MessageHandler):
    """Answers HTTP: a body, headers and cookies around the payload's status."""

    _SUCCESS_CODE = 200
    _UPDATED_CODE = 200
    _CREATED_CODE = 201
    _MULTI_CODE = 207
    _FAILED_CODE = 400
    _BAD_REQUEST = 400
    _AUTH_FAILURE = 401
    _FORBIDDEN = 403
    _NOT_FOUND = 404
    _NOT_ALLOWED = 405
    _SERVER_ERROR = 500
    _DEFAULT_STATUS = _SERVER_ERROR

    _response_codes: ClassVar[dict[int, str]] = {
        200: "OK",
        400: "Bad request",
        401: "Authentication failed",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        500: "Server error",
    }

    def __init__(self, application: Brubeck, message: Request, *args: Any, **kwargs: Any) -> None:
        self.body: Any = ""
        self.headers: dict[str, str] = {}
        super().__init__(application, message, *args, **kwargs)

    def clear_payload(self) -> None:
        self.body = ""
        self.headers = {}
        super().clear_payload()

    def set_body(self, body: Any, headers: dict[str, str] | None = None,
                 status_code: int = _SUCCESS_CODE) -> None:
        self.body = body
        self.set_status(status_code)
        if headers is not None:
            self.headers = headers

    def write(self, chunk: Any) -> None:
        """Append `chunk` (str, bytes, a dict as JSON) to the body; see `flush`."""
        streaming.write(self, chunk)

    def flush(self) -> None:
        """Send what was written now: the first flush sends the head, so status, headers
        and cookies are settled from then on (`brubeck.streaming`)."""
        streaming.flush(self)

    # -- verbs every web handler answers ------------------------------------------

    def options(self, *args: Any, **kwargs: Any) -> Any:
        """Answer OPTIONS with the methods this handler defines."""
        self.headers["Allow"] = self._allow_header()
        self.set_status(204)
        return self.render()

    def _allow_header(self) -> str:
        return allow_header(self.allowed_methods or
                            {m.upper() for m in self.supported_methods})

    def unsupported(self, *args: Any, **kwargs: Any) -> Any:
        allow = self._allow_header()
        return self.write_error(
            self._NOT_ALLOWED, error_handler=lambda: self.headers.__setitem__("Allow", allow))

    def write_error(self, status: int, exc: BaseException | None = None, **kwargs: Any) -> Any:
        """An error page for `status`: the rendering mixin's template if one is mixed in,
        else plain HTML; field errors as JSON whatever the page; an HTTPError's reason and
        headers; the traceback only when debugging."""
        errors = self._error_payload(exc, kwargs.get("error_handler"))
        if isinstance(exc, HTTPError):
            self.headers.update(exc.headers)  # after error_handler's: the error's own win
        status_msg = kwargs.get("status_msg")
        if status_msg is None and isinstance(exc, HTTPError):
            status_msg = exc.reason
        self.set_status(status, status_msg)
        self._finished = True
        if errors is not None:
            self.headers["Content-Type"] = "application/json"
            self.body = to_json(self._payload)
        else:
            detail = kwargs.get("detail")
            self._debug_exception = exc if detail is None and self._debugging(exc) else None
            self.fill_error(detail or self._debug_detail(exc))
        return self.render()

    def _debugging(self, exc: BaseException | None) -> bool:
        """Whether the answer to `exc` shows it: a server error, with `debug` on."""
        return exc is not None and not isinstance(exc, HTTPError) and self.application.debug

    def _debug_detail(self, exc: BaseException | None) -> str | None:
        """The traceback of a server error, for the page when `debug` is on."""
        if exc is None or not self._debugging(exc):
            return None
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

    def redirect(self, url: str, status_code: int = 302) -> Response:
        """Answer with a redirect to `url`, dropping whatever was rendered so far."""
        self.clear_payload()
        self._finished = True
        self.set_status(status_code, status_msg=reason_phrase(status_code))
        self.headers["Location"] = url
        self.body = ""
        return self.render()

    def fill_error(self, detail: str | None) -> None:
        """The error page as the body (`write_error`'s last step): a mixin's templated
        page, else `default_error_page`."""
        page_hook = getattr(self, "render_error_page", None)
        page = page_hook(self.status_code, detail=detail) if page_hook is not None else None
        if page is None:
            page = self._debug_page() or self.default_error_page(detail)
        self.body = page

    def _debug_page(self) -> str | None:
        """With `debug` on, the page showing the request, frames and locals of the crash."""
        exc = getattr(self, "_debug_exception", None)
        if exc is None:
            return None
        try:
            return debugpage.render(exc, self.message, self.status_code)
        except Exception:
            log.exception("the debug page failed; showing the plain traceback")
            return None

    def default_error_page(self, detail: str | None = None) -> str:
        title = escape(f"{self.status_code} {self.status_msg}")
        extra = f"<pre>{escape(detail)}</pre>" if detail else ""
        return f"<!doctype html><title>{title}</title><h1>{title}</h1>{extra}\n"

    # -- request helpers ------------------------------------------------------------

    def get_argument(self, name: str, default: str | None = None, strip: bool = True) -> Any:
        return self.message.get_argument(name, default=default, strip=strip)

    def get_arguments(self, name: str, strip: bool = True) -> list[str] | None:
        """Every value of `name`, or None when absent (0.4's contract)."""
        return self.message.get_arguments(name, strip=strip)

    # -- cookies --------------------------------------------------------------------

    @property
    def cookies(self) -> dict[str, str]:
        """Outgoing cookies: name -> Set-Cookie header value."""
        if not hasattr(self, "_cookies"):
            self._cookies: dict[str, str] = {}
        return self._cookies

    def get_cookie(self, key: str, default: Any = None, secret: Any = _NOT_GIVEN,
                   max_age_days: float | None = None) -> Any:
        """A cookie the client sent; with `secret`, only if its signature verifies.

        A `secret` that is given but None or empty (an app without `cookie_secret`)
        raises `cookies.MissingSecret`: an unsigned cookie is never trusted.
        """
        if secret is not _NOT_GIVEN:
            cookies.check_secret(secret)
        cookie = self.message.cookies.get(key)
        if cookie is None:
            return default
        if secret is _NOT_GIVEN:
            return cookie.value
        max_age = max_age_days * 86400 if max_age_days is not None else \
            self.application.cookie_max_age
        return cookies.verify(secret, key, cookie.value, max_age=max_age)

    def _secure_default(self) -> bool:
        return self.application.secure_cookies or self.message.scheme == "https"

    def set_cookie(self, key: str, value: Any, secret: Any = _NOT_GIVEN, **kwargs: Any) -> None:
        """Set a cookie; with `secret` it is signed (and HttpOnly, SameSite=Lax, and Secure
        over HTTPS or with `secure_cookies`, by default). A given but empty `secret`
        raises `cookies.MissingSecret` rather than write an unsigned cookie."""
        if secret is not _NOT_GIVEN:
            value = cookies.sign(secret, key, value)
            kwargs.setdefault("httponly", True)
            kwargs.setdefault("samesite", "Lax")
            kwargs.setdefault("secure", self._secure_default())
            kwargs.setdefault("max_age", int(self.application.cookie_max_age))
        elif not isinstance(value, str):
            raise TypeError("a cookie value must be a str unless it is signed (secret=...)")
        self.cookies[key] = cookies.format_set_cookie(key, value, **kwargs)

    def delete_cookie(self, key: str, **kwargs: Any) -> None:
        """Expire cookie `key`; pass the same `path`/`domain` it was set with."""
        kwargs["max_age"] = 0
        kwargs["expires"] = 0
        self.set_cookie(key, "", **kwargs)

    def delete_cookies(self) -> None:
        """Expire every cookie the client sent; names no Set-Cookie can carry (`cart[1]`,
        set by other software on the domain) are skipped, so logout always completes."""
        for key in self.message.cookies:
            if cookies.is_cookie_name(key):
                self.delete_cookie(key)
            else:
                log.debug("cannot expire cookie %s: not a valid cookie name", loggable(key))

    def convert_cookies(self) -> list[tuple[str, str]]:
        """Outgoing cookies as Set-Cookie header pairs."""
        return [("Set-Cookie", value) for value in self.cookies.values()]

    # -- XSRF (config `xsrf_cookies=True`) ------------------------------------------
    #
    # A session mixin may define `xsrf_session_id()` (UserHandlingMixin does): the
    # token is then derived from the session. WebMessageHandler itself does not
    # define it, so the mixin's is found whichever side of it the mixin is listed.

    def _xsrf_session_id(self) -> str | None:
        hook = getattr(self, "xsrf_session_id", None)
        return hook() if hook is not None else None

    @property
    def xsrf_token(self) -> str:
        """This client's XSRF token, freshly masked. The `_xsrf` cookie carries it too
        (for scripts that echo it in `X-XSRFToken`), set whenever it holds another."""
        if not hasattr(self, "_xsrf_raw"):
            sent = self.message.cookies.get(XSRF_COOKIE)
            sent_raw = cookies.unmask_xsrf_token(sent.value) if sent else None
            session_id = self._xsrf_session_id()
            if session_id is not None:
                raw = cookies.session_xsrf_token(self.application.cookie_secret, session_id)
            else:
                raw = sent_raw or cookies.new_xsrf_token()
            if raw != sent_raw:
                # Readable by scripts on purpose: they echo it in X-XSRFToken.
                self.set_cookie(XSRF_COOKIE, cookies.mask_xsrf_token(raw), samesite="Lax",
                                secure=self._secure_default())
            self._xsrf_raw = raw
        return cookies.mask_xsrf_token(self._xsrf_raw)

    def xsrf_form_html(self) -> str:
        """A hidden `_xsrf` input for forms that POST back to this application."""
        return f'<input type="hidden" name="{XSRF_COOKIE}" value="{self.xsrf_token}">'

    def check_xsrf_cookie(self) -> None:
        """Refuse (403) a state-changing request without this session's token (or, with
        no session, without the token of its `_xsrf` cookie).

        Override it to skip the check for requests authenticated otherwise (HTTP
        Basic, a bearer token), which a browser does not add on its own.
        """
        check_xsrf(self.message, self.application.cookie_secret, self._xsrf_session_id())

    # -- output -----------------------------------------------------------------------

    def render(self, status_code: int | None = None, *, http_200: bool = False,
               **kwargs: Any) -> Response:
        """The handler's state as a Response; `http_200` forces status 200."""
        if status_code is not None:
            self.set_status(status_code)
        self._default_success()
        code = 200 if http_200 else self.status_code
        headers: list[tuple[str, str]] = list(self.headers.items())
        if hasattr(self, "_cookies"):
            headers.extend(self.convert_cookies())
        if "_stream" in self.__dict__ or hasattr(self.body, "__next__"):
            return streaming.answer(self, code, headers)
        return Response(self.body, code, self.status_msg, headers)


class JSONMessageHandler(WebMessageHandler):
    """Renders the payload as JSON: status code, status message, timestamp and your keys.

    `hide_status=True` sends only the payload's `data` key, when there is one.
    """

    def render(self, status_code: int | None = None, *, hide_status: bool = False,
               **kwargs: Any) -> Response:
        if status_code is not None:
            self.set_status(status_code)
        self._default_success()
        self.headers["Content-Type"] = "application/json"
        if self.status_code == 204:
            self.body = ""
        elif hide_status and "data" in self._payload:
            self.body = to_json(self._payload["data"])
        else:
            self.body = to_json(self._payload)
        return super().render(**kwargs)

    def fill_error(self, detail: str | None) -> None:
        """Errors are the payload itself (status code and message), plus the traceback
        when debugging."""
        if detail:
            self.add_to_payload("traceback", detail)
