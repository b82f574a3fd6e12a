"""Ports handed to test servers are distinct: never the same twice in one run.

Three independent "is it free now?" probes can return the same port (nothing
holds it between the probes), so a Mongrel2 config could get HTTP == PULL.
"""

import itertools
import socket

from tests.support import processes
from tests.support.mongrel2 import free_config


def bindable(count: int) -> list[int]:
    """`count` ports in the range free_port draws from, free right now."""
    found = []
    for port in processes._PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise RuntimeError("no free ports")


class Repeating:
    """A chooser that offers the same ports again and again, as a real one may."""

    def __init__(self, ports):
        self.offers = itertools.cycle(ports)

    def choice(self, _population):
        return next(self.offers)


def test_issue19_2_free_config_ports_are_distinct_when_the_chooser_repeats(
        monkeypatch, tmp_path):
    p, q, r = bindable(3)
    monkeypatch.setattr(processes, "_RANDOM", Repeating([p, p, q, p, q, r]))
    monkeypatch.setattr(processes, "_HANDED_OUT", set(), raising=False)
    config = free_config(tmp_path)
    ports = [config.port, int(config.pull_addr.rsplit(":", 1)[1]),
             int(config.pub_addr.rsplit(":", 1)[1])]
    assert sorted(ports) == sorted([p, q, r])


def test_issue19_2_free_config_keeps_given_ports_and_picks_distinct_others(
        monkeypatch, tmp_path):
    p, q, r = bindable(3)
    monkeypatch.setattr(processes, "_RANDOM", Repeating([p, q, p, q, r]))
    monkeypatch.setattr(processes, "_HANDED_OUT", set(), raising=False)
    given = processes.free_port()
    config = free_config(tmp_path, port=given, pub_addr="ipc://pub")
    assert config.port == given == p
    assert config.pull_addr == f"tcp://127.0.0.1:{q}"
    assert config.pub_addr == "ipc://pub"


def test_issue19_2_free_port_never_hands_out_a_port_twice():
    first = processes.free_ports(20)
    later = [processes.free_port() for _ in range(200)]
    assert len(set(first)) == 20
    assert len(set(later)) == 200
    assert not set(first) & set(later)
    assert all(port in processes._PORTS for port in first + later)


def test_issue19_2_free_config_with_every_port_given_picks_none(tmp_path):
    config = free_config(tmp_path, port=1, pull_addr="ipc://pull", pub_addr="ipc://pub")
    assert (config.port, config.pull_addr, config.pub_addr) == (1, "ipc://pull", "ipc://pub")
