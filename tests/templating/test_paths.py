"""Template names that leave the template root are refused by every engine."""

import os

import pytest

from brubeck.templating import TemplateNotFound, render

from .helpers import CONTEXT, EXPECTED_PAGE, normalize

OUTSIDE = [
    "/etc/passwd", "/etc/hostname", "../../../../../../../../etc/passwd", "../secret.html",
    "sub/../../secret.html", "./../secret.html", "page.html/../../secret.html",
    "page.html\0", "", ".",
]


def tree(tmp_path, engine):
    """A template root beside a secret file, and a link inside the root to the secret."""
    root = tmp_path / "root"
    root.mkdir()
    for path in engine.directory.iterdir():
        (root / path.name).write_bytes(path.read_bytes())
    (root / "sub").mkdir()
    (tmp_path / "secret.html").write_text("TOP SECRET")
    return root


@pytest.mark.parametrize("name", OUTSIDE)
def test_security_8_names_outside_the_template_root_are_not_found(engine, tmp_path, name):
    env = engine.loader(tree(tmp_path, engine))()
    with pytest.raises(TemplateNotFound):
        render(env, name, dict(CONTEXT))


def test_security_8_tornado_refuses_a_link_that_resolves_outside(tmp_path):
    from brubeck.templating import load_tornado_env

    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.html").write_text("TOP SECRET")
    os.symlink(tmp_path / "secret.html", root / "linked.html")
    with pytest.raises(TemplateNotFound):
        render(load_tornado_env(str(root))(), "linked.html", {})


@pytest.mark.parametrize("directive", ['{% include "/etc/passwd" %}',
                                       '{% include "../secret.html" %}',
                                       '{% extends "../secret.html" %}'])
def test_security_8_tornado_includes_and_extends_stay_in_the_root(tmp_path, directive):
    """Tornado joins an include that leaves the including file's root as given."""
    from brubeck.templating import load_tornado_env

    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.html").write_text("TOP SECRET")
    (root / "evil.html").write_text(directive)
    with pytest.raises(TemplateNotFound):
        render(load_tornado_env(str(root))(), "evil.html", {})


def test_security_8_a_raw_tornado_loader_is_checked_too(tmp_path):
    from tornado.template import Loader

    (tmp_path / "root").mkdir()
    with pytest.raises(TemplateNotFound):
        render(Loader(str(tmp_path / "root")), "/etc/passwd", {})


def test_security_8_names_inside_the_root_still_render(engine, tmp_path):
    env = engine.loader(tree(tmp_path, engine))()
    assert normalize(render(env, engine.page, dict(CONTEXT))) == EXPECTED_PAGE
    page = engine.page if engine.name == "mustache" else f"sub/../{engine.page}"
    if engine.name in ("tornado", "mako"):  # normalized inside the root: fine
        assert normalize(render(env, page, dict(CONTEXT))) == EXPECTED_PAGE
