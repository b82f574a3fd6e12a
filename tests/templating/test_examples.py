"""Each engine's example app runs by one command and serves its page and its errors."""

import urllib.error
import urllib.request

import pytest

from tests.support.processes import free_port, python_env, running

EXAMPLES = ["templates_jinja2", "templates_mako", "templates_tornado", "templates_mustache"]


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES)
def test_example_serves_its_page_and_templated_errors(example):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = python_env(BRUBECK_CONNECTION=f"wsgi://127.0.0.1:{port}")
    with running([f"examples/{example}/app.py"], url=f"{base}/brubeck", env=env):
        status, page = fetch(f"{base}/brubeck?name=%3CDave%3E")
        assert status == 200
        assert "Take five, &lt;Dave&gt;!" in page
        assert "<li>Paul Desmond</li>" in page
        assert "<footer>Rendered by" in page  # the layout's partial

        status, error = fetch(f"{base}/nowhere")
        assert status == 404
        assert "<h1>404: Not found</h1>" in error
        assert "<footer>Rendered by" in error
