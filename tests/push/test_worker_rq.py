"""The push on the second Tasks backend: django-tasks-rq on a real Redis, real `rqworker`s.

Every process here is configured as the README's RQ recipe says, by the environment alone:
TASKS_BACKEND=rq and TASKS_REDIS_URL, then `manage.py rqworker --with-scheduler default`.
The store's writes run in subprocesses too (the suite's own process keeps the database
backend). On PostgreSQL they share the test database; on SQLite a database file of their own.
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
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.db import connection
from rq import Queue
from rq.registry import ScheduledJobRegistry
from werkzeug import Response

from tests.processes import run_django
from tests.push.test_worker import _stop, _wait

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "cvin-push-token-0123456789"
POSTGRES = "postgres" in os.environ.get("DATABASE_URL", "")
RQ_WORKER = ["manage.py", "rqworker", "--with-scheduler", "default"]

pytestmark = pytest.mark.django_db(transaction=True)

CONNECT = """
from feeds.tokens import feed_token_create
from push.tokens import push_token_store
from shop.models import Store

store = Store.load()
store.base_url = "https://cake-store.example.com/"
store.save()
push_token_store(token_row=feed_token_create(name="c", token={token!r}), token={token!r})
print("ok")
"""
CREATE = """
from shop import services

customer = services.customer_create(email={email!r}, first_name="A", last_name="B")
print(customer.pk)
"""
UPDATE = """
from feeds.builders import record_item
from shop import services
from shop.models import Customer

customer = Customer.objects.get(pk={pk})
for n in range({times}):
    customer = services.customer_update(customer=customer, first_name={name!r})
print(json.dumps(record_item("customers", customer.pk), default=str))
"""


class Site:
    """The store as the RQ recipe runs it: settings from the environment, one database."""

    def __init__(self, tmp_path: Path, redis_url: str, webhook_url: str = "http://127.0.0.1:9/"):
        if POSTGRES:
            database = urlsplit(os.environ["DATABASE_URL"])
            url = urlunsplit(database._replace(path="/" + connection.settings_dict["NAME"]))
            self.sqlite = None
        else:
            self.sqlite = tmp_path / "store.sqlite3"
            url = f"sqlite:///{self.sqlite}"
        self.redis_url = redis_url
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "TASKS_BACKEND": "rq",
            "TASKS_REDIS_URL": redis_url,
            "CONVERTEDIN_WEBHOOK_URL": webhook_url,
            "CONVERTEDIN_PUSH_RETRY_DELAYS": "3,3",
            "PUSH_CLAIM_SECONDS": "2",
            "PUSH_PUMP_SECONDS": "1",
            "PUSH_POLL_SECONDS": "0.05",
        }
        self.env.pop("REDIS_URL", None)
        if self.sqlite is not None:
            self.manage("migrate", "-v0")

    def manage(self, *args: str, timeout: float = 120) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
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

    def statuses(self) -> list[str]:
        return [row[0] for row in self.query("SELECT status FROM push_pushevent ORDER BY id")]

    def worker(self) -> subprocess.Popen:
        # A session of its own: the worker, its scheduler and its work horse stop together.
        return subprocess.Popen(
            [sys.executable, *RQ_WORKER],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def pumps_waiting(self) -> int:
        """Pump tasks queued or scheduled in Redis (not those running)."""
        queue = Queue("default", connection=redis.Redis.from_url(self.redis_url))
        jobs = [queue.fetch_job(i) for i in queue.job_ids]
        jobs += [queue.fetch_job(i) for i in ScheduledJobRegistry(queue=queue).get_job_ids()]
        return sum(1 for job in jobs if job is not None and job.func_name == "push.tasks.pump")


def _stop_group(*workers: subprocess.Popen) -> None:
    """Kill each worker with its scheduler and its work horse (which RQ puts in a process group
    of its own), and wait until they are gone."""
    children: set[int] = set()
    for worker in workers:
        if worker.poll() is None:
            children |= _children(worker.pid)
            os.killpg(worker.pid, signal.SIGKILL)
    for child in children:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _stop(*workers)
    _wait(lambda: not any(_alive(child) for child in children))


def _stat(pid: int) -> list[str]:
    """State, parent, process group... of a process (proc(5)), empty once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return []
    return stat.rsplit(")", 1)[1].split()


def _alive(pid: int) -> bool:
    return _stat(pid)[:1] not in ([], ["Z"])


def _children(pid: int) -> set[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as file:
        return {int(child) for child in file.read().split()}


def test_rqworker_alone_delivers_every_change_with_one_pump_chain(httpserver, tmp_path, redis_url):
    bodies = []

    def handler(request):
        # The first push fails: its retry, 3 s later, is sent by a pump RQ's scheduler started.
        bodies.append(request.json)
        status = 503 if len(bodies) == 1 else 200
        return Response("busy" if status == 503 else "ok", status=status)

    for action in ("create", "update"):
        httpserver.expect_request(f"/api/webhooks/api/customers/{action}").respond_with_handler(
            handler
        )
    site = Site(tmp_path, redis_url, httpserver.url_for("/api/webhooks/api/"))
    site.run(CONNECT.format(token=TOKEN))
    worker = site.worker()
    try:
        pk = int(site.run(CREATE.format(email="a@example.com")))
        _wait(lambda: site.statuses() == ["delivered"], seconds=60)
        assert len(bodies) == 2
        site.run(UPDATE.format(pk=pk, times=5, name="Again"))
        _wait(lambda: set(site.statuses()) == {"delivered"}, seconds=60)
        waiting = []
        for _ in range(30):
            waiting.append(site.pumps_waiting())
            time.sleep(0.1)
    finally:
        _stop_group(worker)
    assert max(waiting) == 1  # one chain, whatever the writes asked for
    assert bodies[-1]["first_name"] == "Again"


def test_a_work_horse_killed_mid_delivery_loses_nothing(httpserver, tmp_path, redis_url):
    arrived = threading.Event()
    bodies = []

    def slow(request):
        bodies.append(request.json)
        arrived.set()
        time.sleep(0.5)  # within the read timeout (config/settings/test.py)
        return Response("ok")

    for action in ("create", "update"):
        httpserver.expect_request(f"/api/webhooks/api/customers/{action}").respond_with_handler(
            slow
        )
    site = Site(tmp_path, redis_url, httpserver.url_for("/api/webhooks/api/"))
    site.run(CONNECT.format(token=TOKEN))
    worker = site.worker()
    try:
        pk = int(site.run(CREATE.format(email="a@example.com")))
        assert arrived.wait(60)
        # The work horse running the pump: RQ forks it into a process group of its own.
        [horse] = [pid for pid in _children(worker.pid) if _stat(pid)[2] == str(pid)]
        os.kill(horse, signal.SIGKILL)
        assert site.statuses() == ["sending"]
        item = json.loads(site.run(UPDATE.format(pk=pk, times=1, name="After")))
        _wait(lambda: set(site.statuses()) == {"delivered"}, seconds=60)
    finally:
        _stop_group(worker)
    assert bodies[-1]["id"] == pk
    assert json.loads(json.dumps(bodies[-1], default=str)) == item
    assert bodies[-1]["first_name"] == "After"
