"""The `brubeck` command line: --version, help for every option (in the parser and on the
--help pages), `serve` refusing what it cannot do, and `mongrel2 config` validating and
keeping (issue #18 items 6 and 14, #16)."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

import pytest

from brubeck import __version__
from brubeck.__main__ import build_parser
from brubeck.mongrel2 import config as m2
from tests.support.processes import ROOT, python_env


def brubeck(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "brubeck", *args], cwd=cwd, env=python_env(),
                          capture_output=True, text=True, timeout=60)


def test_devx_14_version():
    done = brubeck("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"brubeck {__version__}"


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_devx_14_every_option_has_help_text():
    missing = [f"{parser.prog} {'/'.join(action.option_strings) or action.dest}"
               for parser in _parsers(build_parser()) for action in parser._actions
               if not action.help and not isinstance(action, argparse._SubParsersAction)]
    assert missing == []


def help_entries(text: str) -> dict[str, str]:
    """`{invocation: help text}` for each argument a `--help` page lists (argparse's layout:
    the invocation two spaces in, its help after two or more spaces and on the lines below)."""
    entries: dict[str, str] = {}
    invocation = None
    in_arguments = False
    for line in text.splitlines():
        if not line.startswith(" "):  # usage, a section heading, a blank line
            in_arguments = line in ("options:", "positional arguments:")
            invocation = None
        elif in_arguments and re.match(r"  \S", line):
            invocation, _, first = line.strip().partition("  ")
            entries[invocation] = first.strip()
        elif invocation is not None:
            entries[invocation] = f"{entries[invocation]} {line.strip()}".strip()
    return entries


@pytest.mark.parametrize("command", ["serve", "mongrel2 config"])
def test_devx_14_help_pages_exit_0_and_explain_every_option(command):
    done = brubeck(*command.split(), "--help")
    assert done.returncode == 0, done.stderr
    entries = help_entries(done.stdout)
    shown = {name for invocation in entries
             for name in re.findall(r"(?<![\w-])--?[\w-]+", invocation) or [invocation]}
    (parser,) = [p for p in _parsers(build_parser()) if p.prog == f"brubeck {command}"]
    expected = {name for action in parser._actions
                for name in action.option_strings or [action.dest]}
    assert shown == expected, done.stdout
    assert [invocation for invocation, text in entries.items() if not text] == [], done.stdout


def test_devx_6_mongrel2_config_help_shows_defaults_and_what_force_keeps():
    text = brubeck("mongrel2", "config", "--help").stdout
    for default in ("6767", "127.0.0.1", "tcp://127.0.0.1:9999", "tcp://127.0.0.1:9998",
                    "tnetstring"):
        assert f"(default: {default})" in text.replace("\n", " ").replace("  ", " ")
    assert "keeping its port" in text


@pytest.mark.parametrize("option, value, says", [
    ("--port", "99999", "is not a port (1 to 65535)"),
    ("--port", "0", "is not a port"),
    ("--pull", "7341", "is not a ZeroMQ address"),
    ("--pub", "tcp://127.0.0.1:70000", "port must be a number from 1 to 65535"),
    ("--pull", "ipc://" + "x" * 120, "an ipc path is at most 107 bytes"),
])
def test_devx_6_mongrel2_config_refuses_bad_ports_and_addresses(tmp_path, option, value, says):
    done = brubeck("mongrel2", "config", "--dir", str(tmp_path / "m2"), option, value)
    assert done.returncode == 2, done
    assert says in done.stderr
    assert not (tmp_path / "m2" / "m2.conf").exists()


def test_devx_6_force_keeps_the_options_not_given(tmp_path):
    chroot = tmp_path / "m2"
    first = brubeck("mongrel2", "config", "--dir", str(chroot), "--port", "7001",
                    "--bind", "0.0.0.0", "--pull", "tcp://127.0.0.1:7002",
                    "--pub", "tcp://127.0.0.1:7003", "--protocol", "json")
    assert first.returncode == 0, first.stderr
    before = m2.read_back(chroot)
    again = brubeck("mongrel2", "config", "--dir", str(chroot))
    assert again.returncode == 1 and "exists (use --force" in again.stderr
    forced = brubeck("mongrel2", "config", "--dir", str(chroot), "--force", "--port", "7004")
    assert forced.returncode == 0, forced.stderr
    after = m2.read_back(chroot)
    assert after["port"] == "7004"
    for key in ("bind_addr", "pull_addr", "pub_addr", "protocol", "server_uuid", "sender_id"):
        assert after[key] == before[key], key
    assert "kept from the old m2.conf: " in forced.stdout
    assert "bind_addr=0.0.0.0" in forced.stdout


def test_scaleout_1_handler_host_binds_the_handler_sockets_to_one_interface(tmp_path):
    done = brubeck("mongrel2", "config", "--dir", str(tmp_path), "--handler-host", "192.0.2.1")
    assert done.returncode == 0, done.stderr
    facts = m2.read_back(tmp_path)
    assert facts["pull_addr"] == "tcp://192.0.2.1:9999"
    assert facts["pub_addr"] == "tcp://192.0.2.1:9998"
    assert "mongrel2://tcp://192.0.2.1:9999,tcp://192.0.2.1:9998" in done.stdout


def test_scaleout_7_ipc_handler_sockets_are_relative_to_the_chroot(tmp_path):
    done = brubeck("mongrel2", "config", "--dir", str(tmp_path), "--ipc")
    assert done.returncode == 0, done.stderr
    facts = m2.read_back(tmp_path)
    assert facts["pull_addr"] == "ipc://run/handler-send.sock"
    assert f"mongrel2://ipc://{tmp_path.resolve()}/run/handler-send.sock," in done.stdout
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o700


def test_scaleout_7_ipc_paths_seen_from_outside_the_chroot(tmp_path):
    chroot = tmp_path.resolve()
    assert m2.outside_address("ipc://run/x.sock", chroot) == f"ipc://{chroot}/run/x.sock"
    assert m2.outside_address("ipc:///run/x.sock", chroot, chrooted=True) == \
        f"ipc://{chroot}/run/x.sock"
    assert m2.outside_address("ipc:///run/x.sock", chroot, chrooted=False) == "ipc:///run/x.sock"
    assert m2.outside_address("tcp://127.0.0.1:9", chroot) == "tcp://127.0.0.1:9"


@pytest.mark.parametrize("args, says", [
    (["--workers", "2"], "--workers needs a way to reach the workers"),
    (["--reload"], "--reload needs a way to reach the workers"),
    (["--workers", "0", "--port", "8000"], "--workers must be at least 1"),
    (["--port", "8000", "--workers", "2", "--dispatcher"], "are for Mongrel2 workers"),
    (["--dispatcher"], "give --workers N too"),
    (["--mongrel2", "--connection", "mongrel2://tcp://127.0.0.1:1,tcp://127.0.0.1:2"],
     "give one of them"),
    (["--workers", "2", "--connection", "mongrel2://tcp://127.0.0.1:1,7341"],
     "is not a ZeroMQ address"),
])
def test_scaleout_3_workers_without_a_way_to_use_them_is_an_error(args, says):
    done = brubeck("serve", "tests/workers/apps/versioned.py:app", *args)
    assert done.returncode != 0
    assert says in done.stderr, done.stderr


def test_devx_8_mongrel2_config_static_dir_and_route_kept_by_force(tmp_path):
    made = brubeck("mongrel2", "config", "--dir", str(tmp_path), "--static-dir", "assets/",
                   "--static-route", "/assets/")
    assert made.returncode == 0, made.stderr
    again = brubeck("mongrel2", "config", "--dir", str(tmp_path), "--force", "--port", "7001")
    assert again.returncode == 0, again.stderr
    found = m2.read_back(tmp_path)
    assert (found["static_dir"], found["static_route"], found["port"]) == \
        ("assets/", "/assets/", "7001")
