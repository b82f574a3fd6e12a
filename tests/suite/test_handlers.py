"""The shared handler suite: the same tests over every transport (see conftest)."""

import pytest

from tests.suite.app import LifecycleHandler, build_app


@pytest.fixture
def client(make_client):
    return make_client(build_app())


# -- answering ---------------------------------------------------------------------

def test_class_handler_answers(client):
    r = client.get("/brubeck")
    assert r.status_code == 200
    assert r.text == "Take five"
    assert r.headers["Content-Length"] == "9"
    assert r.headers["Content-Type"].startswith("text/html")


def test_positional_group_reaches_class_handler(client):
    assert client.get("/class/joe").text == "Take five, joe!"


def test_named_group_reaches_function(client):
    assert client.get("/fun/ann").text == "Take five, ann!"


def test_optional_named_group_left_out_uses_default(client):
    assert client.get("/date/2024/05").text == "2024-05"
    assert client.get("/date/2024").text == "2024-01"


def test_decorated_function_route(client):
    assert client.get("/deco/bo").text == "Hi bo"


def test_function_returning_render_dict(client):
    r = client.get("/render")
    assert (r.status_code, r.reason, r.text) == (202, "Accepted", "rendered dict")
    assert r.headers["X-Kind"] == "dict"


def test_function_without_method_takes_any(client):
    assert client.post("/anymethod").text == "POST"
    assert client.delete("/anymethod").text == "DELETE"


def test_db_conn_reaches_functions(client):
    assert client.get("/db").text == "the db"


def test_lifecycle_hooks_run_in_order(client):
    LifecycleHandler.events.clear()
    assert client.get("/lifecycle").text == "initialize,prepare,get"
    assert LifecycleHandler.events == ["on_finish"]


def test_prepare_may_finish_the_request(client):
    r = client.get("/early")
    assert (r.status_code, r.text) == (202, "from prepare")


def test_status_and_headers(client):
    r = client.get("/status")
    assert (r.status_code, r.text, r.headers["x-thing"]) == (201, "created", "yes")


def test_http_200_forces_status(client):
    assert client.post("/status").status_code == 200


def test_handler_without_return_renders_its_state(client):
    r = client.get("/noreturn")
    assert (r.status_code, r.text) == (200, "implicit render")


def test_first_match_wins(client):
    assert client.get("/first/shadowed").text == "Take five"


def test_routes_sharing_a_pattern_split_by_method(client):
    assert client.get("/items/7").text == "read 7"
    assert client.put("/items/7").text == "wrote 7"
    r = client.delete("/items/7")
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, HEAD, OPTIONS, POST, PUT"


# -- errors --------------------------------------------------------------------------

def test_unknown_path_is_404(client):
    r = client.get("/nowhere")
    assert r.status_code == 404
    assert "404" in r.text


def test_wrong_method_is_405_with_allow(client):
    r = client.post("/brubeck")
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_wrong_method_on_function_route_is_405(client):
    r = client.post("/deco/x")
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, HEAD"


def test_head_is_get_without_body(client):
    r = client.head("/brubeck")
    assert r.status_code == 200
    assert r.body == b""
    assert r.headers["Content-Length"] == "9"


def test_options_lists_methods(client):
    r = client.options("/brubeck")
    assert r.status_code == 204
    assert r.headers["Allow"] == "GET, HEAD, OPTIONS"
    r = client.options("/deco/x")
    assert (r.status_code, r.headers["Allow"]) == (204, "GET, HEAD")


def test_http_error_becomes_its_status(client):
    r = client.get("/forbidden")
    assert r.status_code == 403
    assert "not your thing" not in r.text


def test_http_error_in_function(client):
    assert client.get("/funforbidden").status_code == 403


def test_crash_is_500_without_traceback_and_server_keeps_serving(client, caplog):
    r = client.get("/crash")
    assert r.status_code == 500
    assert "secret internals" not in r.text and "Traceback" not in r.text
    assert "secret internals" in caplog.text  # the traceback went to the log
    assert client.get("/brubeck").status_code == 200


def test_crash_in_function_is_500(client):
    r = client.get("/funcrash")
    assert r.status_code == 500
    assert "function secret" not in r.text
    assert client.get("/brubeck").status_code == 200


def test_debug_shows_traceback(make_client):
    r = make_client(build_app(debug=True)).get("/crash")
    assert r.status_code == 500
    assert "secret internals" in r.text


def test_redirect(client):
    r = client.get("/redirect")
    assert r.status_code == 302
    assert r.headers["Location"] == "/brubeck"


# -- requests ------------------------------------------------------------------------

def test_query_arguments(client):
    data = client.get("/echo", params={"name": [" joe ", "ann"]}).json()
    assert data["name"] == "ann"
    assert data["names"] == ["joe", "ann"]
    assert data["arguments"] == {"name": [" joe ", "ann"]}


def test_default_argument(client):
    assert client.get("/echo").json()["name"] == "dude"


def test_form_arguments(client):
    data = client.post("/echo", data={"name": "formed", "x": "1"}).json()
    assert data["name"] == "formed"
    assert data["arguments"]["x"] == ["1"]


def test_json_body(client):
    assert client.post("/echo", json={"a": [1, 2]}).json()["json"] == {"a": [1, 2]}


def test_bad_json_is_400(client):
    r = client.post("/json", data="{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert client.get("/brubeck").status_code == 200


def test_headers_are_case_insensitive(client):
    assert client.get("/echo", headers={"x-CuStOm": "v"}).json()["x_custom"] == "v"


def test_request_cookies(client):
    r = client.get("/echo", headers={"Cookie": 'a=1; b="two"'})
    assert r.json()["cookies"] == {"a": "1", "b": "two"}


def test_multipart_files(client):
    r = client.post("/echo", data={"name": "up"},
                    files={"doc": ("notes.txt", b"hello world", "text/plain")})
    data = r.json()
    assert data["name"] == "up"
    assert data["files"] == {"doc": [{"filename": "notes.txt", "size": 11,
                                      "content_type": "text/plain"}]}


def test_broken_multipart_is_400(client):
    r = client.post("/echo", data=b"--x\r\nnonsense",
                    headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert r.status_code == 400


def test_non_utf8_argument_is_400(client):
    assert client.get("/echo?name=%ff").status_code == 400


# -- cookies -------------------------------------------------------------------------

def test_set_and_delete_cookies(client):
    r = client.get("/cookies")
    assert r.headers["Set-Cookie"] == "flavour=oatmeal; Path=/; HttpOnly"
    assert client.get("/cookies").text == "oatmeal"
    r = client.delete("/cookies")
    assert "flavour=;" in r.headers["Set-Cookie"] and "Max-Age=0" in r.headers["Set-Cookie"]


# -- JSON handlers -----------------------------------------------------------------------

def test_json_payload_has_status_and_timestamp(client):
    r = client.get("/json")
    data = r.json()
    assert r.headers["Content-Type"] == "application/json"
    assert data["status_code"] == 200 and data["status_msg"] == "OK"
    assert isinstance(data["timestamp"], int)
    assert data["data"] == {"answer": 42}


def test_json_hide_status(client):
    assert client.get("/json", params={"hide": "1"}).json() == {"answer": 42}


def test_json_post(client):
    r = client.post("/json", json=[1, 2])
    assert r.status_code == 201 and r.json()["got"] == [1, 2]


def test_json_crash_is_json_500(client):
    r = client.get("/jsoncrash")
    assert r.status_code == 500
    assert r.json()["status_code"] == 500
    assert "boom" not in r.text


# -- customising errors ------------------------------------------------------------------

def test_user_defined_404_handler(make_client):
    from brubeck.request_handling import Brubeck, WebMessageHandler

    class Missing(WebMessageHandler):
        def get(self):
            self.set_body(f"no {self.message.path} here", status_code=404)
            return self.render()

    r = make_client(Brubeck(handler_tuples=[], no_handler=Missing)).get("/gone")
    assert (r.status_code, r.text) == (404, "no /gone here")


def test_base_handler_renders_errors_of_function_routes(make_client):
    from brubeck.request_handling import Brubeck, WebMessageHandler

    class Branded(WebMessageHandler):
        def default_error_page(self, detail=None):
            return f"branded {self.status_code}"

    app = Brubeck(handler_tuples=[], base_handler=Branded)

    @app.add_route(r"^/f$", method="GET")
    def f(application, message):
        raise RuntimeError("x")

    client = make_client(app)
    assert client.get("/nowhere").text == "branded 404"
    assert client.get("/f").text == "branded 500"
    assert client.post("/f").text == "branded 405"


# -- safe defaults (security issue #13, item 16) -------------------------------------------

NOSNIFF_REQUESTS = [
    ("GET", "/brubeck", 200), ("HEAD", "/brubeck", 200), ("GET", "/nowhere", 404),
    ("POST", "/brubeck", 405), ("GET", "/crash", 500), ("GET", "/forbidden", 403),
    ("GET", "/redirect", 302), ("GET", "/json", 200), ("GET", "/jsoncrash", 500),
    ("GET", "/fun/ann", 200), ("GET", "/funcrash", 500), ("GET", "/render", 202),
    ("OPTIONS", "/brubeck", 204), ("OPTIONS", "/deco/x", 204), ("PUT", "/items/7", 200),
]


def test_security_16_nosniff_on_every_response(client):
    for method, path, status in NOSNIFF_REQUESTS:
        r = client.request(method, path)
        assert r.status_code == status, (method, path)
        assert r.headers.get_all("X-Content-Type-Options") == ["nosniff"], (method, path)


def test_security_16_a_handlers_own_nosniff_is_not_doubled(make_client):
    from brubeck.request_handling import Brubeck, http_response

    app = Brubeck(handler_tuples=[(r"^/own$", lambda application, message: http_response(
        "x", 200, "OK", {"X-Content-Type-Options": "nosniff"}))])
    assert make_client(app).get("/own").headers.get_all("X-Content-Type-Options") == \
        ["nosniff"]


def test_security_16_allowed_hosts_refuses_other_hosts(make_client, transport):
    """Live clients send Host: 127.0.0.1:<port>; the in-process one sends none of its own."""
    host = {"Host": "127.0.0.1:80"} if transport == "inprocess" else {}
    refused = make_client(build_app(allowed_hosts=["example.com"])).get("/brubeck",
                                                                        headers=host)
    assert refused.status_code == 400 and "Take five" not in refused.text
    assert refused.headers["X-Content-Type-Options"] == "nosniff"
    allowed = make_client(build_app(allowed_hosts=["example.com", "127.0.0.1"]))
    assert allowed.get("/brubeck", headers=host).text == "Take five"
    assert allowed.get("/fun/ann", headers=host).text == "Take five, ann!"
