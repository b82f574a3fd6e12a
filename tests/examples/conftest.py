"""The example apps as real processes on free loopback ports, and headless Chromium.

Every app process gets the backend this test run uses (BRUBECK_CONCURRENCY),
and is stopped by its PID. Browsers get a fresh profile in a temp directory.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from brubeck import concurrency
from tests.support.processes import ROOT, python_env
from tests.support.redis import redis_server  # noqa: F401  (the examples import it from here)

BACKEND = concurrency.active()  # installed by tests/conftest.py
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = ROOT / "docs" / "screenshots"


def app_env(**extra: str) -> dict[str, str]:
    """The environment of an app process: this run's backend, the checkout on the path."""
    return python_env(BRUBECK_CONCURRENCY=BACKEND.name, **extra)


def http_json(url: str, data: dict | None = None, timeout: float = 10.0,
              headers: dict | None = None) -> tuple[int, dict]:
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={
        **({"Content-Type": "application/json"} if body else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            raw = reply.read()
            return reply.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw.startswith(b"{") else {}


def rss_kib(pid: int) -> int:
    """Resident memory of `pid`, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError(f"no VmRSS for {pid}")


def wait_until(predicate, timeout: float, interval: float = 0.05, message: str = ""):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout}s")
        time.sleep(interval)


# -- servers ------------------------------------------------------------------------

def needs_mongrel2() -> None:
    """A missing system package fails the test: CI installs it (scripts/test.sh)."""
    if not (shutil.which("mongrel2") and shutil.which("m2sh")):
        raise RuntimeError("mongrel2 is not installed (apt-get install mongrel2-core)")


# -- browsers -----------------------------------------------------------------------


@pytest.fixture
def browser(tmp_path):
    """`browser(javascript=True)` -> a fresh headless Chromium; all quit at the end."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        raise RuntimeError("chromium and chromedriver are not installed "
                           "(apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers = []

    def make(javascript: bool = True, width: int = 900, height: int = 640):
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}",
                     f"--user-data-dir={tmp_path / f'chromium-{len(drivers)}'}"):
            options.add_argument(flag)
        if not javascript:
            options.add_experimental_option(
                "prefs", {"profile.managed_default_content_settings.javascript": 2})
            options.page_load_strategy = "none"  # its long-polling frame never "loads"
        service = Service(executable_path=CHROMEDRIVER, log_output=subprocess.DEVNULL)
        driver = webdriver.Chrome(options=options, service=service)
        driver.set_page_load_timeout(20)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        with contextlib.suppress(Exception):
            driver.quit()


def screenshot(driver, name: str) -> Path:
    """Save a small PNG of the page to docs/screenshots/NAME.png.

    Written when missing, or always with BRUBECK_SCREENSHOTS=1, so ordinary
    test runs leave the committed images alone.
    """
    path = SCREENSHOTS / f"{name}.png"
    if path.exists() and os.environ.get("BRUBECK_SCREENSHOTS") != "1":
        return path
    png = driver.get_screenshot_as_png()
    try:
        from PIL import Image

        image = Image.open(io.BytesIO(png)).convert("RGB")
        image = image.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        png = out.getvalue()
    except ImportError:
        pass
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return path
