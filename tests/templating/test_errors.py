"""Errors render the engine's errors template; without one, the plain page; never a crash."""

import logging
import shutil

from brubeck import HTTPError

from .helpers import CONTEXT, EXPECTED_PAGE, make_app, normalize, page_handler


def test_unrouted_path_uses_the_errors_template(engine, make_client):
    app = make_app(engine, [(r"^/$", page_handler(engine))], base_handler=engine.mixin)
    response = make_client(app).get("/nowhere")
    assert response.status_code == 404
    assert "<title>Error 404</title>" in response.text
    assert 'class="errors-template">404 Not found<' in response.text


def test_http_error_reason_reaches_the_template(engine, make_client):
    class Teapot(engine.mixin):
        def get(self):
            raise HTTPError(418, reason="Short & stout")

    response = make_client(make_app(engine, [(r"^/$", Teapot)])).get("/")
    assert response.status_code == 418
    assert 'class="errors-template">418 Short &amp; stout<' in response.text


def test_crash_uses_the_template_and_debug_detail_is_escaped(engine, make_client):
    class Crash(engine.mixin):
        def get(self):
            raise RuntimeError("<boom>")

    client = make_client(make_app(engine, [(r"^/$", Crash)], debug=True))
    response = client.get("/")
    assert response.status_code == 500
    assert 'class="errors-template">500' in response.text
    assert "RuntimeError: &lt;boom&gt;" in response.text
    assert "<boom>" not in response.text


def test_without_an_errors_template_the_plain_page_is_used(engine, tmp_path, make_client):
    directory = tmp_path / engine.name
    shutil.copytree(engine.directory, directory)
    (directory / f"errors.{engine.ext}").unlink()

    class Missing(engine.mixin):
        def get(self):
            raise HTTPError(404)

    response = make_client(make_app(engine, [(r"^/$", Missing)], directory)).get("/")
    assert response.status_code == 404
    assert "errors-template" not in response.text
    assert "<h1>404 not found</h1>" in response.text.lower()


def test_a_broken_errors_template_falls_back_and_is_logged(engine, tmp_path, caplog,
                                                           make_client):
    directory = tmp_path / engine.name
    shutil.copytree(engine.directory, directory)
    broken = {"jinja2": "{% if %}", "mako": "${", "tornado": "{% if %}",
              "mustache": "{{/unopened}}"}
    (directory / f"errors.{engine.ext}").write_text(broken[engine.name])

    class Missing(engine.mixin):
        def get(self):
            raise HTTPError(404)

    client = make_client(make_app(engine, [(r"^/$", Missing)], directory))
    with caplog.at_level(logging.ERROR, logger="brubeck"):
        response = client.get("/")
    assert response.status_code == 404
    assert "<h1>404 not found</h1>" in response.text.lower()
    assert any(r.name == "brubeck.templating" and r.exc_info for r in caplog.records)


def test_missing_template_is_logged_as_a_500_and_the_worker_lives_on(engine, caplog,
                                                                    make_client):
    class Lost(engine.mixin):
        def get(self):
            return self.render_template(f"no-such-page.{engine.ext}", **CONTEXT)

    app = make_app(engine, [(r"^/lost$", Lost), (r"^/$", page_handler(engine))])
    client = make_client(app)
    with caplog.at_level(logging.ERROR, logger="brubeck"):
        lost = client.get("/lost")
    assert lost.status_code == 500
    assert 'class="errors-template">500' in lost.text
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures and "no-such-page" in str(failures[0].exc_info[1])
    assert normalize(client.get("/").text) == EXPECTED_PAGE


def test_function_routes_render_with_the_application(engine, make_client):
    app = make_app(engine, [], base_handler=engine.mixin)

    @app.add_route(r"^/fn$", method="GET")
    def page(application, message):
        from brubeck import http_response

        return http_response(application.render_template(engine.page, **CONTEXT), 200, "OK",
                             {"Content-Type": "text/html; charset=utf-8"})

    @app.add_route(r"^/fn/fail$", method="GET")
    def fail(application, message):
        raise HTTPError(409)

    client = make_client(app)
    assert normalize(client.get("/fn").text) == EXPECTED_PAGE
    conflict = client.get("/fn/fail")
    assert conflict.status_code == 409
    assert 'class="errors-template">409 Conflict<' in conflict.text
