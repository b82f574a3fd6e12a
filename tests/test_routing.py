"""Routing: first match wins, groups become arguments, 404 and 405 with Allow."""

import re

from brubeck.handlers import WebMessageHandler
from brubeck.routing import Router, class_methods, normalize_methods


class Reader(WebMessageHandler):
    def get(self):
        pass


class Writer(WebMessageHandler):
    def post(self):
        pass

    def delete(self):
        pass


def fn(app, msg):
    pass


def test_class_methods_come_from_defined_verbs():
    assert class_methods(Reader) == {"GET", "HEAD", "OPTIONS"}
    assert class_methods(Writer) == {"POST", "DELETE", "OPTIONS"}


def test_normalize_methods():
    assert normalize_methods(None) is None
    assert normalize_methods("get") == {"GET", "HEAD"}
    assert normalize_methods(["POST", "put"]) == {"POST", "PUT"}


def test_first_match_wins():
    router = Router()
    router.add(r"^/a", Reader)
    router.add(r"^/a/b$", Writer)
    assert router.match("/a/b", "GET").route.target is Reader


def test_positional_and_named_groups():
    router = Router()
    router.add(r"^/p/(\d+)/(\w+)$", fn)
    router.add(r"^/n/(?P<year>\d+)(?:/(?P<month>\d+))?$", fn)
    found = router.match("/p/1/x", "GET")
    assert (found.args, found.kwargs) == (("1", "x"), {})
    found = router.match("/n/2024", "GET")
    assert (found.args, found.kwargs) == ((), {"year": "2024"})


def test_method_refused_collects_allow_across_routes():
    router = Router()
    router.add(r"^/x$", Reader)
    router.add(r"^/x$", fn, method=["PUT"])
    found = router.match("/x", "DELETE")
    assert found.refused and found.route.target is Reader
    assert found.allowed == {"GET", "HEAD", "OPTIONS", "PUT"}
    assert router.match("/x", "PUT").route.target is fn


def test_no_match():
    found = Router().match("/nothing", "GET")
    assert found.route is None and not found.refused


def test_compiled_patterns_accepted():
    router = Router()
    router.add(re.compile(r"^/c$"), fn)
    assert router.match("/c", "GET").route.target is fn
