"""What every rendering mixin shares; imports no template engine.

A rendering mixin must work three ways (all seen in Brubeck 0.4 code):

    class A(Jinja2Rendering): ...                       # the mixin alone is a handler
    class B(WebMessageHandler, Jinja2Rendering): ...    # the README's order
    class C(CustomAuthMixin, Jinja2Rendering): ...      # after a WebMessageHandler subclass

If the mixin subclassed `WebMessageHandler`, B would have no consistent MRO. So
the mixins are plain classes, and their metaclass adds `WebMessageHandler` as
the last base of a class that has no handler among its bases (A); a bare mixin
called like a handler class (`base_handler=Jinja2Rendering`) does the same. Error pages
reach the template through `render_error_page`, the hook
`WebMessageHandler.render_error` calls, so no base order can hide it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..handlers import MessageHandler, WebMessageHandler
from ..response import Response

if TYPE_CHECKING:
    from ..app import Brubeck

log = logging.getLogger("brubeck.templating")


class TemplateNotFound(LookupError):
    """No template of that name in the loader's directories (any engine)."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"template not found: {name!r}")


class EngineMissing(ImportError):
    """The template engine an adapter needs is not installed."""


def missing_engine(package: str, extra: str) -> EngineMissing:
    """The error an adapter raises when `import <package>` fails."""
    return EngineMissing(
        f"{package} is not installed; install it with: pip install 'brubeck[{extra}]'",
        name=package,
    )


class HandlerWhenAlone(type):
    """Append `WebMessageHandler` to the bases of a class that has no handler base.

    Classes declared with `mixin=True` (the rendering mixins themselves, or a
    user's own mixin built on them) stay plain mixins.
    """

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any],
                mixin: bool = False, **kwargs: Any) -> HandlerWhenAlone:
        if mixin:
            return super().__new__(mcls, name, bases, namespace, **kwargs)
        if not any(issubclass(base, MessageHandler) for base in bases):
            bases = (*bases, WebMessageHandler)
        return super().__new__(_RenderingHandler, name, bases, namespace, **kwargs)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        """A bare mixin called as a handler class (`base_handler=Jinja2Rendering`) makes one."""
        if issubclass(cls, MessageHandler):
            return super().__call__(*args, **kwargs)
        handler = _bare_mixin_handlers.get(cls)
        if handler is None:
            handler = _bare_mixin_handlers[cls] = HandlerWhenAlone(
                cls.__name__, (cls,), {"__module__": cls.__module__,
                                       "__qualname__": cls.__qualname__})
        return handler(*args, **kwargs)


class _RenderingHandler(HandlerWhenAlone):
    """The metaclass of the handler classes made with a rendering mixin: they are
    instantiated as any class is (no Python-level `__call__` per request)."""

    __call__ = type.__call__


_bare_mixin_handlers: dict[type, type] = {}


class TemplateRendering(metaclass=HandlerWhenAlone, mixin=True):
    """`render_template` and templated error pages for any engine.

    The engine is the application's: `self.application.render_template` renders
    with `app.template_env`. Subclasses only name their errors template.
    """

    #: Rendered for error responses when it exists; context: `error_code`,
    #: `status_code`, `status_msg` and `detail` (a traceback, only in debug).
    error_template = "errors.html"

    # Provided by the WebMessageHandler this mixin ends up combined with.
    application: Brubeck
    set_body: Any
    render: Any
    status_msg: str

    def render_template(self, template_file: str, _status_code: int = 200,
                        **context: Any) -> Response:
        """Render `template_file` with `context` as the body; `_status_code` sets the status."""
        body = self.application.render_template(template_file, **context)
        self.set_body(body, status_code=_status_code)
        response: Response = self.render()
        return response

    def render_error_page(self, status_code: int, detail: str | None = None) -> str | None:
        """The errors template rendered, or None (plain page) if it is absent or fails."""
        if getattr(self.application, "template_env", None) is None:
            return None
        context = {"error_code": status_code, "status_code": status_code,
                   "status_msg": self.status_msg, "detail": detail or ""}
        try:
            page: str = self.application.render_template(self.error_template, **context)
            return page
        except TemplateNotFound:
            log.debug("no %s template; using the plain error page", self.error_template)
        except Exception:
            log.exception("rendering %s failed; using the plain error page",
                          self.error_template)
        return None
