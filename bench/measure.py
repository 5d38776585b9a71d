"""Measure one seeded database: the feed, the naive baseline and the floor, per page.

Run by `python -m bench` in a subprocess whose DATABASE_URL selects the database; writes its
results as JSON to the path given. The naive baseline and the floor live here, not in the app.
"""

import json
import logging
import os
import random
import resource
import statistics
import sys
import time
import urllib.parse
from http.client import HTTPConnection
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
django.setup()
# One log line per request would be measured too and flood the console.
logging.disable(logging.INFO)

import orjson  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Sum  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework import serializers  # noqa: E402
from rest_framework.renderers import JSONRenderer  # noqa: E402

from feeds import counters, selectors  # noqa: E402
from feeds.builders import _zone, customer_item, order_item, render_endpoint  # noqa: E402
from feeds.models import FeedToken  # noqa: E402
from feeds.tokens import feed_token_create, hash_token  # noqa: E402
from shop.models import Customer, LineItem, Order, Store  # noqa: E402

from .databases import server_version  # noqa: E402
from .process import measurement_arguments  # noqa: E402
from .server import gunicorn  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789abcdef"
PER_PAGE = 100


# The naive baseline: DRF ModelSerializers, OFFSET pagination with COUNT(*), no prefetch. --


class NaiveLineItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = LineItem
        fields = ["product", "quantity", "price"]


class NaiveOrderSerializer(serializers.ModelSerializer):
    line_items = NaiveLineItemSerializer(many=True)
    ordered_at = serializers.DateTimeField(format="%Y-%m-%d %H:%M:%S")

    class Meta:
        model = Order
        fields = [
            "id",
            "ordered_at",
            "total_price",
            "subtotal_price",
            "total_tax",
            "taxes_included",
            "currency",
            "country_code",
            "financial_status",
            "total_discounts",
            "phone",
            "customer_locale",
            "contact_email",
            "line_items",
            "customer",
        ]


class NaiveCustomerSerializer(serializers.ModelSerializer):
    orders_count = serializers.SerializerMethodField()
    total_spent = serializers.SerializerMethodField()
    registered_at = serializers.DateTimeField(format="%Y-%m-%d %H:%M:%S")

    class Meta:
        model = Customer
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "orders_count",
            "total_spent",
            "currency",
            "phone",
            "registered_at",
            "gender",
        ]

    def _successful(self, customer):
        return customer.orders.alive().successful()

    def get_orders_count(self, customer) -> int:
        return self._successful(customer).count()

    def get_total_spent(self, customer):
        spent = self._successful(customer).filter(currency=customer.currency)
        return spent.aggregate(s=Sum("total_price"))["s"] or 0


def naive(entity: str, page: int) -> bytes:
    if entity == "orders":
        rows = Order.objects.alive().order_by("id")
        serializer = NaiveOrderSerializer
    else:
        rows = Customer.objects.alive().order_by("id")
        serializer = NaiveCustomerSerializer
    total = rows.count()
    start = (page - 1) * PER_PAGE
    data = serializer(rows[start : start + PER_PAGE], many=True).data
    return JSONRenderer().render({"current_page": page, "data": data, "total": total})


# The floor: one keyset query for the page, one for its children, the same items, orjson. --


def _q(name):
    return connection.ops.quote_name(name)


# Rows as the feed's selectors build them (tuple.__new__: no Python-level constructor).
_row = tuple.__new__


def floor(entity: str, after_id: int, zone) -> bytes:
    with connection.cursor() as cursor:
        if entity == "orders":
            cols = ", ".join(_q(c) for c in selectors.ORDER_COLUMNS)
            cursor.execute(
                f"SELECT {cols} FROM {_q(Order._meta.db_table)} "
                "WHERE deleted_at IS NULL AND id > %s ORDER BY id LIMIT %s",
                [after_id, PER_PAGE],
            )
            rows = [_row(selectors.OrderRow, (*r, [])) for r in cursor.fetchall()]
            if rows:
                marks = ", ".join(["%s"] * len(rows))
                item_cols = ", ".join(_q(c) for c in selectors.LINE_ITEM_COLUMNS)
                cursor.execute(
                    f"SELECT order_id, {item_cols} "
                    f"FROM {_q(LineItem._meta.db_table)} WHERE order_id IN ({marks}) "
                    "ORDER BY order_id, id",
                    [r.id for r in rows],
                )
                by_id = {r.id: r for r in rows}
                for record in cursor.fetchall():
                    by_id[record[0]].line_items.append(_row(selectors.LineItemRow, record[1:]))
            items = [order_item(r, zone) for r in rows]
        else:
            # The page by keyset, each customer's stats by the same correlated subqueries
            # as the feed (the best plan on both databases), no total.
            orders = _q(Order._meta.db_table)
            cols = ", ".join(f"c.{_q(c)}" for c in selectors.CUSTOMER_COLUMNS)
            successful = (
                f"FROM {orders} o WHERE o.customer_id = c.id "
                "AND o.financial_status = 'successful' AND o.deleted_at IS NULL"
            )
            cursor.execute(
                f"SELECT {cols}, (SELECT COUNT(*) {successful}), "
                f"(SELECT SUM(o.total_price) {successful} AND o.currency = c.currency) "
                f"FROM {_q(Customer._meta.db_table)} c "
                "WHERE c.deleted_at IS NULL AND c.id > %s ORDER BY c.id LIMIT %s",
                [after_id, PER_PAGE],
            )
            items = [customer_item(_row(selectors.CustomerRow, r), zone) for r in cursor.fetchall()]
    return orjson.dumps(items)


# The feed ------------------------------------------------------------------------------


def feed_builder(entity: str, page: int) -> bytes:
    return render_endpoint(entity, page=page, per_page=PER_PAGE)


def feed_http(client: Client, entity: str, page: int) -> bytes:
    response = client.post(
        f"/convertedin/{entity}",
        f"token={TOKEN}&page={page}&per_page={PER_PAGE}",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.content[:200]
    return response.content


def interleaved(cells: dict, repeat: int) -> dict:
    """Median wall time in ms of each callable, timed round-robin in shuffled order.

    Interleaving spreads any drift in the machine's load over every cell alike, so the
    ratios between cells measured in one run stay fair. Calls slower than a second (the
    naive baseline deep in a big store) are timed in 3 rounds only.
    """
    samples = {key: [] for key in cells}
    slow = set()
    for key, fn in cells.items():  # warm-up
        started = time.perf_counter()
        fn()
        if time.perf_counter() - started > 1:
            slow.add(key)
    order = list(cells)
    for round_number in range(repeat):
        random.shuffle(order)
        for key in order:
            if key in slow and round_number >= 3:
                continue
            started = time.perf_counter()
            cells[key]()
            samples[key].append((time.perf_counter() - started) * 1000)
    return {key: statistics.median(values) for key, values in samples.items()}


def queries(fn, calls: int = 5) -> int:
    """The most queries any of a few calls ran."""
    most = 0
    for _ in range(calls):
        with CaptureQueriesContext(connection) as captured:
            fn()
        most = max(most, len(captured.captured_queries))
    return most


def after_id(entity: str, page: int) -> int:
    """The id just before the page (found outside the timing: the floor knows it)."""
    if page == 1:
        return 0
    model = Order if entity == "orders" else Customer
    ids = model.objects.alive().order_by("id").values_list("id", flat=True)
    return ids[(page - 1) * PER_PAGE - 1]


def measure_pages(entity: str, repeat: int) -> list[dict]:
    model = Order if entity == "orders" else Customer
    total = model.objects.alive().count()
    last = max(1, -(-total // PER_PAGE))
    zone = _zone(Store.load().time_zone)
    client = Client()
    pages = sorted(p for p in {1, 100, 1000, last} if p <= last)
    cells = {}
    for page in pages:
        start = after_id(entity, page)
        # The floor builds the very items the feed answers: same rows, same bytes.
        feed_items = orjson.loads(feed_builder(entity, page))["data"]
        assert orjson.loads(floor(entity, start, zone)) == feed_items, page
        cells[page, "feed_http_ms"] = lambda p=page: feed_http(client, entity, p)
        cells[page, "feed_ms"] = lambda p=page: feed_builder(entity, p)
        cells[page, "floor_ms"] = lambda s=start: floor(entity, s, zone)
        cells[page, "naive_ms"] = lambda p=page: naive(entity, p)
    medians = interleaved(cells, repeat)
    rows = []
    for page in pages:
        row = {
            "page": page,
            "label": "last" if page == last else str(page),
            **{key: medians[page, key] for key in ("feed_http_ms", "feed_ms", "floor_ms")},
            "naive_ms": medians[page, "naive_ms"],
            "feed_queries": queries(lambda p=page: feed_http(client, entity, p)),
            "naive_queries": queries(lambda p=page: naive(entity, p), calls=1),
        }
        print(f"    {entity} page {row['label']}: {row}", file=sys.stderr, flush=True)
        rows.append(row)
    return rows


# Explain -------------------------------------------------------------------------------


def explain(sql: str, params) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) " + sql, params)
            return "\n".join(r[0] for r in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        lines = []
        depth = {0: -1}
        for node, parent, _, detail in cursor.fetchall():
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + detail)
        return "\n".join(lines)


def _statement(sql: str, entity: str, offset: int) -> tuple[str, dict | None]:
    """A page statement with its parameters; on SQLite, with the values written in."""
    params = {
        "entity": entity,
        "super": entity + counters.SUPER_SUFFIX,
        "offset": offset,
        "limit": PER_PAGE,
    }
    if connection.vendor != "sqlite":
        return sql, params
    for name, value in params.items():
        sql = sql.replace(f"%({name})s", f"'{value}'" if isinstance(value, str) else str(value))
    return sql, None


def explains() -> dict:
    total = Order.objects.alive().count()
    offset = (max(1, -(-total // PER_PAGE)) - 1) * PER_PAGE
    customers = Customer.objects.alive().count()
    c_offset = (max(1, -(-customers // PER_PAGE)) - 1) * PER_PAGE
    order_table = _q(Order._meta.db_table)
    sql, params = _statement(
        selectors._orders_sql(connection.vendor), counters.ORDER_ENTITY, offset
    )
    c_sql, c_params = _statement(
        selectors._customers_sql(connection.vendor), counters.CUSTOMER_ENTITY, c_offset
    )
    return {
        "feed: orders, last page (one statement)": explain(sql, params),
        "feed: customers, last page (one statement)": explain(c_sql, c_params),
        "naive: OFFSET to the last page of orders": explain(
            f"SELECT * FROM {order_table} WHERE deleted_at IS NULL ORDER BY id "
            f"LIMIT {PER_PAGE} OFFSET {offset}",
            None,
        ),
        "naive: COUNT(*) of live orders": explain(
            f"SELECT COUNT(*) FROM {order_table} WHERE deleted_at IS NULL", None
        ),
    }


# The crawl -----------------------------------------------------------------------------


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def crawl(entity: str = "orders") -> dict:
    """Walk every page through gunicorn (one sync worker) over HTTP, one page at a time."""
    with gunicorn(wait_tries=200) as (server, port):
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        worker = int(children[0]) if children else server.pid
        page, last, rows, pages = 1, 1, 0, 0
        started = time.perf_counter()
        while page <= last:
            body = urllib.parse.urlencode({"token": TOKEN, "page": page, "per_page": PER_PAGE})
            conn = HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request(
                "POST",
                f"/convertedin/{entity}",
                body,
                {"Content-Type": "application/x-www-form-urlencoded"},
            )
            response = conn.getresponse()
            data = orjson.loads(response.read())
            conn.close()
            assert response.status == 200, data
            last = data["last_page"]
            rows += len(data["data"])
            pages += 1
            page += 1
        seconds = time.perf_counter() - started
        peak = _peak_rss_mb(worker)
    return {
        "entity": entity,
        "pages": pages,
        "rows": rows,
        "seconds": seconds,
        "server_peak_rss_mb": peak,
        "crawler_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    args = measurement_arguments("--no-crawl", "--crawl-only")
    if not FeedToken.objects.filter(digest=hash_token(TOKEN)).exists():
        feed_token_create(name="benchmark", token=TOKEN)
    if args.crawl_only:
        result = {"orders": Order.objects.alive().count(), "crawl": crawl("orders")}
        Path(args.out).write_text(json.dumps(result, indent=2))
        return
    result = {
        "vendor": connection.vendor,
        "version": server_version(),
        "orders": Order.objects.alive().count(),
        "customers": Customer.objects.alive().count(),
        "line_items": LineItem.objects.count(),
        "pages": {e: measure_pages(e, args.repeat) for e in ("orders", "customers")},
        "explain": explains(),
    }
    if not args.no_crawl:
        print("    crawling orders through gunicorn...", file=sys.stderr, flush=True)
        result["crawl"] = crawl("orders")
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
