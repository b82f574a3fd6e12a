"""Routing: first match wins, groups become arguments, 404 and 405 with Allow."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brubeck.handlers import WebMessageHandler
from brubeck.routing import Router, class_methods, literal_path, normalize_methods


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


# -- plain paths are looked up, not tried one by one ---------------------------------------

def reference_match(router, path, method):
    """Routing as the rule states it: every route in order, by its regex."""
    allowed, first = set(), None
    for route in router.routes:
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.allows(method):
            if route.pattern.groupindex:  # named groups are keyword arguments only
                return route, (), {k: v for k, v in found.groupdict().items() if v is not None}
            return route, found.groups(), {}
        first = first or route
        allowed |= route.methods or frozenset()
    return first, frozenset(allowed)


@pytest.mark.parametrize("pattern,path", [
    (r"^/about$", "/about"), (r"/about$", "/about"), (r"^/robots\.txt$", "/robots.txt"),
    (r"^/a\-b/c d$", "/a-b/c d"), (r"^/$", "/"), (r"^/a\\$", "/a\\"),
])
def test_plain_patterns_are_recognised(pattern, path):
    assert literal_path(re.compile(pattern)) == path


@pytest.mark.parametrize("pattern", [
    r"^/about", r"^/a.b$", r"^/a\d$", r"^/a\Z", r"^/(a)$", r"^/a|b$", r"^/a\$", r"^/a?$",
    r"^/a[b]$", r"^/a{2}$", r"^/a*$", r"^/a+$",
])
def test_other_patterns_are_not(pattern):
    assert literal_path(re.compile(pattern)) is None


def test_a_plain_route_wins_over_a_later_one_for_the_path_with_a_final_newline():
    router = Router()
    first = router.add("^/a$", fn, method="GET")
    router.add("^/a\n$", fn, method="GET")  # a literal newline: plain text, but not indexed
    assert router.match("/a\n", "GET").route is first


def test_flags_make_a_pattern_not_plain():
    assert literal_path(re.compile(r"^/about$", re.IGNORECASE)) is None


def test_a_final_newline_matches_a_plain_route_as_its_regex_does():
    router = Router()
    route = router.add(r"^/a$", fn, method="GET")
    assert router.match("/a\n", "GET").route is route
    assert router.match("/a\n\n", "GET").route is None


def test_routes_added_after_matching_are_seen():
    router = Router()
    router.add(r"^/a$", fn, method="GET")
    assert router.match("/b", "GET").route is None
    later = router.add(r"^/b$", fn, method="GET")
    assert router.match("/b", "GET").route is later


PIECES = ["/", "/a", "/a/b", "/b", "/a\n", "/1", "/a/1"]
PATTERNS = [r"^/$", r"^/a$", r"^/a/b$", r"^/b$", r"/a$", r"^/a", r"^/\w+$", r"^/(\d+)$",
            r"^/a/(?P<n>\d+)$", r"^/a/b", r"^/a\Z", r"^/A$"]


@settings(max_examples=300, deadline=None)
@given(table=st.lists(st.tuples(st.sampled_from(PATTERNS),
                                st.sampled_from([None, "GET", "POST", ("GET", "POST")])),
                      max_size=12),
       path=st.sampled_from(PIECES), method=st.sampled_from(["GET", "POST", "HEAD", "PUT"]))
def test_the_index_routes_every_table_as_the_rule_does(table, path, method):
    router = Router()
    for pattern, methods in table:
        router.add(pattern, fn, method=methods)
    found = router.match(path, method)
    expected = reference_match(router, path, method)
    if len(expected) == 3:
        assert (found.route, found.args, found.kwargs) == expected
        assert not found.refused
    else:
        assert (found.route, found.allowed, found.refused) == (*expected, expected[0] is not None)
