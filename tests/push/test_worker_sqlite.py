"""The worker on SQLite: one `manage.py db_worker` subprocess, killed and restarted.

The test database on SQLite lives in memory, out of the worker's reach, so these tests keep
the store in a SQLite file of their own and write to it through subprocesses, as a
single-server install would.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from werkzeug import Response

from tests.processes import run_django
from tests.push.test_worker import _stop, _wait

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "cvin-push-token-0123456789"

pytestmark = pytest.mark.skipif(
    "postgres" in os.environ.get("DATABASE_URL", ""),
    reason="on PostgreSQL, tests/push/test_worker.py runs the workers against the test database",
)

SETUP = """
from feeds.tokens import feed_token_create
from push.tokens import push_token_store
from shop import services
from shop.models import Store

store = Store.load()
store.base_url = "https://cake-store.example.com/"
store.save()
push_token_store(token_row=feed_token_create(name="c", token={token!r}), token={token!r})
customer = services.customer_create(email="a@example.com", first_name="A", last_name="B")
print(customer.pk)
"""
UPDATE = """
from feeds.builders import record_item
from shop import services
from shop.models import Customer

customer = services.customer_update(customer=Customer.objects.get(pk={pk}), first_name="After")
print(json.dumps(record_item("customers", customer.pk), default=str))
"""


class Store:
    """A store in a SQLite file, written to by subprocesses."""

    def __init__(self, path: Path, url: str):
        self.path = path
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{path}",
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "CONVERTEDIN_WEBHOOK_URL": url,
            "PUSH_CLAIM_SECONDS": "2",
            "PUSH_PUMP_SECONDS": "1",
            "PUSH_POLL_SECONDS": "0.05",
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=self.env, check=True
        )

    def run(self, code: str) -> str:
        return run_django(code, env=self.env)

    def statuses(self) -> list[str]:
        with sqlite3.connect(self.path, timeout=20) as db:
            return [row[0] for row in db.execute("SELECT status FROM push_pushevent")]

    def worker(self) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--interval", "0.1", "--no-startup-delay"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def test_a_worker_killed_mid_delivery_on_sqlite_loses_nothing(httpserver, tmp_path):
    arrived = threading.Event()
    bodies = []

    def slow(request):
        bodies.append(request.json)
        arrived.set()
        time.sleep(0.5)
        return Response("ok")

    for action in ("create", "update"):
        httpserver.expect_request(f"/api/webhooks/api/customers/{action}").respond_with_handler(
            slow
        )
    store = Store(tmp_path / "store.sqlite3", httpserver.url_for("/api/webhooks/api/"))
    pk = int(store.run(SETUP.format(token=TOKEN)))
    workers = [store.worker()]
    try:
        assert arrived.wait(60)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        assert store.statuses() == ["sending"]
        item = json.loads(store.run(UPDATE.format(pk=pk)))
        workers.append(store.worker())
        _wait(lambda: set(store.statuses()) == {"delivered"}, seconds=60)
    finally:
        _stop(*workers)
    assert len(store.statuses()) == 2
    assert bodies[-1]["id"] == pk
    assert bodies[-1]["first_name"] == "After"
    assert json.loads(json.dumps(bodies[-1], default=str)) == item
