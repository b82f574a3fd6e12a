"""Every base order a 0.4 app uses makes a working handler with templated errors."""

import types

import pytest

from brubeck import HTTPError, MessageHandler, WebMessageHandler

from .helpers import CONTEXT, EXPECTED_PAGE, make_app, normalize

try:
    from brubeck.auth import UserHandlingMixin
except ImportError:  # auth lands separately; any plain mixin shows the same MRO
    class UserHandlingMixin:
        @property
        def current_user(self):
            return None


class CustomAuthMixin(WebMessageHandler, UserHandlingMixin):
    """What 0.4's login demo puts before the rendering mixin."""


ORDERS = {
    "mixin alone": lambda mixin: (mixin,),
    "README: WebMessageHandler first": lambda mixin: (WebMessageHandler, mixin),
    "mixin first": lambda mixin: (mixin, WebMessageHandler),
    "after a handler subclass": lambda mixin: (CustomAuthMixin, mixin),
    "after a plain mixin": lambda mixin: (UserHandlingMixin, mixin),
}


def build(engine, bases):
    def body(ns):
        def get(self):
            if self.get_argument("fail"):
                raise HTTPError(403)
            return self.render_template(engine.page, **CONTEXT)

        ns["get"] = get

    return types.new_class("DemoHandler", bases, exec_body=body)


@pytest.mark.parametrize("order", ORDERS)
def test_order_renders_pages_and_templated_errors(engine, order, make_client):
    handler = build(engine, ORDERS[order](engine.mixin))
    assert issubclass(handler, WebMessageHandler)
    assert handler.__mro__.count(WebMessageHandler) == 1
    client = make_client(make_app(engine, [(r"^/$", handler)]))

    page = client.get("/")
    assert page.status_code == 200
    assert normalize(page.text) == EXPECTED_PAGE

    error = client.get("/", params={"fail": "1"})
    assert error.status_code == 403
    assert 'class="errors-template">403 Forbidden<' in error.text


def test_a_subclass_of_a_rendering_handler_stays_a_handler(engine, make_client):
    base = build(engine, (engine.mixin,))
    child = types.new_class("Child", (base,))
    assert child.__bases__ == (base,)
    response = make_client(make_app(engine, [(r"^/$", child)])).get("/")
    assert normalize(response.text) == EXPECTED_PAGE


def test_handler_classes_are_instantiated_without_the_mixins_metaclass_call(engine):
    """Only a bare mixin needs the metaclass's `__call__`; a handler class made with a
    mixin is called as any class is (that call runs for every request)."""
    for bases in ((engine.mixin,), (WebMessageHandler, engine.mixin)):
        handler = build(engine, bases)
        assert type(handler).__call__ is type.__call__
    assert type(engine.mixin).__call__ is not type.__call__


def test_mixins_themselves_are_not_handlers(engine):
    assert not issubclass(engine.mixin, MessageHandler)


def test_a_users_own_rendering_mixin_can_opt_out(engine, make_client):
    """`mixin=True` keeps a class built on a rendering mixin a plain mixin."""
    class Shout(engine.mixin, mixin=True):
        def render_template(self, template_file, **context):
            context["title"] = context["title"].upper()
            return super().render_template(template_file, **context)

    assert not issubclass(Shout, MessageHandler)
    handler = build(engine, (WebMessageHandler, Shout))
    response = make_client(make_app(engine, [(r"^/$", handler)])).get("/")
    assert "<title>FRUIT</title>" in response.text


def test_a_bare_mixin_works_where_a_handler_class_is_expected(engine, make_client):
    """0.4 apps may pass the mixin itself, e.g. as `base_handler`."""
    app = make_app(engine, [], base_handler=engine.mixin)
    missing = make_client(app).get("/nowhere")
    assert missing.status_code == 404
    assert 'class="errors-template">404' in missing.text
