"""The benchmark harness gives each server (and Mongrel2's PULL/PUB) its own port."""

from bench import servers


def test_issue19_2_bench_free_port_never_hands_out_a_port_twice():
    # bind(0) draws from the ephemeral range at random: a few hundred draws repeat one
    # almost surely, which put two of a Mongrel2 config's ports on one number.
    ports = [servers.free_port() for _ in range(1000)]
    assert len(set(ports)) == len(ports)


def test_issue19_2_bench_mongrel2_config_ports_are_distinct(tmp_path):
    from bench.mongrel2_servers import _config

    http = servers.free_port()
    config = _config(tmp_path / "m2", http)
    pull = int(config.pull_addr.rsplit(":", 1)[1])
    pub = int(config.pub_addr.rsplit(":", 1)[1])
    assert len({http, pull, pub}) == 3
