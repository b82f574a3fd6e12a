"""Listsurf end to end: a person in Chromium, and a script on the JSON API.

Modes: one WSGI process (`app.py`), and pages + API as two processes behind
one real Mongrel2 (`run_mongrel2.py`).
"""

from __future__ import annotations

import base64
import contextlib
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC  # noqa: N812 (selenium's own alias)
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.processes import ROOT, free_port, running

from .conftest import app_env, http_json, needs_mongrel2, redis_server, screenshot, wait_until


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError as answer:
        answer.close()  # it holds the connection
        return True
    except OSError:
        return False


@contextlib.contextmanager
def listsurf(mode: str, tmp_path, db: str = "sqlite"):
    """The app in `mode`; yields its base URL once pages and API both answer."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = tmp_path / "data"
    if mode == "wsgi":
        args = ["examples/listsurf/app.py", "--port", str(port), "--data", str(data),
                "--db", db]
    else:
        needs_mongrel2()
        args = ["examples/listsurf/run_mongrel2.py", "--port", str(port), "--data", str(data),
                "--db", db]
    with running(args, env=app_env(), timeout=30) as proc:
        for path in ("/login", "/api/links"):  # both processes, past the PUB slow joiner
            wait_until(lambda p=path: proc.poll() is None and answers(url + p), 30,
                       interval=0.1, message=f"{url}{path} never answered")
        yield url


@pytest.fixture(params=["wsgi", "mongrel2"])
def mode(request):
    return request.param


def page_wait(driver) -> WebDriverWait:
    """A wait that looks again when Chromium answers "unhandled inspector error"
    (asked about a page that a click is replacing); a page that never shows what
    is waited for still fails, by timeout."""
    return WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,))


def fill(driver, **fields):
    for name, value in fields.items():
        element = driver.find_element(By.NAME, name)
        element.clear()
        element.send_keys(value)


def test_a_person_signs_up_saves_a_link_and_logs_out(mode, tmp_path, browser):
    with listsurf(mode, tmp_path) as url:
        driver = browser()
        wait = page_wait(driver)

        driver.get(url + "/")  # anonymous: sent to the login page
        wait.until(EC.url_contains("/login"))
        screenshot(driver, "listsurf-login")
        driver.find_element(By.LINK_TEXT, "Sign up").click()
        wait.until(EC.url_contains("/signup"))
        fill(driver, username="Ada", password="correct horse")
        driver.find_element(By.ID, "signup").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "whoami"), "ada"))

        driver.find_element(By.LINK_TEXT, "Save a link").click()
        wait.until(EC.url_contains("/links/new"))
        fill(driver, url="https://www.python.org/dev/peps/pep-0020/",
             title="The Zen of Python", tags="python, philosophy")
        driver.find_element(By.ID, "save").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "links"), "The Zen of Python"))
        driver.get(url + "/links/new")
        bookmarklet = driver.find_element(By.ID, "bookmarklet").get_attribute("href")
        assert urllib.parse.unquote(bookmarklet) == (  # the page's origin, no header's
            f'javascript:location.href="{url}/links/new?url="+encodeURIComponent(location.href)'
            "+'&title='+encodeURIComponent(document.title)")
        fill(driver, url="https://mongrel2.org/", title="Mongrel2 web server", tags="servers")
        driver.find_element(By.ID, "save").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "links"), "Mongrel2 web server"))
        screenshot(driver, "listsurf-links")

        # Search by word, then by tag.
        fill(driver, q="zen")
        driver.find_element(By.CSS_SELECTOR, "form.search button").click()
        wait.until(EC.url_contains("q=zen"))
        titles = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#links a.title")]
        assert titles == ["The Zen of Python"]
        driver.get(url + "/?tag=servers")
        titles = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#links a.title")]
        assert titles == ["Mongrel2 web server"]

        # The API sees the same links through the browser's session (another process
        # behind Mongrel2).
        driver.get(url + "/api/links?tag=python")
        assert '"The Zen of Python"' in driver.find_element(By.TAG_NAME, "body").text

        # Delete one, log out, and the list is closed to us.
        driver.get(url + "/?tag=servers")
        driver.find_element(By.CSS_SELECTOR, "#links li.link button").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "links"), "Nothing matches"))
        session = driver.get_cookie("session")["value"]
        driver.find_element(By.ID, "logout").click()
        wait.until(EC.url_contains("/login"))
        # A copy of the session cookie (another tab, a thief) ends with it.
        status, _ = http_json(url + "/api/links", headers={"Cookie": f"session={session}"})
        assert status == 401, "security_14: logout revokes every copy of the session"
        driver.get(url + "/")
        wait.until(EC.url_contains("/login?next="))
        assert "The Zen of Python" not in driver.page_source
        status, _ = http_json(url + "/api/links")
        assert status == 401

        # Logging back in returns to the page asked for.
        driver.get(url + "/?tag=python")
        wait.until(EC.url_contains("/login"))
        fill(driver, username="ada", password="correct horse")
        driver.find_element(By.ID, "login").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "links"), "The Zen of Python"))
        assert "tag=python" in driver.current_url

        # A wrong password is refused.
        driver.delete_all_cookies()
        driver.get(url + "/login")
        fill(driver, username="ada", password="wrong password")
        driver.find_element(By.ID, "login").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "errors"), "wrong password"))


@pytest.mark.parametrize("db", ["sqlite", "redis"])
def test_the_json_api_with_basic_credentials(db, tmp_path, browser):
    """A script's view: sign up in the browser, then use the API with Basic auth."""
    with contextlib.ExitStack() as stack:
        db_url = stack.enter_context(redis_server(tmp_path)) if db == "redis" else "sqlite"
        url = stack.enter_context(listsurf("wsgi", tmp_path, db=db_url))
        driver = browser()
        driver.get(url + "/signup")
        fill(driver, username="bot", password="s3cret-pass")
        driver.find_element(By.ID, "signup").click()
        page_wait(driver).until(EC.presence_of_element_located((By.ID, "whoami")))

        auth = {"Authorization": "Basic " + base64.b64encode(b"bot:s3cret-pass").decode()}
        status, body = http_json(url + "/api/links", {"url": "https://example.org/a",
                                                      "title": "A", "tags": ["x", "y"]},
                                 headers=auth)
        assert status == 201 and body["link"]["tags"] == ["x", "y"]
        link_id = body["link"]["id"]
        status, body = http_json(url + "/api/links", {"url": "javascript:alert(1)"},
                                 headers=auth)
        assert status == 400 and body["errors"][0]["loc"] == ["url"]
        status, body = http_json(f"{url}/api/links?tag=x", headers=auth)
        assert [link["title"] for link in body["links"]] == ["A"]

        driver.refresh()  # the browser sees what the script saved
        page_wait(driver).until(
            EC.text_to_be_present_in_element((By.ID, "links"), "A"))

        request = urllib.request.Request(f"{url}/api/links/{link_id}", method="DELETE",
                                         headers=auth)
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert reply.status == 204
        status, body = http_json(url + "/api/links", headers=auth)
        assert body["links"] == []
        # A form (what a cross-site page can post, with the Basic credentials the
        # browser resends by itself) still needs the XSRF token.
        form = urllib.request.Request(url + "/api/links", headers=auth,
                                      data=b"url=https%3A%2F%2Fevil.example%2F")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(form, timeout=10)
        refused.value.close()  # it holds the connection
        assert refused.value.code == 403, "security_13: Basic credentials skip XSRF for JSON only"
        assert http_json(url + "/api/links", headers=auth)[1]["links"] == []
        bad = {"Authorization": "Basic " + base64.b64encode(b"bot:wrong").decode()}
        assert http_json(url + "/api/links", headers=bad)[0] == 401


def test_pages_and_api_processes_set_up_one_database_at_once(tmp_path):
    """Both Listsurf processes start together on one SQLite file (switching it to WAL
    does not wait for a busy database); neither may die of 'database is locked'."""
    opener = (
        "import sys, time; sys.path[:0] = [sys.argv[1], sys.argv[2]]; "
        "from pathlib import Path; from store import SQLiteStore; "
        "time.sleep(max(0.0, float(sys.argv[3]) - time.time())); "
        "SQLiteStore(Path(sys.argv[4]))"
    )
    here = str(ROOT / "examples" / "listsurf")
    for attempt in range(8):
        start = str(time.time() + 0.6)
        path = str(tmp_path / f"try{attempt}" / "listsurf.sqlite3")
        procs = [subprocess.Popen([sys.executable, "-c", opener, here, str(ROOT), start, path],
                                  stderr=subprocess.PIPE) for _ in range(2)]
        for proc in procs:
            _, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err.decode()


def test_security_15_bookmarklet_never_takes_the_host_header():
    """A forged Host once landed inside the page's `javascript:` link; the template now
    builds the link in script from the page's own location, so no header reaches it."""
    from brubeck.templating import load_jinja2_env

    env = load_jinja2_env(str(ROOT / "examples" / "listsurf" / "templates"))()
    forged = "evil.example'+alert(document.cookie)+'"
    page = env.get_template("new.html").render(host=forged, url="", title="", tags="",
                                               xsrf_field="", user=None, errors=[])
    assert "evil.example" not in page
    assert 'href="/links/new"' in page and "location.origin" in page
