"""Idempotency keys under concurrent clients: gunicorn (two processes, eight threads each)
on a database of its own, SQLite file or PostgreSQL as the suite runs on."""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 20
TIMEOUT = 60

SETUP = """
import django
django.setup()
from shop.api.services import api_key_create
from shop.api.models import SCOPE_NAMES
from tests.factories import CustomerFactory, ProductFactory, StoreFactory
StoreFactory()
_, raw = api_key_create(name="load", scopes=sorted(SCOPE_NAMES), rate_limit=1_000_000)
print(json.dumps({"key": raw, "customer": CustomerFactory().pk, "product": ProductFactory().pk}))
"""
COUNT = """
import django
django.setup()
from shop.models import Customer, Order
from shop.api.models import IdempotentRequest
print(json.dumps({"customers": Customer.objects.count(), "orders": Order.objects.count(),
                  "claims": IdempotentRequest.objects.count()}))
"""


def _database_url(tmp_path: Path) -> str:
    """A database of its own: a SQLite file, or a new database on the suite's PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return f"sqlite:///{tmp_path / 'live.sqlite3'}"
    import psycopg

    name = f"idem_{secrets.token_hex(4)}"
    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(scheme="postgresql")), autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return urlunsplit(parts._replace(path=f"/{name}"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Live:
    def __init__(self, env: dict, port: int):
        self.env, self.url = env, f"http://127.0.0.1:{port}"

    def run(self, code: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-c", f"import json\n{code}"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("live")
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "createcachetable"], cwd=ROOT, env=env, check=True)
    port = _free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi:application",
            "--workers=2",
            "--threads=8",
            "--worker-class=gthread",
            f"--bind=127.0.0.1:{port}",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        live = Live(env, port)
        live.setup = live.run(SETUP)
        yield live
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _together(live, path: str, bodies: list, key: str) -> list[requests.Response]:
    headers = {"Authorization": f"Bearer {live.setup['key']}", "Idempotency-Key": key}

    def send(body):
        return requests.post(f"{live.url}{path}", json=body, headers=headers, timeout=TIMEOUT)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(send, bodies))


def _kinds(responses) -> Counter:
    return Counter(
        (r.status_code, r.headers.get("Idempotent-Replayed") == "true") for r in responses
    )


def test_concurrent_posts_with_one_key_and_body_create_one_record(live):
    before = live.run(COUNT)
    body = {"email": f"{uuid.uuid4().hex}@example.com", "first_name": "A", "last_name": "B"}

    responses = _together(live, "/api/v1/customers", [body] * CLIENTS, uuid.uuid4().hex)

    kinds = _kinds(responses)
    assert kinds[(201, False)] == 1, kinds
    assert kinds[(201, True)] + kinds[(409, False)] == CLIENTS - 1, kinds
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    assert live.run(COUNT)["customers"] == before["customers"] + 1


def test_concurrent_posts_with_one_key_and_other_bodies_run_once(live):
    before = live.run(COUNT)
    bodies = [
        {"email": f"{uuid.uuid4().hex}@example.com", "first_name": "A", "last_name": "B"}
        for _ in range(CLIENTS)
    ]

    responses = _together(live, "/api/v1/customers", bodies, uuid.uuid4().hex)

    kinds = _kinds(responses)
    assert kinds[(201, False)] == 1, kinds
    assert kinds[(422, False)] + kinds[(409, False)] == CLIENTS - 1, kinds
    assert live.run(COUNT)["customers"] == before["customers"] + 1


def test_a_bulk_request_retried_concurrently_writes_its_orders_once(live):
    before = live.run(COUNT)
    record = {
        "customer": live.setup["customer"],
        "line_items": [{"product": live.setup["product"], "quantity": 1}],
    }
    body = {"records": [record] * 50}

    responses = _together(live, "/api/v1/orders/bulk", [body] * 10, uuid.uuid4().hex)

    kinds = _kinds(responses)
    assert kinds[(200, False)] == 1, kinds
    assert kinds[(200, True)] + kinds[(409, False)] == 9, kinds
    answers = {json.dumps(r.json()) for r in responses if r.status_code == 200}
    assert len(answers) == 1
    assert live.run(COUNT)["orders"] == before["orders"] + 50
