"""Describe the machine and software a run was made on: figures mean nothing without it."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata

PACKAGES = ("gevent", "eventlet", "greenlet", "tornado", "falcon", "pyzmq", "Jinja2")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def program_version(args: list[str]) -> str | None:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else None


def describe() -> dict:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "packages": {name: version(name) for name in PACKAGES if version(name)},
        "wrk": (program_version(["wrk", "-v"]) or "").split(" [")[0] or None,
        "mongrel2": program_version(["dpkg-query", "-W", "-f=${Version}", "mongrel2-core"]),
    }


def one_line(machine: dict) -> str:
    return (f"{machine['cpu']}, {machine['cores']} cores, {machine['os']}, "
            f"Python {machine['python']}; " +
            ", ".join(f"{k} {v}" for k, v in machine["packages"].items()))
