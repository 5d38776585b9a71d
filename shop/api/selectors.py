"""Reads of the REST API: one function per use, with explicit order and prefetches."""

import datetime as dt

from django.conf import settings
from django.db import connection
from django.db.models import Prefetch, QuerySet

from shop.models import Category, Customer, LineItem, Order, Product


def customers_for_api() -> QuerySet[Customer]:
    """Every customer, deleted too, without figures: the filter set narrows and sorts them,
    and only the rows of the page asked for get figures (customers_page_with_stats)."""
    return Customer.objects.order_by("id")


def customers_page_with_stats(page: QuerySet[Customer], *, currency: str | None = None):
    """The customers of `page` (a sliced, sorted queryset of customers_for_api), in its
    order, with order stats (in `currency` if given) computed for those rows alone.

    One statement: the figures' subqueries run for the page's ids only, where a LIMIT over
    the annotated queryset would have them computed for every row it skips.
    """
    ordering = page.query.order_by or ("id",)
    return (
        customers_with_stats_for_api(currency=currency)
        .filter(pk__in=page.values("pk"))
        .order_by(*ordering)
    )


def customers_with_stats_for_api(*, currency: str | None = None) -> QuerySet[Customer]:
    """Every customer, deleted too, with order stats (in `currency` if given)."""
    return Customer.objects.with_order_stats(currency=currency).order_by("id")


def orders_for_api() -> QuerySet[Order]:
    return Order.objects.order_by("id").prefetch_related(
        Prefetch("line_items", queryset=LineItem.objects.order_by("id"))
    )


def products_for_api() -> QuerySet[Product]:
    return Product.objects.order_by("id")


def categories_for_api() -> QuerySet[Category]:
    return Category.objects.order_by("id")


# The running write transactions a sync must wait for, on PostgreSQL: every other session of
# this database whose transaction holds a transaction id (it has written, or locked a row to
# write), with its start; a session of another role shows no start (xact_start is null) unless
# the app's role may read all statistics. Prepared transactions have no session and no start.
_RUNNING_WRITERS_SQL = """
SELECT count(*) FILTER (WHERE xact_start IS NULL)
       + (SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()),
       min(xact_start)
FROM pg_stat_activity
WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() AND datname = current_database()
"""


def sync_horizon() -> dt.datetime | None:
    """The updated_at from which an incremental sync may not yet list records; None if none.

    A record's updated_at is stamped before its transaction commits, so a transaction still
    running may yet commit records stamped earlier than records others have committed since.
    A sync that listed those and moved its cursor past them would never see the late ones.
    Its pages therefore stop before the start of the oldest write transaction still running
    (less API_SYNC_CLOCK_MARGIN_SECONDS), and pick up there once that one has ended.

    On SQLite writers take turns (every transaction begins IMMEDIATE, taking the write lock,
    and the services stamp inside it), so a transaction still running stamps later than
    everything already committed: nothing to wait for.

    Run it before the page's query, as its own statement: a writer that commits after this
    has been seen, and is invisible to the page, was running when this read the sessions.
    """
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(_RUNNING_WRITERS_SQL)
        unknown, oldest = cursor.fetchone()
    if unknown:
        # A writer whose start this role cannot see: nothing new is listed until it ends.
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    if oldest is None:
        return None
    return oldest - dt.timedelta(seconds=settings.API_SYNC_CLOCK_MARGIN_SECONDS)
