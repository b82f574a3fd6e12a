"""The four engines render the same page: layout, loop, escaped value, partial."""

import html
import re

import pytest

from brubeck.templating import render

from .helpers import CONTEXT, ENGINES, EXPECTED_PAGE, make_app, normalize, page_handler


@pytest.mark.parametrize("engine", ENGINES, ids=[e.name for e in ENGINES])
def test_each_engine_renders_the_same_page(engine):
    env = engine.loader()()
    assert normalize(render(env, engine.page, dict(CONTEXT))) == EXPECTED_PAGE


def test_the_page_is_the_same_over_http(engine, make_client):
    client = make_client(make_app(engine, [(r"^/$", page_handler(engine))]))
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert normalize(response.text) == EXPECTED_PAGE


HOSTILE = "<script>alert(\"x\" + 'y')</script>&"


def test_values_are_html_escaped_by_default(engine):
    env = engine.loader()()
    page = render(env, engine.page, {**CONTEXT, "name": HOSTILE})
    heading = re.search(r"<h1>Hello, (.*?)</h1>", page).group(1)
    assert "<script>" not in page
    assert not set(heading) & set("<>\"'")
    assert html.unescape(heading) == HOSTILE


def test_status_code_of_a_rendered_template(engine, make_client):
    class Created(engine.mixin):
        def post(self):
            return self.render_template(engine.page, _status_code=201, **CONTEXT)

    response = make_client(make_app(engine, [(r"^/$", Created)])).post("/")
    assert response.status_code == 201
    assert normalize(response.text) == EXPECTED_PAGE
