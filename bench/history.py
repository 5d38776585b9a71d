"""`python -m bench.history`: what recording the history (shop/history.py) costs a write.

Through Django's test client in one process, on a fresh database (a SQLite file in .bench/,
or a new database on the PostgreSQL server DATABASE_URL names): a single PATCH of a
customer, a single POST of an order, and a bulk POST of 1,000 orders, each timed with the
history recorded and without (`history.not_recorded()`, for this baseline only), in
alternating rounds so that both see the same database. Prints each median and the ratio.
"""

import argparse
import statistics
import time
from contextlib import nullcontext

from .bulk import api_store, order


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__)
    parser.add_argument("--rounds", type=int, default=6, help="rounds of each kind, on and off")
    parser.add_argument("--singles", type=int, default=50, help="single writes a round")
    parser.add_argument("--batch", type=int, default=1000, help="orders in a bulk POST")
    args = parser.parse_args()

    client, customers, products = api_store()
    from django.db import connection

    from shop import history
    from shop.models import HistoryEntry

    from .databases import server_version

    print(f"{connection.vendor} {server_version()}: the history's cost per write", flush=True)
    serial = iter(range(10**9))

    def patch_customers(count: int) -> None:
        for _ in range(count):
            n = next(serial)
            body = {"first_name": f"Name {n}"}
            response = client.patch(
                f"/api/v1/customers/{customers[n % len(customers)]}", body, format="json"
            )
            assert response.status_code == 200, response.content

    def post_orders(count: int) -> None:
        for _ in range(count):
            n = next(serial)
            body = order(customers[n % len(customers)], products, n, f"S{n}")
            response = client.post("/api/v1/orders", body, format="json")
            assert response.status_code == 201, response.content

    def bulk_orders(count: int) -> None:
        start = next(serial) * 10_000
        records = [
            order(customers[k % len(customers)], products, k, f"B{start + k}") for k in range(count)
        ]
        response = client.post("/api/v1/orders/bulk", {"records": records}, format="json")
        assert response.status_code == 200, response.content[:500]

    kinds = [
        ("single PATCH of a customer", patch_customers, args.singles, "write"),
        ("single POST of an order", post_orders, args.singles, "write"),
        (f"bulk POST of {args.batch:,} orders", bulk_orders, args.batch, "batch"),
    ]
    for name, run, count, unit in kinds:
        run(min(count, 20))  # warm up
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.rounds):
            for recorded in (True, False):
                with nullcontext() if recorded else history.not_recorded():
                    started = time.perf_counter()
                    run(count)
                    times[recorded].append(time.perf_counter() - started)
        divisor = count if unit == "write" else 1
        on = statistics.median(t / divisor * 1000 for t in times[True])
        off = statistics.median(t / divisor * 1000 for t in times[False])
        print(
            f"  {name}: {on:,.2f} ms a {unit} with history, {off:,.2f} ms without: "
            f"x{on / off:.3f} ({(on - off) / off:+.1%})",
            flush=True,
        )
    print(f"  history entries written: {HistoryEntry.objects.count():,}", flush=True)


if __name__ == "__main__":
    main()
