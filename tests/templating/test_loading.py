"""Loaders, raw environments, caching, and which engines get imported when."""

import os
import shutil
import subprocess
import sys

import pytest

from brubeck import Brubeck, WebMessageHandler
from brubeck.templating import ENGINES as ADAPTERS
from brubeck.templating import TemplateNotFound, render, renderer

from .helpers import CONTEXT, EXPECTED_PAGE, TEMPLATES, make_app, normalize, page_handler

ROOT = TEMPLATES.parent.parent


def test_readme_jinja2_example_works_as_written(tmp_path, monkeypatch, make_client):
    templates = tmp_path / "templates" / "jinja2"
    templates.mkdir(parents=True)
    (templates / "success.html").write_text("<p>Take five, {{ name }}!</p>\n")
    monkeypatch.chdir(tmp_path)  # the README's path is relative to where the app runs

    from brubeck.templating import Jinja2Rendering

    class DemoHandler(WebMessageHandler, Jinja2Rendering):
        def get(self):
            context = {
                'name': 'J2 D2',
            }
            return self.render_template('success.html', **context)

    from brubeck.templating import load_jinja2_env

    config = {
        'template_loader': load_jinja2_env('./templates/jinja2'),
        'handler_tuples': [(r'^/brubeck', DemoHandler)],
    }
    response = make_client(Brubeck(**config)).get("/brubeck")
    assert response.status_code == 200
    assert response.text == "<p>Take five, J2 D2!</p>"


def raw_environment(name, directory):
    """What a user's own template_loader might return: the engine's object, made by hand."""
    directory = str(directory)
    if name == "jinja2":
        import jinja2

        return jinja2.Environment(loader=jinja2.FileSystemLoader(directory), autoescape=True)
    if name == "mako":
        from mako.lookup import TemplateLookup

        return TemplateLookup(directories=[directory], default_filters=["h"])
    if name == "tornado":
        from tornado.template import Loader

        return Loader(directory)
    import pystache

    return pystache.Renderer(search_dirs=[directory])


def test_a_users_own_loader_may_return_the_raw_engine_object(engine, make_client):
    app = make_app(engine, [(r"^/$", page_handler(engine))],
                   template_loader=lambda: raw_environment(engine.name, engine.directory))
    assert normalize(make_client(app).get("/").text) == EXPECTED_PAGE
    assert normalize(app.render_template(engine.page, **CONTEXT)) == EXPECTED_PAGE


def test_templates_are_compiled_once_not_reread_per_request(engine, tmp_path):
    directory = tmp_path / engine.name
    shutil.copytree(engine.directory, directory)
    app = make_app(engine, [], directory)
    first = app.render_template(engine.page, **CONTEXT)
    for path in directory.iterdir():  # change every template on disk
        path.write_text("changed")
    assert app.render_template(engine.page, **CONTEXT) == first
    assert normalize(first) == EXPECTED_PAGE


def test_an_application_renders_with_the_environment_it_has_now(engine, tmp_path):
    """The app binds its renderer once per environment: a replaced `template_env` is used."""
    directory = tmp_path / engine.name
    shutil.copytree(engine.directory, directory)
    app = make_app(engine, [], engine.directory)
    first = app.render_template(engine.page, **CONTEXT)
    for path in directory.glob(f"{engine.page.partition('.')[0]}.*"):
        path.write_text("replaced")
    app.template_env = make_app(engine, [], directory).template_env
    assert app.render_template(engine.page, **CONTEXT) == "replaced"
    assert normalize(first) == EXPECTED_PAGE


def test_a_jinja2_environment_that_reloads_sees_an_edited_template(tmp_path):
    """Brubeck keeps compiled templates only for environments that never re-check files."""
    from brubeck.templating import load_jinja2_env

    (tmp_path / "page.html").write_text("one {{ n }}")
    env = load_jinja2_env(str(tmp_path), auto_reload=True)()
    bound = renderer(env)  # as an application keeps it
    assert bound("page.html", {"n": 1}) == "one 1"
    (tmp_path / "page.html").write_text("two {{ n }}")
    os.utime(tmp_path / "page.html", (1, 2_000_000_000))  # a newer mtime, whatever the clock
    assert bound("page.html", {"n": 1}) == "two 1"
    assert render(env, "page.html", {"n": 1}) == "two 1"


def test_a_jinja2_overlay_does_not_render_its_parents_compiled_templates(tmp_path):
    from brubeck.templating import load_jinja2_env

    (tmp_path / "page.html").write_text("{{ text }}")
    env = load_jinja2_env(str(tmp_path))()
    parent = renderer(env)
    assert parent("page.html", {"text": "<b>"}) == "&lt;b&gt;"
    overlay = env.overlay(autoescape=False)
    assert renderer(overlay)("page.html", {"text": "<b>"}) == "<b>"
    assert parent("page.html", {"text": "<b>"}) == "&lt;b&gt;"


def test_mustache_sources_are_parsed_once():
    from brubeck.templating import load_mustache_env
    from brubeck.templating.pystache import parse

    env = load_mustache_env(str(TEMPLATES / "mustache"))()
    render(env, "page", dict(CONTEXT))
    misses = parse.cache_info().misses
    render(env, "page.mustache", dict(CONTEXT))
    assert parse.cache_info().misses == misses


def test_missing_template_raises_one_error_type_for_every_engine(engine):
    env = engine.loader()()
    with pytest.raises(TemplateNotFound) as caught:
        render(env, f"absent.{engine.ext}", {})
    assert "absent" in str(caught.value)


def test_render_template_without_a_loader_is_a_config_error():
    from brubeck import ConfigError

    with pytest.raises(ConfigError, match="template_loader"):
        Brubeck().render_template("page.html")


def test_an_unknown_environment_type_is_refused_clearly():
    with pytest.raises(TypeError, match="template_loader must return"):
        render(object(), "page.html", {})


def run_python(code):
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    return result


def test_issue_command_mako_adapter_does_not_import_jinja2():
    code = "import brubeck.templating.mako, sys; print('jinja2' in sys.modules)"
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("engine_package", sorted(ADAPTERS))
def test_each_adapter_imports_only_its_own_engine(engine_package):
    code = (f"import sys, {ADAPTERS[engine_package]}; "
            f"print(sorted(e for e in {sorted(ADAPTERS)!r} if e in sys.modules))")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr([engine_package])


def test_brubeck_and_the_templating_package_import_no_engine():
    code = ("import sys, brubeck, brubeck.templating, brubeck.request_handling; "
            f"print([e for e in {sorted(ADAPTERS)!r} if e in sys.modules])")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


EXPORTS = {"jinja2": ("Jinja2Rendering", "jinja2"), "mako": ("MakoRendering", "mako"),
           "tornado": ("TornadoRendering", "tornado"),
           "pystache": ("MustacheRendering", "pystache")}


@pytest.mark.parametrize("engine_package", sorted(EXPORTS))
def test_a_missing_engine_names_the_extra_to_install(engine_package):
    mixin, extra = EXPORTS[engine_package]
    code = (f"import sys; sys.modules[{engine_package!r}] = None\n"
            "try:\n"
            f"    from brubeck.templating import {mixin}\n"
            "except ImportError as error:\n"
            "    print(type(error).__name__, error)\n")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (f"EngineMissing {engine_package} is not installed; "
                                     f"install it with: pip install 'brubeck[{extra}]'")


def test_public_names_are_listed_and_unknown_ones_refused():
    import brubeck.templating as templating

    assert {"Jinja2Rendering", "load_mustache_env"} <= set(dir(templating))
    with pytest.raises(AttributeError):
        templating.NoSuchRendering
