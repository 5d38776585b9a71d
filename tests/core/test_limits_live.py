"""Every limit holds exactly under concurrent clients, against real servers: gunicorn with one
process of 40 threads, and with 4 worker processes of 4 threads, counting in the database (a
SQLite file, or a PostgreSQL database of its own when the suite runs on PostgreSQL) and in
Redis. (runserver's listen backlog of 10 resets bursts of POSTs before they are read; it is
measured with GETs by `python -m loadtest.limits`.)

The servers are subprocesses with a database of their own, migrated and filled by
subprocesses; each test uses its own key, user or client address (X-Forwarded-For, behind one
trusted proxy), so tests sharing a server count apart. Requests go to 127.0.0.1 only, each with
a timeout; each burst starts early enough in its fixed window to be counted in one.
"""

import itertools
import json
import os
import re
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest

from loadtest.limits import (
    ROOT,
    api_burst,
    burst,
    call,
    create_keys,
    django_env,
    fresh_window,
    manage,
    server,
    statuses,
)

API_LIMIT = 20
FEED_LIMIT = 20
LOGIN_PER_USER = 5
LOGIN_PER_ADDRESS = 20
LOGIN_WINDOW = 300
PASSWORD = "right-password-123"
USERS = 16

SETUP_USERS = f"""
from django.contrib.auth import get_user_model
for n in range({USERS}):
    get_user_model().objects.create_superuser(f"boss{{n}}", "", {PASSWORD!r})
"""


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    """A migrated database for the servers: a SQLite file, or a new PostgreSQL database on
    the suite's server."""
    url = os.environ.get("DATABASE_URL", "")
    if "postgres" not in url:
        yield f"sqlite:///{tmp_path_factory.mktemp('limits') / 'db.sqlite3'}"
        return
    import psycopg

    name = f"limits_live_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Pool:
    """What the tests of one module draw from, each thing once: API keys, users, addresses."""

    def __init__(self, keys: list[str]):
        self.keys = iter(keys)
        self.users = (f"boss{n}" for n in range(USERS))
        self.addresses = (f"198.51.100.{n}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def pool(database_url):
    env = django_env(database_url)
    manage(ROOT, env, "migrate", "-v0")
    manage(ROOT, env, code=SETUP_USERS)
    return Pool(create_keys(ROOT, env, count=8, limit=API_LIMIT))


def _test_redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL", "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("TEST_REDIS_URL is not set: run the suite through bin/with-redis")
        pytest.skip("no Redis: run through bin/with-redis (make test does)")
    return url


@pytest.fixture(
    scope="module",
    params=["threads-database", "threads-redis", "processes-database", "processes-redis"],
)
def live(request, database_url, pool):
    """A server's port, counting in the database or in Redis."""
    kind, backend = request.param.split("-")
    workers, threads = (1, 40) if kind == "threads" else (4, 4)
    env = django_env(
        database_url,
        RATELIMIT_REDIS_URL=_test_redis_url() if backend == "redis" else "",
        TRUSTED_PROXY_COUNT="1",
        FEED_TOKEN_FAILURES_PER_MINUTE=str(FEED_LIMIT),
        ADMIN_LOGIN_FAILURES_PER_USER=str(LOGIN_PER_USER),
        ADMIN_LOGIN_FAILURES_PER_ADDRESS=str(LOGIN_PER_ADDRESS),
        ADMIN_LOGIN_WINDOW_SECONDS=str(LOGIN_WINDOW),
    )
    with server("gunicorn", ROOT, env, workers=workers, threads=threads) as port:
        yield port


def test_an_api_key_lets_exactly_its_limit_of_40_concurrent_requests_through(live, pool):
    key = next(pool.keys)
    fresh_window(60, 20)

    answers = api_burst(live, key, 40)

    assert statuses(answers) == {200: API_LIMIT, 429: 40 - API_LIMIT}
    _, headers, body = next(answer for answer in answers if answer[0] == 429)
    assert 1 <= int(headers["retry-after"]) <= 60
    error = json.loads(body)
    assert (error["status"], error["code"], error["errors"]) == (429, "throttled", {})


def test_exactly_the_limit_of_40_concurrent_wrong_feed_tokens_get_401(live, pool):
    address = next(pool.addresses)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Forwarded-For": address,
    }
    body = urlencode({"token": "not-the-right-token-0123456789"})
    fresh_window(60, 20)

    answers = burst(
        40, lambda n: call(live, "POST", "/convertedin/orders", body=body, headers=headers)
    )

    assert statuses(answers) == {401: FEED_LIMIT, 429: 40 - FEED_LIMIT}
    _, refused_headers, _ = next(answer for answer in answers if answer[0] == 429)
    assert 1 <= int(refused_headers["retry-after"]) <= 60


def _login_form(port: int) -> tuple[str, str]:
    """The CSRF cookie and the form's token of the admin's login page."""
    status, headers, page = call(port, "GET", "/admin/login/")
    assert status == 200
    cookie = next(c.split(";")[0] for c in headers["set-cookie"] if c.startswith("csrftoken="))
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    return cookie, token.group(1).decode()


def _login(port: int, form: tuple[str, str], address: str, username: str, password: str):
    cookie, token = form
    body = urlencode(
        {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": token,
            "next": "/admin/",
        }
    )
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": cookie,
        "X-Forwarded-For": address,
    }
    return call(port, "POST", "/admin/login/?next=/admin/", body=body, headers=headers)


def test_50_concurrent_wrong_passwords_for_one_user_try_exactly_5(live, pool):
    user, address = next(pool.users), next(pool.addresses)
    form = _login_form(live)
    fresh_window(LOGIN_WINDOW, 20)

    answers = burst(50, lambda n: _login(live, form, address, user, f"wrong-{n}"))

    # 200: the password was checked and the form shown again; 429: refused unchecked.
    assert statuses(answers) == {200: LOGIN_PER_USER, 429: 50 - LOGIN_PER_USER}
    refused = next(answer for answer in answers if answer[0] == 429)
    assert refused[2] == b"Too many failed login attempts. Try again in a few minutes."
    assert 1 <= int(refused[1]["retry-after"]) <= LOGIN_WINDOW
    # The right password is not checked either, from any address, until the window ends.
    assert _login(live, form, next(pool.addresses), user, PASSWORD)[0] == 429


def test_50_concurrent_wrong_passwords_from_one_address_try_exactly_20(live, pool):
    address = next(pool.addresses)
    form = _login_form(live)
    fresh_window(LOGIN_WINDOW, 20)

    answers = burst(50, lambda n: _login(live, form, address, f"nobody{n}", "wrong"))

    assert statuses(answers) == {200: LOGIN_PER_ADDRESS, 429: 50 - LOGIN_PER_ADDRESS}
    assert _login(live, form, address, next(pool.users), PASSWORD)[0] == 429


def test_a_right_password_among_concurrent_wrong_ones_does_not_spend_the_budget(live, pool):
    user, address = next(pool.users), next(pool.addresses)
    form = _login_form(live)
    fresh_window(LOGIN_WINDOW, 20)

    answers = burst(
        LOGIN_PER_USER,
        lambda n: _login(live, form, address, user, PASSWORD if n == 0 else f"wrong-{n}"),
    )

    assert statuses(answers) == {302: 1, 200: LOGIN_PER_USER - 1}
    # The success gave its count back: one more wrong password is checked, then no more.
    assert _login(live, form, address, user, "wrong-again")[0] == 200
    assert _login(live, form, address, user, "wrong-once-more")[0] == 429
