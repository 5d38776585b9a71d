"""A subscriber that hangs beside a healthy one and the push to converted.in, with the worker as
it runs in production: `manage.py db_worker` in a subprocess, the store's writes in another.

On PostgreSQL both share the test database; on SQLite (whose test database lives in memory,
out of their reach) a database file of their own. The hanging subscriber is retried at once
after each try, so one of its tries is nearly always under way, across the pumps' ends too.
"""

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection
from werkzeug import Response

from tests.processes import run_django
from tests.push.test_worker import _stop, _wait

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "cvin-push-token-0123456789"
POSTGRES = "postgres" in os.environ.get("DATABASE_URL", "")
DEADLINE = 3.0  # each try of the hanging subscriber holds its thread this long
WRITES = 16

pytestmark = pytest.mark.django_db(transaction=True)

SETUP = """
from feeds.tokens import feed_token_create
from push import webhooks
from push.tokens import push_token_store
from shop import services
from shop.models import Store

store = Store.load()
store.base_url = "https://cake-store.example.com/"
store.save()
push_token_store(token_row=feed_token_create(name="c", token={token!r}), token={token!r})
for url in ({hanging!r}, {healthy!r}):
    webhooks.webhook_subscription_create(url=url, topics=["customers/create"])
print(services.customer_create(email="first@example.com", first_name="A", last_name="B").pk)
"""
WRITE = """
import time
from shop import services

written = []
for n in range({count}):
    customer = services.customer_create(email=f"c{{n}}@example.com", first_name="A", last_name="B")
    written.append([customer.pk, time.time()])  # committed: the service is atomic
    time.sleep({every})
print(json.dumps(written))
"""


class Site:
    """The store's database as the worker and the writes reach it."""

    def __init__(self, tmp_path: Path, push_url: str):
        if POSTGRES:
            database = urlsplit(os.environ["DATABASE_URL"])
            url = urlunsplit(database._replace(path="/" + connection.settings_dict["NAME"]))
            self.sqlite = None
        else:
            self.sqlite = tmp_path / "store.sqlite3"
            url = f"sqlite:///{self.sqlite}"
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "CONVERTEDIN_WEBHOOK_URL": push_url,
            "PUSH_DEADLINE_SECONDS": str(DEADLINE),
            "PUSH_CLAIM_SECONDS": str(DEADLINE * 3),
            "PUSH_PUMP_SECONDS": "1",
            "PUSH_POLL_SECONDS": "0.05",
            "CONVERTEDIN_PUSH_RETRY_DELAYS": ",".join(["0.1"] * 50),
        }
        if self.sqlite is not None:
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "-v0"],
                cwd=ROOT,
                env=self.env,
                check=True,
                timeout=120,
            )

    def run(self, code: str) -> str:
        return run_django(code, env=self.env, timeout=120)

    def query(self, sql: str) -> list[tuple]:
        if self.sqlite is None:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()
        with sqlite3.connect(self.sqlite, timeout=20) as db:
            return db.execute(sql).fetchall()

    def worker(self) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--interval", "0.1", "--no-startup-delay"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


class Silent:
    """A target that accepts connections and never answers; notes when each try came."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hangs"
        self.tries: list[float] = []
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.tries.append(time.time())
            self.held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_a_hanging_subscriber_holds_back_neither_a_healthy_one_nor_the_push(httpserver, tmp_path):
    arrived: dict[str, dict[int, float]] = {"erp": {}, "push": {}}

    def note(kind):
        def handler(request):
            record = request.json["data"]["id"] if kind == "erp" else request.json["id"]
            arrived[kind].setdefault(record, time.time())
            return Response("ok")

        return handler

    httpserver.expect_request("/erp").respond_with_handler(note("erp"))
    httpserver.expect_request("/api/webhooks/api/customers/create").respond_with_handler(
        note("push")
    )
    silent = Silent()
    site = Site(tmp_path, httpserver.url_for("/api/webhooks/api/"))
    worker = None
    try:
        first = int(
            site.run(
                SETUP.format(token=TOKEN, hanging=silent.url, healthy=httpserver.url_for("/erp"))
            )
        )
        worker = site.worker()
        # The worker is up once the first change reached both; the hanging subscriber has had
        # its first try by then.
        _wait(lambda: first in arrived["erp"] and first in arrived["push"] and silent.tries, 60)
        written = json.loads(site.run(WRITE.format(count=WRITES, every=0.3)))
        _wait(lambda: all(pk in arrived["erp"] and pk in arrived["push"] for pk, _ in written))
        tries = len(silent.tries)
    finally:
        if worker is not None:
            _stop(worker)
        silent.close()

    span = written[-1][1] - written[0][1]
    assert tries >= span / DEADLINE  # it hung throughout the writes
    for kind in ("erp", "push"):
        waited = [arrived[kind][pk] - at for pk, at in written]
        # Held back behind a hanging try, one of them would wait up to the deadline.
        assert max(waited) < DEADLINE / 3, (kind, waited)
    hanging = site.query(
        "SELECT d.attempts, d.last_error FROM push_webhookdelivery d "
        "JOIN push_webhooksubscription s ON s.id = d.subscription_id "
        f"WHERE s.url = '{silent.url}' AND d.attempts > 0"
    )
    assert hanging
    assert all(f"took longer than {DEADLINE:g} s" in error for _, error in hanging)
    delivered = site.query(
        "SELECT count(*) FROM push_webhookdelivery d "
        "JOIN push_webhooksubscription s ON s.id = d.subscription_id "
        "WHERE s.url LIKE '%/erp' AND d.status = 'delivered' AND d.attempts = 1"
    )
    assert delivered == [(WRITES + 1,)]
