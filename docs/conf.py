"""Sphinx configuration: the guides in this folder plus an API reference built from docstrings.

Build: `python3 -m sphinx -W --keep-going -b html docs docs/_build/html` (the README's test
command runs it; a broken reference or docstring fails the run).
"""

from importlib.metadata import version as _version

project = "Brubeck"
author = "the Brubeck authors"
copyright = "2026, the Brubeck authors"
release = _version("brubeck")
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
    "ignore-module-all": True,  # document each name once, where it is defined
}
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
nitpicky = False
default_role = "literal"  # docstrings write `name` for code

exclude_patterns = ["_build", "screenshots/*.txt"]
html_theme = "alabaster"
html_title = f"Brubeck {release}"
templates_path = ["_templates"]
