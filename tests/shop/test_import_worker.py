"""A background import as it runs in production: `manage.py db_worker` subprocesses, the first
killed (SIGKILL) mid-write, two more carrying the import on from its last batch written.

On PostgreSQL the workers share the test database; on SQLite (whose test database is in
memory) the store lives in a SQLite file of its own, written through subprocesses.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from tests.processes import run_django
from tests.push.test_worker import _stop, _wait

ROOT = Path(__file__).resolve().parents[2]
# Marked, not only asked for in `database`: the test database is then set up before the
# fixture reads its name (asked for from inside a fixture alone, it was not yet on
# PostgreSQL, and the workers wrote into the server's default database).
pytestmark = pytest.mark.django_db(transaction=True)
ORDERS = 6_000  # the write takes a few seconds: long enough to be killed midway
BATCH = 100

SETUP = """
from django.core.files import File
from shop import services
from shop.models import Store
from shop.tasks import import_start

store = Store.load()
for n in range(20):
    services.customer_create(
        email=f"c{{n}}@example.com", first_name="C", last_name=str(n), phone=f"+2010000000{{n:02}}"
    )
for n in range(5):
    services.product_create(title=f"Product {{n}}", handle=f"p{{n}}", price="10.00")
with open({path!r}, "rb") as upload:
    run = import_start(
        upload=File(upload), model="shop.Order", file_name="orders.csv", file_format="csv",
        user=None,
    )
print(run.pk)
"""
CONFIRM = """
from shop.models import ImportRun
from shop.tasks import import_confirm

print(import_confirm(run=ImportRun.objects.get()))
"""
# A second task for the same run, so that two workers carry it on at once.
ENQUEUE = """
from shop.models import ImportRun
from shop.tasks import import_advance

print(import_advance.enqueue(ImportRun.objects.get().pk).id)
"""
FINGERPRINT = """
from django.db.models import Sum
from shop.models import LineItem, Order, OrderFigures

orders = {
    order.reference: [
        order.customer.email, str(order.subtotal_price), str(order.total_price),
        [[i.product.handle, i.quantity, str(i.price)] for i in order.line_items.all()],
    ]
    for order in Order.objects.select_related("customer").prefetch_related("line_items__product")
}
figures = OrderFigures.objects.aggregate(orders=Sum("orders"), revenue=Sum("revenue_cents"))
print(json.dumps({
    "count": Order.objects.count(), "items": LineItem.objects.count(), "orders": orders,
    "figures": figures,
}))
"""


def _row(n: int) -> list[str]:
    items = f"p{n % 5} x {1 + n % 3} @ 12.50; p{(n + 1) % 5} x 1"
    day = 1 + n % 28
    return [f"#{n}", f"c{n % 20}@example.com", f"2025-03-{day:02} 10:00:00", "successful", items]


def _expected() -> dict:
    orders = {}
    for n in range(1, ORDERS + 1):
        subtotal = (1 + n % 3) * 12.5 + 10
        orders[f"#{n}"] = [
            f"c{n % 20}@example.com",
            f"{subtotal:.2f}",
            f"{subtotal:.2f}",
            [[f"p{n % 5}", 1 + n % 3, "12.50"], [f"p{(n + 1) % 5}", 1, "10.00"]],
        ]
    revenue = round(sum(float(o[2]) for o in orders.values()) * 100)
    return {
        "count": ORDERS,
        "items": 2 * ORDERS,
        "orders": orders,
        "figures": {"orders": ORDERS, "revenue": revenue},
    }


class Database:
    """The database the workers write to, and what the test reads of the run there."""

    def __init__(self, url: str, tmp_path: Path, sqlite_path: Path | None = None):
        self.sqlite_path = sqlite_path
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "IMPORT_DIR": str(tmp_path / "imports"),
            "IMPORT_BATCH_ROWS": str(BATCH),
            "PUSH_PUMP_SECONDS": "1",
        }

    def run(self, code: str) -> str:
        return run_django(code, env=self.env, timeout=300)

    def state(self) -> tuple[str, int, int]:
        sql = "SELECT state, rows_written, (SELECT COUNT(*) FROM shop_order) FROM shop_importrun"
        if self.sqlite_path is None:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchone()
        with sqlite3.connect(self.sqlite_path, timeout=20) as db:
            return db.execute(sql).fetchone()

    def worker(self) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--interval", "0.1", "--no-startup-delay"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


@pytest.fixture
def database(request, tmp_path):
    if "postgres" in os.environ.get("DATABASE_URL", ""):
        request.getfixturevalue("transactional_db")
        url = urlsplit(os.environ["DATABASE_URL"])
        test_db = urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"]))
        return Database(test_db, tmp_path)
    path = tmp_path / "store.sqlite3"
    database = Database(f"sqlite:///{path}", tmp_path, sqlite_path=path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=database.env, check=True
    )
    return database


def test_a_worker_killed_mid_import_leaves_the_orders_of_an_uninterrupted_import(
    database, tmp_path
):
    path = tmp_path / "orders.csv"
    lines = ["reference,customer_email,ordered_at,financial_status,line_items"]
    lines += [",".join(f'"{cell}"' for cell in _row(n)) for n in range(1, ORDERS + 1)]
    path.write_text("\n".join(lines) + "\n")
    database.run(SETUP.format(path=str(path)))
    workers = [database.worker()]
    try:
        _wait(lambda: database.state()[0] == "checked", 180)
        assert database.run(CONFIRM) == "True"
        _wait(lambda: database.state()[1] >= 3 * BATCH, 180)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        state, written, orders = database.state()
        # Killed mid-import: exactly the batches written are in, no part of the next one.
        assert state == "writing"
        assert 3 * BATCH <= written < ORDERS
        assert orders == written
        # Two workers from here: the killed task's successor and one more task share the
        # remaining batches, each written once.
        database.run(ENQUEUE)
        workers += [database.worker(), database.worker()]
        _wait(lambda: database.state()[0] == "done", 300)
    finally:
        _stop(*workers)

    assert database.state() == ("done", ORDERS, ORDERS)
    assert json.loads(database.run(FINGERPRINT)) == _expected()
