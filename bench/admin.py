"""`python -m bench.admin`: the store admin's pages on the database of DATABASE_URL.

Each page through Django's WSGI handler (test client, logged in as a superuser): the median of
--repeat runs after a warm-up, its query count, and the plans of the order list's reads.
Prints JSON (or writes it to --out); bench/__main__.py --admin runs it per database and
render_markdown() turns the results into a section of docs/benchmarks.md.
"""

import argparse
import json
import statistics
import time
from urllib.parse import quote


def _spaced(phone: str) -> str:
    """A phone number as someone might type it: "+20 100 123 4567"."""
    return f"{phone[:3]} {phone[3:6]} {phone[6:9]} {phone[9:]}"


def _pages(order_id: int, email: str, customer, customers: int) -> list[tuple[str, str]]:
    first, last = customer.first_name, customer.last_name
    deep = min(2000, max(1, customers // 50))
    return [
        ("dashboard", "/admin/"),
        ("order list", "/admin/shop/order/"),
        ("order list, page 5,000", "/admin/shop/order/?p=5000"),
        ("orders, successful", "/admin/shop/order/?financial_status__exact=successful"),
        ("orders, search email", f"/admin/shop/order/?q={email}"),
        ("orders, search number", f"/admin/shop/order/?q={order_id}"),
        ("orders, a year", "/admin/shop/order/?ordered_at__year=2025"),
        ("order change page", f"/admin/shop/order/{order_id}/change/"),
        ("order history page", f"/admin/shop/order/{order_id}/history/"),
        ("customer list", "/admin/shop/customer/"),
        (f"customer list, page {deep:,}", f"/admin/shop/customer/?p={deep}"),
        ("customers, search name", f"/admin/shop/customer/?q={first}"),
        ("customers, search name start", f"/admin/shop/customer/?q={first[:3].lower()}"),
        (
            "customers, search first and last name",
            f"/admin/shop/customer/?q={quote(f'{first} {last[:3]}')}",
        ),
        ("customers, search email", f"/admin/shop/customer/?q={quote(customer.email)}"),
        ("customers, search phone", f"/admin/shop/customer/?q={quote(_spaced(customer.phone))}"),
        ("customers, marketing", "/admin/shop/customer/?accepts_marketing__exact=1"),
        ("customer history page", f"/admin/shop/customer/{customer.pk}/history/"),
        ("quality report", "/admin/shop/store/quality/"),
    ]


def _plans(order_id: int, email: str) -> dict[str, str]:
    from django.db import connection

    from backoffice import admin_lists
    from shop.models import Order

    def explain(sql: str, params=()) -> str:
        with connection.cursor() as cursor:
            prefix = "EXPLAIN QUERY PLAN" if connection.vendor == "sqlite" else "EXPLAIN"
            cursor.execute(f"{prefix} {sql}", params)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())

    orders = Order.objects.all()
    qn = connection.ops.quote_name
    plans = {}
    for term in (str(order_id), email, "+20 100 000 0001"):
        sql, params = admin_lists.order_search(orders, term).query.sql_with_params()
        plans[f"search {term!r}"] = explain(sql, params)
    column = qn("currency")
    plans["currencies in use (loose index scan)"] = explain(
        f"WITH RECURSIVE used (value) AS (SELECT MIN({column}) FROM shop_order UNION ALL "
        f"SELECT (SELECT MIN({column}) FROM shop_order WHERE {column} > used.value) "
        f"FROM used WHERE used.value IS NOT NULL) SELECT value FROM used"
    )
    last = orders.alive().order_by("-ordered_at").values("ordered_at")[:1]
    sql, params = last.query.sql_with_params()
    plans["last order date (date drill-down)"] = explain(sql, params)
    return plans


def _customer_plans(user, urls: dict[str, str]) -> dict[str, str]:
    """The plans of the customer list's page of rows for each URL, as its changelist builds it."""
    from django.contrib import admin
    from django.db import connection
    from django.test import RequestFactory

    from shop.models import Customer

    def explain(sql: str, params=()) -> str:
        with connection.cursor() as cursor:
            prefix = "EXPLAIN QUERY PLAN" if connection.vendor == "sqlite" else "EXPLAIN"
            cursor.execute(f"{prefix} {sql}", params)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())

    model_admin = admin.site.get_model_admin(Customer)
    plans = {}
    for name, url in urls.items():
        request = RequestFactory().get(url)
        request.user = user
        changelist = model_admin.get_changelist_instance(request)
        rows = changelist.queryset[: changelist.list_per_page]
        sql, params = rows.query.sql_with_params()
        plans[f"{name}: the page's rows"] = explain(sql, params)
        sql, params = changelist.queryset.order_by().query.sql_with_params()
        plans[f"{name}: the count"] = explain(f"SELECT COUNT(*) FROM ({sql}) counted", params)
    return plans


def measure(repeat: int, only: str = "") -> dict:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from shop import quality
    from shop.models import Customer, Order

    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    order = Order.objects.order_by("-id").select_related("customer").first()
    customer = Customer.objects.exclude(phone="").order_by("id").first()
    if order is None or customer is None:
        raise SystemExit("bench.admin: seed the database first (manage.py seed_demo)")
    # The quality page shows the worker's last run: count one, as the worker would, and time it.
    started = time.perf_counter()
    quality.quality_run_compute()
    quality_count_ms = (time.perf_counter() - started) * 1000
    rows = []
    pages = [
        (n, u)
        for n, u in _pages(order.pk, order.customer.email, customer, Customer.objects.count())
        if only in n
    ]
    for name, url in pages:
        client.get(url)
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        rows.append(
            {
                "page": name,
                "url": url,
                "status": response.status_code,
                "median_ms": statistics.median(timings),
                "queries": len(queries),
                "sql_ms": sum(float(q["time"]) for q in queries.captured_queries) * 1000,
            }
        )
    return {
        "vendor": connection.vendor,
        "orders": Order.objects.count(),
        "repeat": repeat,
        "quality_count_ms": quality_count_ms,
        "pages": rows,
        "plans": {
            **_plans(order.pk, order.customer.email),
            **_customer_plans(user, {n: u for n, u in pages if n.startswith("customer")}),
        },
    }


NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def render_markdown(results: list[dict], *, command: str) -> str:
    """Return the admin section of docs/benchmarks.md."""
    out = [
        "## Store admin pages",
        "",
        f"Produced by `{command}`. Each page through Django's WSGI handler (test client, a",
        "superuser), median of the runs after a warm-up; queries (and their time) counted on one",
        "more run.",
        "Goal: every page under 300 ms at 1,000,000 orders.",
        "",
    ]
    for result in results:
        out += [
            f"### {NAMES.get(result['vendor'], result['vendor'])}, "
            f"{result['orders']:,} orders (median of {result['repeat']})",
            "",
            "| page | URL | ms | of which SQL | queries | status |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for row in result["pages"]:
            out.append(
                f"| {row['page']} | `{row['url']}` | {row['median_ms']:.0f} "
                f"| {row.get('sql_ms', 0):.0f} | {row['queries']} | {row['status']} |"
            )
        out.append("")
        if "quality_count_ms" in result:
            count_ms = result["quality_count_ms"]
            out += [f"The quality report's count, run by the worker: {count_ms:.0f} ms.", ""]
        for title, plan in result["plans"].items():
            out += [f"{NAMES.get(result['vendor'])}: {title}", "", "```", plan, "```", ""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.admin", description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default="-")
    parser.add_argument("--only", default="", help="only the pages whose name has this text")
    args = parser.parse_args()
    result = json.dumps(measure(args.repeat, args.only), indent=2)
    if args.out == "-":
        print(result)
    else:
        with open(args.out, "w") as handle:
            handle.write(result)


if __name__ == "__main__":
    main()
