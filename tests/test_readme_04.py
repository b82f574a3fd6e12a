"""Brubeck 0.4's README snippets run as written (with the imports a user adds).

The snippets are read from the 0.4 README in ../shared/reference (beside the
checkout, not part of the project), so this checks the real text, not a
paraphrase of it. Where that file is absent (a fresh clone on its own) these
checks are skipped with a reason naming the file; CI has it and runs them.
"""

import shutil
import subprocess
import sys
import urllib.request

import pytest

from tests.support.processes import ROOT, free_port, python_env, running

README_04 = ROOT.parent / "shared" / "reference" / "brubeck-0.4-README.md"


def snippet_after(heading: str) -> str:
    """The first indented code block under `heading` in the 0.4 README."""
    if not README_04.is_file():
        pytest.skip(f"needs {README_04}, which lies outside the project "
                    "(put a copy of shared/ beside the checkout to run it)")
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
    with running([sys.executable, str(script)], url, env=env), \
            urllib.request.urlopen(url, timeout=10) as reply:
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


def test_issue19_1_without_shared_beside_the_checkout_skips_naming_the_file(tmp_path):
    """A fresh clone with no ../shared: these checks skip (saying which file is
    missing) instead of failing. The checkout is simulated by copying the test
    and what it needs into a folder with nothing beside it."""
    checkout = tmp_path / "clone"
    (checkout / "tests").mkdir(parents=True)
    for name in ("__init__.py", "conftest.py", "test_readme_04.py"):
        shutil.copy(ROOT / "tests" / name, checkout / "tests" / name)
    shutil.copytree(ROOT / "tests" / "support", checkout / "tests" / "support",
                    ignore=shutil.ignore_patterns("__pycache__", "test_*.py"))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs",
         "-k", "not issue19", "tests/test_readme_04.py"],
        # brubeck from this checkout (an installed one may point elsewhere); `tests`
        # from the copy, which comes first on sys.path (the working directory).
        cwd=checkout, env=python_env(PYTHONPATH=str(ROOT)), capture_output=True, text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "4 skipped" in output, output[-3000:]
    missing = checkout.parent / "shared" / "reference" / "brubeck-0.4-README.md"
    assert str(missing) in output, output[-3000:]
