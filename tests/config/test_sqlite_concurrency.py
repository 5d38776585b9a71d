"""SQLite, the embedded default, runs in WAL mode with a busy timeout: concurrent writers
queue instead of failing."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import django, os, sys
django.setup()
from decimal import Decimal
from shop import services
from shop.models import Product
worker = int(sys.argv[1])
product = Product.objects.get(handle="shared")
for n in range(20):
    customer = services.customer_create(
        email=f"w{worker}-{n}@example.com", first_name="W", last_name=str(worker),
        phone="+201000000000",
    )
    services.order_create(customer=customer, line_items=[{"product": product, "quantity": 1}])
"""

CHECK = """
import django
django.setup()
from django.db import connection
from shop.models import Customer, Order
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    mode = cursor.fetchone()[0]
    cursor.execute("PRAGMA busy_timeout")
    timeout = cursor.fetchone()[0]
print(mode, timeout, Customer.objects.count(), Order.objects.count())
"""

SETUP = """
import django
django.setup()
from decimal import Decimal
from shop import services
services.product_create(title="Shared", handle="shared", price=Decimal("10.00"))
"""


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    return env


def test_concurrent_writers_on_sqlite_all_succeed(tmp_path):
    env = _env(tmp_path)
    run = {"cwd": ROOT, "env": env, "capture_output": True, "text": True, "timeout": 300}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, **run)
    subprocess.run([sys.executable, "-c", SETUP], check=True, **run)

    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(worker)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(4)
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err

    out = subprocess.run([sys.executable, "-c", CHECK], check=True, **run).stdout.split()
    assert out == ["wal", "20000", "80", "80"]
