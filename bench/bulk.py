"""`python -m bench.bulk --orders N`: orders a second through POST /api/v1/orders/bulk (batches
of 1,000) against the single POST /api/v1/orders, in one process through Django's test client.

Runs on a fresh database: a SQLite file in .bench/ by default, or, when DATABASE_URL names a
PostgreSQL server (`bin/with-postgres python -m bench.bulk`), a new database on it.
"""

import argparse
import logging
import os
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .databases import SETTINGS, WORK, manage


def fresh_database() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        name = f"bench_bulk_{secrets.token_hex(3)}"
        parts = urlsplit(url)
        server = urlunsplit(parts._replace(scheme="postgresql"))
        with psycopg.connect(server, autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return urlunsplit(parts._replace(path=f"/{name}"))
    WORK.mkdir(exist_ok=True)
    path = WORK / "bulk.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def order(customer: int, products: list[int], n: int, reference: str | None) -> dict:
    record = {
        "customer": customer,
        "financial_status": "successful",
        "line_items": [
            {"product": products[(n + k) % len(products)], "quantity": 1 + k} for k in range(3)
        ],
    }
    if reference:
        record["reference"] = reference
    return record


def api_store():
    """Django set up on a fresh, migrated database holding a store, 200 customers and 50
    products; return an API client holding a key of every scope, and the customers' and
    products' ids."""
    url = fresh_database()
    manage(url, "migrate", "--noinput", "-v0")
    manage(url, "createcachetable")
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    import django

    django.setup()
    logging.getLogger("request").setLevel(logging.WARNING)
    from rest_framework.test import APIClient

    from shop.api.models import SCOPE_NAMES
    from shop.api.services import api_key_create
    from tests.factories import CustomerFactory, ProductFactory, StoreFactory

    StoreFactory()
    customers = [c.pk for c in CustomerFactory.create_batch(200)]
    products = [p.pk for p in ProductFactory.create_batch(50)]
    _, raw = api_key_create(name="bench", scopes=sorted(SCOPE_NAMES), rate_limit=10**9)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client, customers, products


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bulk", description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000, help="orders through the bulk")
    parser.add_argument("--single", type=int, default=300, help="orders through single POSTs")
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()

    client, customers, products = api_store()
    from django.db import connection

    from push.models import PushEvent
    from shop.models import Order

    from .databases import server_version

    print(f"{connection.vendor} {server_version()}, load average {os.getloadavg()[0]:.2f}")

    started = time.perf_counter()
    for n in range(args.single):
        body = order(customers[n % len(customers)], products, n, f"S{n}")
        response = client.post("/api/v1/orders", body, format="json")
        assert response.status_code == 201, response.content
    single = args.single / (time.perf_counter() - started)
    print(f"  single POST: {args.single:,} orders, {single:,.0f} orders/s", flush=True)

    started = time.perf_counter()
    done = 0
    while done < args.orders:
        size = min(args.batch, args.orders - done)
        records = [
            order(customers[(done + k) % len(customers)], products, done + k, f"B{done + k}")
            for k in range(size)
        ]
        response = client.post("/api/v1/orders/bulk", {"records": records}, format="json")
        assert response.status_code == 200, response.content[:500]
        statuses = {r["status"] for r in response.json()["results"]}
        assert statuses == {"created"}, response.content[:500]
        done += size
    bulk = args.orders / (time.perf_counter() - started)
    print(
        f"  bulk POST:   {args.orders:,} orders in batches of {args.batch:,}, "
        f"{bulk:,.0f} orders/s ({bulk / single:.0f}x the single POST)",
        flush=True,
    )
    assert Order.objects.count() == args.single + args.orders
    print(f"  outbox rows: {PushEvent.objects.count():,}", flush=True)
    print(f"  load average {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
