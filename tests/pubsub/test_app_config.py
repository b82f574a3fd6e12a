"""`Brubeck(pubsub_url=...)` (or BRUBECK_PUBSUB_URL) chooses the process-wide bus."""

from __future__ import annotations

from typing import Any

from brubeck import pubsub
from brubeck.app import Brubeck
from brubeck.connections import WSGIConnection


def _bus_of(url: str, monkeypatch: Any) -> Any:
    made: list[str] = []
    real = pubsub.connect

    def recording_connect(given: str, **options: Any) -> Any:
        made.append(given)
        return real(given, **options)

    monkeypatch.setattr(pubsub, "connect", recording_connect)
    Brubeck(msg_conn=WSGIConnection(port=1), pubsub_url=url)
    return made


def test_scaleout_6_pubsub_url_keyword_configures_the_process_bus(monkeypatch: Any) -> None:
    assert _bus_of("memory://?maxlen=5", monkeypatch) == ["memory://?maxlen=5"]
    message_id = pubsub.publish("room", "hello")
    assert [m.data for m in pubsub.wait("room", after="0-0", timeout=1)] == ["hello"]
    assert message_id


def test_scaleout_6_pubsub_url_from_the_environment_wins(monkeypatch: Any) -> None:
    monkeypatch.setenv("BRUBECK_PUBSUB_URL", "memory://?maxlen=7")
    assert _bus_of("memory://?maxlen=5", monkeypatch) == ["memory://?maxlen=7"]
