"""Reads for the feed: one page of each endpoint, in ascending id order, live rows only.

Orders and customers are read in a single SQL statement per page. The page's first row is
found from `LiveBlock` counts, kept by database triggers in the same transaction as every
write (feeds/counters.py): live rows per superblock of SUPERBLOCK ids and per block of BLOCK
ids. Summing the ~N / SUPERBLOCK superblock rows gives the superblock where the page starts,
summing its (at most 64) block rows gives the block, and the statement then skips fewer than
BLOCK rows, instead of `OFFSET (page - 1) * per_page`. The result is exactly what
`ORDER BY id LIMIT per_page OFFSET (page - 1) * per_page` over live rows returns, at any depth,
for the same snapshot; `total` is the sum of the superblock counts, no COUNT(*) over the table.

Orders and customers come back as named rows (OrderRow, CustomerRow), whose fields are the
columns the statements select.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import NamedTuple

from django.db import connection
from django.db.models import F

from shop.models import (
    Category,
    Customer,
    LineItem,
    Order,
    Product,
    Store,
    customer_figures_sql,
)

from .counters import (
    BLOCK,
    BLOCKS_PER_SUPERBLOCK,
    COUNTS_TABLE,
    CUSTOMER_ENTITY,
    ORDER_ENTITY,
    SUPER_SUFFIX,
)

# The page statements are raw SQL, without Django's converters: money is a Decimal on
# PostgreSQL, a float or int on SQLite; a timestamp an aware datetime or ISO text.
Money = Decimal | float | int
Stamp = datetime | str


class LineItemRow(NamedTuple):
    product_id: int
    quantity: int
    price: Money


class OrderRow(NamedTuple):
    """One live order of a page: its table's columns, then its line items by id."""

    id: int
    ordered_at: Stamp
    total_price: Money
    subtotal_price: Money
    total_tax: Money
    taxes_included: bool
    currency: str
    country_code: str
    financial_status: str
    total_discounts: Money
    phone: str
    customer_locale: str
    contact_email: str
    customer_id: int
    line_items: list[LineItemRow]


class CustomerRow(NamedTuple):
    """One live customer of a page: its table's columns, then its figures."""

    id: int
    email: str
    first_name: str
    last_name: str
    phone: str
    gender: str
    currency: str
    registered_at: Stamp
    orders_count: int
    total_spent: Money | None


# What each page statement selects, named once by the rows above.
ORDER_COLUMNS = list(OrderRow._fields[:-1])
LINE_ITEM_COLUMNS = list(LineItemRow._fields)
CUSTOMER_COLUMNS = list(CustomerRow._fields[:-2])
CUSTOMER_FIGURES = list(CustomerRow._fields[-2:])
# Every row of a page statement starts with the total and the store's time zone.
_HEAD = 2
# A row from a tuple already in field order: tuple.__new__ skips the NamedTuple's Python-level
# constructor, several times slower, for every row of a page.
_new_row = tuple.__new__


@dataclass(frozen=True)
class Page:
    total: int
    rows: list
    time_zone: str | None = None


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _page_sql(*, entity_table: str, columns: list[str]) -> str:
    """Return the CTEs that locate one page of live rows of a table through LiveBlock."""
    cols = ", ".join(f"r.{_q(c)}" for c in columns)
    blocks = _q(COUNTS_TABLE)
    store = _q(Store._meta.db_table)
    return f"""
        WITH supers AS (
            SELECT block, live, CAST(SUM(live) OVER (ORDER BY block) AS BIGINT) AS upto
            FROM {blocks} WHERE entity = %(super)s
        ),
        head AS (
            SELECT CAST(COALESCE(SUM(live), 0) AS BIGINT) AS total,
                   (SELECT time_zone FROM {store} WHERE id = 1) AS time_zone
            FROM {blocks} WHERE entity = %(super)s
        ),
        super_start AS (
            SELECT block * {BLOCKS_PER_SUPERBLOCK} AS first_block,
                   %(offset)s - (upto - live) AS skip
            FROM supers WHERE upto > %(offset)s ORDER BY block LIMIT 1
        ),
        counted AS (
            SELECT block, live, CAST(SUM(live) OVER (ORDER BY block) AS BIGINT) AS upto
            FROM {blocks}
            WHERE entity = %(entity)s
              AND block >= (SELECT first_block FROM super_start)
              AND block < (SELECT first_block FROM super_start) + {BLOCKS_PER_SUPERBLOCK}
        ),
        start AS (
            SELECT block * {BLOCK} AS first_id,
                   (SELECT skip FROM super_start) - (upto - live) AS skip
            FROM counted WHERE upto > (SELECT skip FROM super_start) ORDER BY block LIMIT 1
        ),
        page AS (
            SELECT {cols} FROM {_q(entity_table)} r
            WHERE r.deleted_at IS NULL AND r.id >= (SELECT first_id FROM start)
            ORDER BY r.id
            LIMIT %(limit)s OFFSET COALESCE((SELECT skip FROM start), 0)
        )"""


# The page statements depend on nothing but the models and the database's quoting: built once.
def _page_statement(model, columns: list[str], extra: str, join: str = "", order: str = "") -> str:
    """The page's rows (`columns`, then `extra` expressions) after the total and time zone."""
    cols = ", ".join(f"page.{_q(c)}" for c in columns)
    return (
        _page_sql(entity_table=model._meta.db_table, columns=columns)
        + f"""
        SELECT head.total, head.time_zone, {cols}, {extra}
        FROM head
        LEFT JOIN page ON 1 = 1 {join}
        ORDER BY page.id{order}"""
    )


@cache
def _orders_sql(vendor: str) -> str:
    items = _q(LineItem._meta.db_table)
    item_cols = ", ".join(f"li.{_q(c)}" for c in LINE_ITEM_COLUMNS)
    join = f"LEFT JOIN {items} li ON li.order_id = page.id"
    return _page_statement(Order, ORDER_COLUMNS, item_cols, join, ", li.id")


@cache
def _customers_sql(vendor: str) -> str:
    figures = customer_figures_sql("page")
    stats = ", ".join(f"{figures[name]} AS {name}" for name in CUSTOMER_FIGURES)
    return _page_statement(Customer, CUSTOMER_COLUMNS, stats)


def _run(sql: str, *, entity: str, offset: int, limit: int) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {"entity": entity, "super": entity + SUPER_SUFFIX, "offset": offset, "limit": limit},
        )
        return cursor.fetchall()


def orders_page(*, offset: int, limit: int) -> Page:
    """Return live orders [offset, offset + limit) by id as OrderRows, with their line items.

    One SQL statement: a row per line item (or one with NULL items for an order without).
    """
    raw = _run(_orders_sql(connection.vendor), entity=ORDER_ENTITY, offset=offset, limit=limit)
    total, time_zone = raw[0][0], raw[0][1]
    rows: list[OrderRow] = []
    end = _HEAD + len(ORDER_COLUMNS)
    last_id = None
    items: list[LineItemRow] = []
    for record in raw:
        order_id = record[_HEAD]
        if order_id is None:
            continue
        if order_id != last_id:
            last_id, items = order_id, []
            rows.append(_new_row(OrderRow, (*record[_HEAD:end], items)))
        if record[end] is not None:
            items.append(_new_row(LineItemRow, record[end:]))
    return Page(total=total, rows=rows, time_zone=time_zone)


def customers_page(*, offset: int, limit: int) -> Page:
    """Return live customers [offset, offset + limit) by id as CustomerRows.

    orders_count counts live successful orders; total_spent sums those in the customer's
    currency (amounts in other currencies cannot be added). One SQL statement.
    """
    raw = _run(
        _customers_sql(connection.vendor), entity=CUSTOMER_ENTITY, offset=offset, limit=limit
    )
    total, time_zone = raw[0][0], raw[0][1]
    rows = [_new_row(CustomerRow, record[_HEAD:]) for record in raw if record[_HEAD] is not None]
    return Page(total=total, rows=rows, time_zone=time_zone)


PRODUCT_VALUES = [
    "id",
    "category_id",
    "title",
    "handle",
    "url",
    "image_url",
    "content",
    "vendor",
    "compare_at_price",
    "price",
    "quantity",
    "published_at",
    "tags",
]


def category_tree() -> list[dict]:
    """Return every live category as a dict with `children`, top-level ones first by id."""
    rows = list(
        Category.objects.alive()
        .order_by("id")
        .values("id", "title", "handle", "content", "parent_id", "available", "published_at")
    )
    by_id = {row["id"]: {**row, "children": []} for row in rows}
    top = []
    for row in by_id.values():
        parent = by_id.get(row["parent_id"]) if row["parent_id"] else None
        if parent is not None:
            parent["children"].append(row)
        elif row["parent_id"] is None:
            top.append(row)
    return top


def _subtree_ids(tree: list[dict], root_id: int) -> list[int]:
    stack = list(tree)
    while stack:
        node = stack.pop()
        if node["id"] == root_id:
            ids, frontier = [], [node]
            while frontier:
                current = frontier.pop()
                ids.append(current["id"])
                frontier.extend(current["children"])
            return ids
        stack.extend(node["children"])
    return []


def products_page(*, offset: int, limit: int, collection_id: int | None = None) -> Page:
    """Return live products by id; with a collection, only those in it or its subcategories.

    A product whose category is soft-deleted is listed without a category.
    """
    products = Product.objects.alive()
    if collection_id is not None:
        products = products.filter(
            category_id__in=_subtree_ids(category_tree(), collection_id),
            category__deleted_at__isnull=True,
        )
    total = products.count()
    rows = list(
        products.order_by("id").values(
            *PRODUCT_VALUES,
            category_title=F("category__title"),
            category_deleted_at=F("category__deleted_at"),
        )[offset : offset + limit]
    )
    return Page(total=total, rows=rows)


# One record by id, deleted or not: what a push of that record carries (push/). ---------


def order_row(order_id: int) -> OrderRow | None:
    """Return one order, live or soft-deleted, as an OrderRow with its line items."""
    found = Order.objects.filter(id=order_id).values_list(*ORDER_COLUMNS).first()
    if found is None:
        return None
    items = [
        _new_row(LineItemRow, item)
        for item in LineItem.objects.filter(order_id=order_id)
        .order_by("id")
        .values_list(*LINE_ITEM_COLUMNS)
    ]
    return _new_row(OrderRow, (*found, items))


def customer_row(customer_id: int) -> CustomerRow | None:
    """Return one customer, live or soft-deleted, as a CustomerRow with its figures."""
    cols = ", ".join(f"c.{_q(c)}" for c in CUSTOMER_COLUMNS)
    figures = customer_figures_sql("c")
    stats = ", ".join(f"{figures[name]} AS {name}" for name in CUSTOMER_FIGURES)
    sql = f"SELECT {cols}, {stats} FROM {_q(Customer._meta.db_table)} c WHERE c.id = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [customer_id])
        found = cursor.fetchone()
    return None if found is None else _new_row(CustomerRow, found)


def product_row(product_id: int) -> dict | None:
    """Return one product, live or soft-deleted, with the values products_page selects."""
    return (
        Product.objects.filter(id=product_id)
        .values(
            *PRODUCT_VALUES,
            category_title=F("category__title"),
            category_deleted_at=F("category__deleted_at"),
        )
        .first()
    )


def category_node(category_id: int) -> dict | None:
    """Return one category, live or soft-deleted, as a node of category_tree (its live
    subcategories nested), whether it is listed at the top or under another."""
    stack = category_tree()
    while stack:
        node = stack.pop()
        if node["id"] == category_id:
            return node
        stack.extend(node["children"])
    row = (
        Category.objects.filter(id=category_id)
        .values("id", "title", "handle", "content", "parent_id", "available", "published_at")
        .first()
    )
    return None if row is None else {**row, "children": []}
