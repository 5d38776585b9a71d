"""The worker as it runs in production: `manage.py db_worker` subprocesses on PostgreSQL."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection
from werkzeug import Response

from feeds.builders import record_item
from feeds.tokens import feed_token_create
from push.models import PushEvent
from push.tokens import push_token_store
from shop import services
from tests.factories import StoreFactory

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "cvin-push-token-0123456789"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "postgres" not in os.environ.get("DATABASE_URL", ""),
        reason="worker subprocesses share the test database on PostgreSQL only",
    ),
]


def _worker(url: str) -> subprocess.Popen:
    database = urlsplit(os.environ["DATABASE_URL"])
    test_db = urlunsplit(database._replace(path="/" + connection.settings_dict["NAME"]))
    env = {
        **os.environ,
        "DATABASE_URL": test_db,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "CONVERTEDIN_WEBHOOK_URL": url,
        "PUSH_CLAIM_SECONDS": "2",
        "PUSH_PUMP_SECONDS": "1",
        "PUSH_POLL_SECONDS": "0.05",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--interval", "0.1", "--no-startup-delay"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.fixture
def connected(httpserver):
    store = StoreFactory()
    store.base_url = "https://cake-store.example.com/"
    store.save()
    push_token_store(token_row=feed_token_create(name="c", token=TOKEN), token=TOKEN)
    return httpserver.url_for("/api/webhooks/api/")


def _stop(*workers: subprocess.Popen) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGKILL)
        worker.wait()


def test_a_worker_killed_mid_delivery_loses_nothing(httpserver, connected):
    arrived = threading.Event()
    bodies = []

    def slow(request):
        bodies.append(request.json)
        arrived.set()
        time.sleep(0.5)
        return Response("ok")

    httpserver.expect_request("/api/webhooks/api/customers/create").respond_with_handler(slow)
    customer = services.customer_create(email="a@example.com", first_name="A", last_name="B")
    first = _worker(connected)
    try:
        assert arrived.wait(30)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert PushEvent.objects.get().status == PushEvent.Status.SENDING
        services.customer_update(customer=customer, first_name="After")
        second = _worker(connected)
        _wait(lambda: not PushEvent.objects.exclude(status="delivered").exists())
    finally:
        _stop(first, *([second] if "second" in locals() else []))
    assert bodies[-1] == record_item("customers", customer.pk)
    assert bodies[-1]["first_name"] == "After"


def test_two_workers_never_send_the_same_record_at_once(httpserver, connected):
    lock = threading.Lock()
    in_flight: set[int] = set()
    overlaps = []
    seen = []

    def receive(request):
        record = request.json["id"]
        with lock:
            if record in in_flight:
                overlaps.append(record)
            in_flight.add(record)
        time.sleep(0.005)
        with lock:
            in_flight.discard(record)
            seen.append(record)
        return Response("ok")

    for action in ("create", "update"):
        httpserver.expect_request(f"/api/webhooks/api/customers/{action}").respond_with_handler(
            receive
        )
    customers = [
        services.customer_create(email=f"c{n}@example.com", first_name="A", last_name="B")
        for n in range(100)
    ]
    for customer in customers[::3]:
        services.customer_update(customer=customer, first_name="Again")
    workers = [_worker(connected), _worker(connected)]
    try:
        _wait(lambda: not PushEvent.objects.exclude(status="delivered").exists(), 60)
    finally:
        _stop(*workers)
    assert overlaps == []
    assert sorted(set(seen)) == sorted(c.pk for c in customers)
