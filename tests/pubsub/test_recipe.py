"""The long-poll recipe in docs/pubsub.rst, run as written (issue #16 item 6)."""

from __future__ import annotations

import re

import pytest

from brubeck import concurrency, pubsub
from brubeck.testing import TestClient
from tests.support.processes import ROOT

BACKEND = concurrency.active()


def recipe_source() -> str:
    """The first python code block after the "Long polling, the recipe" title."""
    text = (ROOT / "docs" / "pubsub.rst").read_text()
    section = text[text.index("Long polling, the recipe"):]
    block = re.search(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", section).group(1)
    return "\n".join(line[3:] for line in block.splitlines())


@pytest.fixture
def client():
    pubsub.configure("memory://")
    namespace: dict = {}
    exec(compile(recipe_source(), "docs/pubsub.rst", "exec"), namespace)
    yield TestClient(namespace["app"])
    pubsub.configure("memory://")


def result(job):
    return job.get() if hasattr(job, "get") else job.wait()


def test_scaleout_6_the_recipe_long_poll_wakes_on_a_post_and_resumes_from_since(client):
    first = client.post("/news/jazz", data={"text": "one"}).json()["id"]
    waiting = BACKEND.spawn(client.get, "/news/jazz", params={"since": first})
    BACKEND.sleep(0.1)
    second = client.post("/news/jazz", data={"text": "two"}).json()["id"]
    reply = result(waiting).json()
    assert reply["messages"] == [{"id": second, "text": "two"}] and not reply["reset"]
    assert reply["last"] == second
    # Back with an older id: everything since, at once.
    reply = client.get("/news/jazz", params={"since": "0"}).json()
    assert [m["text"] for m in reply["messages"]] == ["one", "two"]


def test_scaleout_6_the_recipe_starts_over_on_a_gap_and_refuses_a_bad_since(client):
    client.post("/news/jazz", data={"text": "kept"})
    reply = client.get("/news/jazz", params={"since": "99999999999999-0"}).json()
    assert reply["reset"] and [m["text"] for m in reply["messages"]] == ["kept"]
    assert client.get("/news/jazz", params={"since": "\u00b2"}).status_code == 400
