"""The dashboard's figures: what each order adds to them, how a write updates them, a recount.

Three small tables hold, for live orders only:
- OrderFigures: per quarter hour of UTC time and currency, the orders, the successful ones and
  their revenue. Any store zone's midnights fall on whole quarter hours, so local days fold
  from them exactly, and changing the store's zone or currency needs no recount.
- ProductFigures: per UTC day, currency and product, the units and revenue of successful
  orders' line items (the dashboard adds the partial UTC days at its period's edges from the
  line items themselves).
- StatusFigures: per financial status, the orders.

Every order write reads the order as the database holds it before (locking its row) and after,
and adds the difference with race-free upserts in the write's transaction. Money is counted in
integer cents: SQLite's decimal arithmetic is floating point. Bulk loads call `recompute()`.

This module is the one runtime owner of these rules, in Python (`contribution`) and in SQL
(`recompute_sql`); tests prove the two agree after random writes. Migration 0008 keeps its own
copy of the SQL it ran.
"""

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from core import inserts

from .models import LineItem, Order, OrderFigures, ProductFigures, StatusFigures

BUCKET_SECONDS = 900
DAY_SECONDS = 86400
SUCCESSFUL = Order.Status.SUCCESSFUL

# Per table: its key columns and its counted columns, in the order of the tuples below.
TABLES = {
    OrderFigures: (("bucket", "currency"), ("orders", "successful", "revenue_cents")),
    ProductFigures: (("currency", "day", "product_id"), ("units", "revenue_cents")),
    StatusFigures: (("status",), ("orders",)),
}


def epoch_seconds(moment: datetime) -> int:
    """Whole seconds since 1970-01-01 UTC, rounded down (as the SQL below computes them)."""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return calendar.timegm(moment.utctimetuple())


def cents(amount: Decimal | None) -> int:
    return int((amount or Decimal(0)).scaleb(2).to_integral_value())


@dataclass
class Contribution:
    """What one order adds to each table: {model: {key: counts}}."""

    rows: dict = field(default_factory=dict)

    def add(self, model, key: tuple, counts: tuple[int, ...], sign: int = 1) -> None:
        table = self.rows.setdefault(model, {})
        old = table.get(key, (0,) * len(counts))
        table[key] = tuple(a + sign * b for a, b in zip(old, counts, strict=True))

    def minus(self, other: "Contribution") -> "Contribution":
        result = Contribution()
        for source, sign in ((self, 1), (other, -1)):
            for model, table in source.rows.items():
                for key, counts in table.items():
                    result.add(model, key, counts, sign)
        for model in list(result.rows):
            result.rows[model] = {k: c for k, c in result.rows[model].items() if any(c)}
        return result


NOTHING = Contribution()


def contribution(
    *,
    ordered_at: datetime,
    currency: str,
    financial_status: str,
    total_price: Decimal,
    deleted_at: datetime | None,
    line_items: Iterable[tuple[int, int, Decimal]],
) -> Contribution:
    """What an order with these fields and (product id, quantity, unit price) items adds."""
    result = Contribution()
    if deleted_at is not None:
        return result
    seconds = epoch_seconds(ordered_at)
    successful = financial_status == SUCCESSFUL
    revenue = cents(total_price) if successful else 0
    result.add(OrderFigures, (seconds // BUCKET_SECONDS, currency), (1, int(successful), revenue))
    result.add(StatusFigures, (financial_status,), (1,))
    if successful:
        day = seconds // DAY_SECONDS
        for product_id, quantity, price in line_items:
            result.add(
                ProductFigures, (currency, day, product_id), (quantity, cents(price) * quantity)
            )
    return result


ORDER_COLUMNS = ("ordered_at", "currency", "financial_status", "total_price", "deleted_at")


def order_contribution(order_id: int | None, *, lock: bool = False) -> Contribution:
    """What the order adds as the database holds it now; with `lock`, lock its row until the
    transaction ends, so a concurrent write of it waits and then reads what this one wrote."""
    if order_id is None:
        return NOTHING
    orders = Order.objects.filter(pk=order_id)
    if lock:
        orders = orders.select_for_update()
    values = orders.values(*ORDER_COLUMNS).first()
    if values is None:
        return NOTHING
    items: list[tuple[int, int, Decimal]] = []
    if values["deleted_at"] is None and values["financial_status"] == SUCCESSFUL:
        items = list(
            LineItem.objects.filter(order_id=order_id)
            .order_by()
            .values_list("product_id", "quantity", "price")
        )
    return contribution(**values, line_items=items)


def record(before: Contribution, after: Contribution) -> None:
    """Add `after` less `before` to the tables: one upsert per table that changes."""
    record_delta(after.minus(before))


def record_delta(delta: Contribution) -> None:
    """Add `delta` (a Contribution.minus: no row of zeros) to the tables."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        # The tables, and the rows in each, in one order: concurrent writes cannot deadlock.
        for model in TABLES:
            table = delta.rows.get(model)
            if not table:
                continue
            keys, counted = TABLES[model]
            name = qn(model._meta.db_table)
            columns = (*keys, *counted)
            updates = ", ".join(f"{qn(c)} = {name}.{qn(c)} + EXCLUDED.{qn(c)}" for c in counted)
            rows = [(*key, *counts) for key, counts in sorted(table.items())]
            fields = [_field(model, column) for column in columns]
            types = inserts.array_types(fields, connection)
            if types is not None:
                # One array a column (PostgreSQL): a short statement, where thousands of
                # placeholders took psycopg longer to read than the server to run.
                values = "SELECT * FROM UNNEST(" + ", ".join(f"%s::{t}[]" for t in types) + ")"
                params = [list(column) for column in zip(*rows, strict=True)]
            else:
                row = "(" + ", ".join(["%s"] * len(columns)) + ")"
                values = f"VALUES {', '.join([row] * len(rows))}"
                params = [value for row_values in rows for value in row_values]
            cursor.execute(
                f"INSERT INTO {name} ({', '.join(qn(c) for c in columns)}) {values} "
                f"ON CONFLICT ({', '.join(qn(c) for c in keys)}) DO UPDATE SET {updates}",
                params,
            )


def _field(model, column: str):
    return next(f for f in model._meta.concrete_fields if f.column == column)


# SQL ------------------------------------------------------------------------------------


def epoch_sql(column: str, vendor: str | None = None) -> str:
    """Whole seconds since 1970-01-01 UTC of a datetime column, rounded down."""
    vendor = vendor or connection.vendor
    if vendor == "postgresql":
        return f"FLOOR(EXTRACT(EPOCH FROM {column}))::bigint"
    # SQLite keeps datetimes as UTC text; the fraction of a second is cut off first.
    return f"CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER)"


def floor_div_sql(expression: str, divisor: int) -> str:
    """`expression` (an integer) divided by `divisor`, rounded down also below zero."""
    return f"(({expression}) - ((({expression}) % {divisor}) + {divisor}) % {divisor}) / {divisor}"


def cents_sql(column: str, vendor: str | None = None) -> str:
    vendor = vendor or connection.vendor
    if vendor == "postgresql":
        return f"ROUND({column} * 100)::bigint"
    return f"CAST(ROUND({column} * 100) AS INTEGER)"


def recompute_sql(vendor: str | None = None) -> list[str]:
    """The statements that replace the tables' rows with a count from the orders."""
    vendor = vendor or connection.vendor
    qn = connection.ops.quote_name
    orders, items = Order._meta.db_table, LineItem._meta.db_table
    seconds = epoch_sql("o.ordered_at", vendor)
    successful = f"o.financial_status = '{SUCCESSFUL}'"
    order_figures, product_figures, status_figures = (
        m._meta.db_table for m in (OrderFigures, ProductFigures, StatusFigures)
    )
    return [
        f"DELETE FROM {order_figures}",
        f"DELETE FROM {product_figures}",
        f"DELETE FROM {status_figures}",
        f"INSERT INTO {order_figures} (bucket, currency, orders, successful, revenue_cents) "
        f"SELECT {floor_div_sql(seconds, BUCKET_SECONDS)}, o.currency, COUNT(*), "
        f"SUM(CASE WHEN {successful} THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {successful} THEN {cents_sql('o.total_price', vendor)} ELSE 0 END) "
        f"FROM {orders} o WHERE o.deleted_at IS NULL GROUP BY 1, 2",
        f"INSERT INTO {product_figures} (currency, day, product_id, units, revenue_cents) "
        f"SELECT o.currency, {floor_div_sql(seconds, DAY_SECONDS)}, li.product_id, "
        f"SUM(li.quantity), SUM({cents_sql('li.price', vendor)} * li.quantity) "
        f"FROM {items} li JOIN {orders} o ON o.id = li.order_id "
        f"WHERE o.deleted_at IS NULL AND {successful} GROUP BY 1, 2, 3",
        f"INSERT INTO {status_figures} ({qn('status')}, orders) "
        f"SELECT o.financial_status, COUNT(*) FROM {orders} o "
        f"WHERE o.deleted_at IS NULL GROUP BY 1",
    ]


@transaction.atomic
def recompute() -> None:
    """Recount the dashboard's figures from the orders (after a bulk load that bypassed the
    services, or to check the kept ones)."""
    with connection.cursor() as cursor:
        for sql in recompute_sql():
            cursor.execute(sql)


def rows(model) -> dict[tuple, tuple]:
    """The table's rows with any non-zero count, as {key: counts}."""
    keys, counted = TABLES[model]
    return {
        values[: len(keys)]: values[len(keys) :]
        for values in model.objects.order_by().values_list(*keys, *counted)
        if any(values[len(keys) :])
    }
