"""On SQLite, an erased customer's values are gone from the database file's bytes too: the
app's connections zero what a write removes (PRAGMA secure_delete, which Debian's SQLite also
has on by default) and the erasure empties the write-ahead log into the file.

The test database on SQLite lives in memory, so this store is a SQLite file of its own, written
by subprocesses as a single-server install would be, and erased with the command line's door.
"""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import run_django

ROOT = Path(__file__).resolve().parents[2]
VALUES = [
    "Ghufran",
    "Sabbaghi",
    "ghufran.sabbaghi@example.net",
    "+201234509876",
    "+201098712345",
    "ghufran.orders@example.org",
]
# A first name the customer had before: secure_delete zeroed it when it was changed.
FORMER = "غفران"

pytestmark = pytest.mark.skipif(
    "postgres" in os.environ.get("DATABASE_URL", ""),
    reason="the file's bytes are SQLite's; on PostgreSQL the big test reads pg_dump",
)

SEED = """
from decimal import Decimal
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from shop import services
from shop.api.models import IdempotentRequest

customer = services.customer_create(
    email="ghufran.sabbaghi@example.net", first_name="Ghufran", last_name="Sabbaghi",
    phone="+201234509876",
)
product = services.product_create(title="Lamp", handle="lamp", price=Decimal("10.00"))
orders = [
    services.order_create(customer=customer, line_items=[{{"product": product, "quantity": n}}])
    for n in (1, 2)
]
services.order_update(
    order=orders[1], contact_email="ghufran.orders@example.org", phone="+201098712345",
    customer_locale="ar",
)
# A first name changed back and forth leaves older row versions behind.
for name in ("غفران", "Ghufran"):
    services.customer_update(customer=customer, first_name=name)
user = User.objects.create_superuser("boss", "boss@store.example.com", "pw")
LogEntry.objects.log_actions(user.pk, [customer], CHANGE, change_message="Was Ghufran Sabbaghi")
IdempotentRequest.objects.create(
    principal="key:1", key="k", fingerprint="f", body='{{"email":"ghufran.sabbaghi@example.net"}}'
)
print(customer.pk)
"""


def file_bytes(path: Path) -> bytes:
    """The database file and whatever its write-ahead log holds."""
    wal = Path(f"{path}-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def found(data: bytes) -> list[str]:
    return [value for value in [*VALUES, FORMER] if value.encode() in data]


def test_the_database_file_keeps_no_erased_value(tmp_path):
    path = tmp_path / "store.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{path}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300
    )
    customer_id = run_django(SEED.format(), env=env, timeout=120)
    assert found(file_bytes(path)) == VALUES  # the search finds them while they are there

    # A connection left open, as a running web server's: the erasing process is then not the
    # last to close the database, which would have emptied the write-ahead log anyway.
    server = sqlite3.connect(path)
    server.execute("SELECT COUNT(*) FROM shop_customer").fetchall()
    erased = subprocess.run(
        [sys.executable, "manage.py", "erase_customer", customer_id],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert f"Customer #{customer_id} erased, with 2 order(s)" in erased.stdout
    assert found(file_bytes(path)) == []
    server.close()
    assert run_django("from shop.models import Order; print(Order.objects.count())", env=env) == "2"
