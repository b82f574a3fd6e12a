"""The architecture holds: the import-linter contracts pass, brubeck/ has no import cycle,
and strict mypy passes over every module of it.

The first two count function-level (lazy) imports, as import-linter does, and leave
out imports under `if TYPE_CHECKING:`. The layers themselves are in `.importlinter`;
docs/architecture.rst draws them. mypy's settings are `[tool.mypy]` in pyproject.toml.
"""

import re
import shutil
import subprocess
import sys

import pytest

from tests.support.processes import ROOT, python_env

grimp = pytest.importorskip("grimp", reason="import-linter (the test extra) installs grimp")


def test_import_linter_contracts_are_kept():
    lint_imports = shutil.which("lint-imports")
    assert lint_imports, "lint-imports is missing: pip install 'brubeck[test]'"
    out = subprocess.run([lint_imports, "--no-cache"], cwd=ROOT, env=python_env(),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def import_cycles(graph) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(
                        child)))))
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == module:
                        break
                if len(group) > 1:
                    cycles.append(sorted(group))
    return cycles


def test_no_import_cycles_inside_brubeck():
    sys.path.insert(0, str(ROOT))
    try:
        graph = grimp.build_graph("brubeck", exclude_type_checking_imports=True,
                                  cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))
    cycles = import_cycles(graph)
    details = [
        f"{importer} -> {imported} (line {line['line_number']}: {line['line_contents']})"
        for cycle in cycles for importer in cycle for imported in cycle
        if graph.direct_import_exists(importer=importer, imported=imported)
        for line in graph.get_import_details(importer=importer, imported=imported)
    ]
    assert not cycles, "\n".join(details)


def test_mypy_strict_passes_over_the_whole_package():
    """`mypy` as configured (strict; the untyped libraries named one by one), every file."""
    out = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, env=python_env(),
                         capture_output=True, text=True)
    report = out.stdout + out.stderr
    assert out.returncode == 0, report
    checked = re.search(r"no issues found in (\d+) source files", report)
    modules = list((ROOT / "brubeck").rglob("*.py"))
    assert checked and int(checked[1]) == len(modules), report  # the whole package


def test_architecture_3_mongrel2_message_headers_are_the_one_headers_type():
    """A Mongrel2 message's headers are a `Headers`, the one header map, and its request
    adopts them as they are; repeated headers (JSON lists) stay every value."""
    from brubeck.datastructures import Headers
    from brubeck.limits import Limits
    from brubeck.mongrel2 import wire

    headers = (b'{"PATH":"/","METHOD":"GET","VERSION":"HTTP/1.1","URI":"/","x-a":["1","2"],'
               b'"Host":"example.com"}')
    message = wire.parse_message(b"aa-bb 3 / %d:%s,0:," % (len(headers), headers))
    assert isinstance(message.headers, Headers)
    assert message.headers.get_all("X-A") == ["1", "2"] and message.headers["x-a"] == "1"
    assert message.header("HOST") == "example.com" and "METHOD" not in message.headers
    assert wire.to_request(message, Limits()).headers is message.headers


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for importer, imported in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]:
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [["a", "b", "c"]]
