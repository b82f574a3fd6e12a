"""Brubeck's Jinja2 render (`template_render`) against Jinja2's own `Template.render`.

The two build the render's context differently (brubeck/templating/jinja2.py),
so every case here renders both ways and wants the same text, or the same
error pointing at the same template line.
"""

import traceback

import jinja2
import pytest
from markupsafe import Markup

from brubeck.templating import load_jinja2_env, renderer
from brubeck.templating.jinja2 import template_render

SOURCES = {
    "base.html": "<title>{% block title %}base{% endblock %}</title>{% block body %}{% endblock %}",
    "child.html": ("{% extends 'base.html' %}{% block title %}{{ super() }}+{{ name }}"
                   "{% endblock %}{% block body %}{% include 'part.html' %}{% endblock %}"),
    "part.html": "<p>{{ name }} {{ greeting }}</p>",
    "macros.html": "{% macro shout(s) %}{{ s|upper }}!{% endmacro %}{% set exported = 7 %}",
    "uses_macros.html": ("{% import 'macros.html' as m %}{% from 'macros.html' import shout %}"
                         "{{ m.shout(name) }} {{ shout('<x>') }} {{ m.exported }}"),
    "globals.html": "{{ site }} {{ range(3)|list }} {{ greeting }} {{ dict(a=1) }}",
    "loop.html": ("{% for x in items %}{{ loop.index }}:{{ x }}{{ ',' if not loop.last }}"
                  "{% endfor %}{% set total = items|sum %} {{ total }}"),
    "escape.html": ("{{ markup }} {{ raw }} {{ [raw, markup]|join(' ') }}"
                    "{% autoescape false %} {{ raw }}{% endautoescape %}"),
    "plain.txt": "{{ raw }}",
    "fails.html": "line one\n{{ name }}\n{{ boom() }}\n",
    "undefined.html": "{{ missing.attr }}",
}


def _env(tmp_path, **options):
    for name, source in SOURCES.items():
        (tmp_path / name).write_text(source)
    env = load_jinja2_env(str(tmp_path), **options)()
    env.globals["site"] = "Brubeck"
    env.globals["greeting"] = "hello"
    return env


CONTEXT = {"name": "<Ada>", "items": [1, 2, 3], "raw": "<b>", "markup": Markup("<i>"),
           "greeting": "hi"}


@pytest.mark.parametrize("name", [n for n in SOURCES if n not in ("fails.html",
                                                                     "undefined.html")])
def test_every_template_renders_as_jinja2s_own_render(tmp_path, name):
    env = _env(tmp_path)
    template = env.get_template(name)
    for context in (CONTEXT, {}, {"name": "x"}):
        assert template_render(template)(dict(context)) == template.render(dict(context))


def test_the_context_overrides_globals_and_a_templates_own_globals_override_the_envs(tmp_path):
    env = _env(tmp_path)
    template = env.get_template("globals.html", globals={"site": "own"})
    assert template_render(template)({}) == template.render({}) == \
        "own [0, 1, 2] hello {&#39;a&#39;: 1}"
    assert template_render(template)({"site": "ctx", "greeting": "yo"}).startswith("ctx ")


def test_globals_changed_after_the_first_render_are_seen(tmp_path):
    env = _env(tmp_path)
    bound = renderer(env)  # compiled templates kept, as an application keeps them
    assert bound("globals.html", {}).startswith("Brubeck ")
    env.globals["site"] = "renamed"
    env.get_template("globals.html").globals["greeting"] = "bonjour"
    assert bound("globals.html", {}) == "renamed [0, 1, 2] bonjour {&#39;a&#39;: 1}"


def test_the_callers_context_dict_is_left_as_it_was(tmp_path):
    env = _env(tmp_path)
    context = {"items": [1, 2]}
    template_render(env.get_template("loop.html"))(context)
    assert context == {"items": [1, 2]}


def _failure(render_call):
    with pytest.raises(Exception) as caught:
        render_call()
    frames = traceback.extract_tb(caught.value.__traceback__)
    in_template = [(f.filename.rsplit("/", 1)[-1], f.lineno) for f in frames
                   if f.filename.endswith(".html")]
    return type(caught.value), str(caught.value), in_template


def test_an_error_in_a_template_points_at_its_line_as_jinja2s_does(tmp_path):
    env = _env(tmp_path)
    template = env.get_template("fails.html")

    def boom():
        raise RuntimeError("boom")

    ours = _failure(lambda: template_render(template)({"name": "n", "boom": boom}))
    theirs = _failure(lambda: template.render({"name": "n", "boom": boom}))
    assert ours == theirs
    assert ours[2][-1] == ("fails.html", 3)


def test_strict_undefined_fails_as_jinja2s_render_does(tmp_path):
    env = _env(tmp_path, undefined=jinja2.StrictUndefined)
    template = env.get_template("undefined.html")
    assert _failure(lambda: template_render(template)({})) == \
        _failure(lambda: template.render({}))


def test_an_async_environment_keeps_jinja2s_render(tmp_path):
    env = _env(tmp_path, enable_async=True)
    template = env.get_template("part.html")
    assert template_render(template) == template.render
    assert renderer(env)("part.html", {"name": "a"}) == "<p>a hello</p>"


def test_globals_that_are_not_a_chainmap_of_dicts_keep_jinja2s_render(tmp_path):
    env = _env(tmp_path)
    template = env.get_template("part.html")
    template.globals = {"greeting": "plain"}  # as a subclass's make_globals might leave it
    assert template_render(template) == template.render
    assert template_render(template)({"name": "a"}) == "<p>a plain</p>"


@pytest.mark.parametrize("piece", ["root_render_func", "concat", "handle_exception"])
def test_a_jinja2_without_a_piece_used_keeps_its_own_render(tmp_path, monkeypatch, piece):
    env = _env(tmp_path)
    template = env.get_template("part.html")
    owner = template if piece == "root_render_func" else jinja2.Environment
    monkeypatch.delattr(owner, piece)  # as a later Jinja2 might have it
    assert template_render(template) == template.render
