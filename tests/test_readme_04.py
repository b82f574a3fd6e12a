"""Brubeck 0.4's README snippets run as written (with the imports a user adds).

The snippets are read from the 0.4 README in ../shared/reference, so this
checks the real text, not a paraphrase of it.
"""

import sys
import urllib.request

import pytest

from tests.support.processes import ROOT, free_port, python_env, running

README_04 = ROOT.parent / "shared" / "reference" / "brubeck-0.4-README.md"


def snippet_after(heading: str) -> str:
    """The first indented code block under `heading` in the 0.4 README."""
    text = README_04.read_text()
    lines = text[text.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("    "))
    block = []
    for line in lines[start:]:
        if line.strip() and not line.startswith("    "):
            break
        block.append(line[4:])
    return "\n".join(block).strip() + "\n"


def run_snippet(tmp_path, code: str, path: str, backend: str) -> str:
    script = tmp_path / "snippet.py"
    script.write_text(code)
    port = free_port()
    env = python_env(BRUBECK_CONCURRENCY=backend,
                     BRUBECK_CONNECTION=f"wsgi://127.0.0.1:{port}")
    url = f"http://127.0.0.1:{port}{path}"
    with running([sys.executable, str(script)], url, env=env):
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.read().decode()


@pytest.mark.parametrize("backend", ["gevent", "eventlet"])
def test_hello_world_runs_verbatim(tmp_path, backend):
    code = ("from brubeck.request_handling import Brubeck, WebMessageHandler\n"
            "from brubeck.connections import WSGIConnection\n\n" + snippet_after("## Hello World"))
    assert "app.run()" in code
    assert run_snippet(tmp_path, code, "/", backend) == "Take five"


@pytest.mark.parametrize("backend", ["gevent", "eventlet"])
def test_function_route_snippet_runs_verbatim(tmp_path, backend):
    snippet = snippet_after("### Functions and Decorators")
    code = "from brubeck.request_handling import Brubeck, http_response\n\n" + snippet
    assert "@app.add_route('^/brubeck', method='GET')" in code
    assert run_snippet(tmp_path, code, "/brubeck", backend) == "Take five!"
