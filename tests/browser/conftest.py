"""Headless Chromium (Debian's package) driven by Playwright against pytest-django's live server.

Playwright's own browser download is not used: the tests point it at /usr/bin/chromium. In CI
(the CI variable is set) a missing browser fails the run; elsewhere these tests are skipped
with a message saying how to install it.

Playwright's sync API keeps an event loop running in this thread while it is started, and the
tests use the ORM in the same thread: Django allows that only with DJANGO_ALLOW_ASYNC_UNSAFE.
It is set for as long as one test module's browser runs and removed afterwards, so no other
test (or a subprocess one starts) sees it.
"""

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "browser-test-password"
# The tests wait for states (a text shown, an address reached, an element attached), never for
# a time: each wait ends as soon as its state holds. WAIT_MS only bounds how long a state may
# take to come, generously, so that a busy machine makes a test slower, not failed.
WAIT_MS = 60_000
expect.set_options(timeout=WAIT_MS)


def _chromium_or_stop() -> str:
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if path:
        return path
    message = (
        f"Chromium not found at {CHROMIUM}: install Debian's package (apt-get install chromium)."
    )
    if os.environ.get("CI"):
        pytest.fail(f"{message} The browser tests must run in CI.", pytrace=False)
    pytest.skip(f"BROWSER TESTS NOT RUN. {message}")


@pytest.fixture(scope="module")
def browser():
    executable = _chromium_or_stop()
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context whose requests may reach the live server and nothing else."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    context.foreign_requests = []

    def guard(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            context.foreign_requests.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    tab = context.new_page()
    tab.set_default_timeout(WAIT_MS)
    tab.set_default_navigation_timeout(WAIT_MS)
    # Anything the Content-Security-Policy blocks shows in the console: every page the tests
    # open must work within the policy.
    blocked: list[str] = []
    tab.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield tab
    context.close()
    assert blocked == [], blocked


@pytest.fixture
def admin_user(transactional_db, store):
    from django.contrib.auth.models import User

    return User.objects.create_superuser("boss", "boss@example.com", PASSWORD)


@pytest.fixture
def logged_in(page, live_server, admin_user):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
