"""`migrate` alone sets a new database up: the app then answers feeds and the API, on SQLite
and, when the suite runs under bin/with-postgres, on a second database of that server."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]

REQUESTS = """
import json, sys
import django
django.setup()
from django.test import Client
client = Client()
feed = client.post("/convertedin/customers", {"token": "wrong-token-0123456789"})
api = client.post(
    "/api/v1/customers",
    {"email": "nour@example.com", "first_name": "Nour", "last_name": "Hassan"},
    content_type="application/json",
    HTTP_AUTHORIZATION=f"Bearer {sys.argv[1]}",
)
print(json.dumps({"feed": feed.status_code, "api": api.status_code}))
"""

DROP_CACHE_TABLE = """
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("DROP TABLE cache_table")
"""


@pytest.fixture
def postgres_database_url():
    """A new, empty database on the server the suite runs on, dropped afterwards."""
    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith(("postgres://", "postgresql://")):
        pytest.skip("the suite runs on SQLite; bin/with-postgres runs it on PostgreSQL")
    import psycopg
    from psycopg import sql

    name = f"fresh_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    return request.getfixturevalue("postgres_database_url")


def _runner(database_url):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="config.settings.test")

    def run(*args):
        return subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    return run


def test_migrate_alone_sets_up_a_database_the_app_serves(fresh_database_url):
    run = _runner(fresh_database_url)
    migrated = run("manage.py", "migrate", "--noinput", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    checked = run("manage.py", "check", "--database", "default")
    assert checked.returncode == 0, checked.stderr
    created = run("manage.py", "api_key", "create", "--name", "x", "--scopes", "customers.write")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]

    served = run("-c", REQUESTS, key)

    assert served.returncode == 0, served.stderr
    assert json.loads(served.stdout.strip().splitlines()[-1]) == {"feed": 401, "api": 201}


def test_a_missing_cache_table_stops_the_start_up_check(fresh_database_url):
    run = _runner(fresh_database_url)
    assert run("manage.py", "migrate", "--noinput", "-v0").returncode == 0
    dropped = run("-c", DROP_CACHE_TABLE)
    assert dropped.returncode == 0, dropped.stderr

    refused = run("manage.py", "check", "--database", "default")

    assert refused.returncode != 0
    assert "config.E003" in refused.stderr
    assert "createcachetable" in refused.stderr
    assert run("manage.py", "createcachetable").returncode == 0
    assert run("manage.py", "check", "--database", "default").returncode == 0
