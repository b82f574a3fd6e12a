"""App-wide hooks around every request: the one place for cross-cutting behaviour.

`Brubeck.handle` is the one door every request passes, whatever its transport
(WSGI, Mongrel2, the test client) and whatever answers it (a handler class, a
function route, a 404). Around it the app runs its middleware:

* `before(app, message)` of each, in order. One that returns a response answers
  the request: the route and the later middleware are skipped.
* `after(app, message, response)` of each whose `before` ran, in reverse order.
  It may return another response (None keeps the one it was given).

What a hook raises is answered like a handler's error (`base_handler`), so a
broken hook costs a 500, never a dead worker. Request ids, access logging, CORS
and metrics are middleware like any a user writes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..app import Brubeck
    from ..request import Request
    from ..response import Response

__all__ = ["AfterHook", "BeforeHook", "Middleware"]


class Middleware:
    """Override `before`, `after` or both; one instance serves every request, so keep
    per-request state on the message, never on `self`."""

    def before(self, app: Brubeck, message: Request) -> Any:
        """Return None to go on, or a response (anything a handler may return) to answer."""
        return None

    def after(self, app: Brubeck, message: Request, response: Response) -> Response | None:
        """Return a new response, or None to keep `response` (it may be changed in place)."""
        return None


class BeforeHook(Middleware):
    """`@app.before_request`: a function `fn(app, message)` run before routing."""

    def __init__(self, function: Callable[[Brubeck, Request], Any]) -> None:
        self.function = function

    def before(self, app: Brubeck, message: Request) -> Any:
        return self.function(app, message)

    def __repr__(self) -> str:
        return f"BeforeHook({getattr(self.function, '__qualname__', self.function)})"


class AfterHook(Middleware):
    """`@app.after_request`: a function `fn(app, message, response)` run after answering."""

    def __init__(self, function: Callable[[Brubeck, Request, Response], Response | None]) -> None:
        self.function = function

    def after(self, app: Brubeck, message: Request, response: Response) -> Response | None:
        return self.function(app, message, response)

    def __repr__(self) -> str:
        return f"AfterHook({getattr(self.function, '__qualname__', self.function)})"
