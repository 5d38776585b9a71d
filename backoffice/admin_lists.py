"""Reads behind the admin's big lists, each through an index: no widget scans a table.

At a million orders a DISTINCT for a filter's choices, a date hierarchy's years or a COUNT for
the paginator costs seconds; these answer from indexes, or from the feed's live-row counters.
"""

import re
from datetime import datetime

from django.core.paginator import Paginator
from django.db import connection, models
from django.db.models import Q
from django.db.models.functions import Lower
from django.db.models.lookups import Exact, GreaterThanOrEqual, LessThan, StartsWith
from django.utils import timezone
from django.utils.functional import cached_property

from shop.models import Customer, PhoneDigits

# The feed's live-row counters (feeds/counters.py owns them; the domain does not import the
# feed, so the names are repeated here and a test asserts they agree): live rows of a table
# per superblock of ids, kept by database triggers in the same transaction as every write.
LIVE_COUNTS_TABLE = "feeds_liveblock"
LIVE_ORDERS_ENTITY = "order/64k"
LIVE_CUSTOMERS_ENTITY = "customer/64k"

# From this many rows on, a page's ids are found before its rows (OrderListPaginator.page).
DEEP_OFFSET = 5_000
# A filtered list is counted exactly up to this many rows; past it the page says "more than".
COUNT_CAP = 10_000


def values_in_use(model: type[models.Model], field: str) -> list:
    """Return the distinct non-null values of `field`, ascending, by a loose index scan.

    A recursive query jumps from one value to the next through the field's index: one index
    probe per distinct value, however many rows share it.
    """
    qn = connection.ops.quote_name
    column = model._meta.get_field(field).column  # type: ignore[union-attr]
    table, column = qn(model._meta.db_table), qn(str(column))
    sql = (
        f"WITH RECURSIVE used (value) AS ("
        f"SELECT MIN({column}) FROM {table} "
        f"UNION ALL SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > used.value) "
        f"FROM used WHERE used.value IS NOT NULL"
        f") SELECT value FROM used WHERE value IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def live_count(entity: str) -> int | None:
    """Return how many rows of `entity` are live, from the feed's counters (None: no counts
    stored)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT SUM(live) FROM {LIVE_COUNTS_TABLE} WHERE entity = %s", [entity])
        (live,) = cursor.fetchone()
    return None if live is None else int(live)


def live_orders_count() -> int | None:
    """Return how many orders are live, from the feed's counters (None: no counts stored)."""
    return live_count(LIVE_ORDERS_ENTITY)


def first_and_last(queryset: models.QuerySet, field: str) -> tuple[datetime | None, ...]:
    """Return the earliest and latest `field` of the rows, each read from the end of an index.

    Two ORDER BY ... LIMIT 1 queries: a single query with both MIN and MAX is not answered
    from the index by SQLite.
    """
    values = queryset.order_by().values_list(field, flat=True)
    return values.order_by(field).first(), values.order_by(f"-{field}").first()


DIGITS_ONLY = re.compile(r"#?\d+")
PHONE_LIKE = re.compile(r"\+?[\d ()\-]*\d[\d ()\-]*")
# Ids are 64-bit integers: a longer number can only be a phone.
MAX_ID_DIGITS = 18


def _next_prefix(prefix: str) -> str:
    """Return the smallest string greater than every string starting with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def starts_with(expression, prefix: str) -> Q:
    """Return a condition that the text `expression` starts with `prefix`, which an index on
    the expression serves.

    SQLite: a range (binary collation: exact for a prefix; its LIKE ignores case and so reads
    no ordinary index). PostgreSQL: LIKE 'prefix%' on a text_pattern_ops index.
    """
    if connection.vendor == "postgresql":
        return Q(StartsWith(expression, prefix))
    at_least = Q(GreaterThanOrEqual(expression, prefix))
    if prefix.rstrip(MAX_CHAR) == "":
        return at_least
    return at_least & Q(LessThan(expression, _next_prefix(prefix.rstrip(MAX_CHAR))))


MAX_CHAR = chr(0x10FFFF)


def lowered(text: str) -> str:
    """Return `text` in lower case as the database's lower() writes it: SQLite's lower() folds
    ASCII letters only."""
    if connection.vendor == "sqlite":
        return text.translate(ASCII_LOWER)
    return text.lower()


ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def customer_search(queryset: models.QuerySet, term: str) -> models.QuerySet:
    """Return the customers matching what was typed in the customer list's search box.

    A phone number in any formatting: the customers with that phone. Text with an @: the
    customers whose email starts with it. Other text: the customers whose first name, last
    name or email starts with it, or whose first name is its first word and last name starts
    with the rest ("nour ha"). Any case; each through an index: no contains-search.
    """
    term = " ".join(term.split())
    if not term:
        return queryset
    if PHONE_LIKE.fullmatch(term):
        return queryset.filter(Exact(PhoneDigits("phone"), phone_digits(term)))
    text = lowered(term)
    email = starts_with(Lower("email"), text)
    if "@" in term:
        return queryset.filter(email)
    found = starts_with(Lower("first_name"), text) | starts_with(Lower("last_name"), text)
    if " " in text:
        first, last = text.split(" ", 1)
        found |= Q(Exact(Lower("first_name"), first)) & starts_with(Lower("last_name"), last)
    return queryset.filter(found | email)


def customer_figures(ids: list[int]) -> dict[int, dict]:
    """Return orders_count and total_spent of the customers `ids` (a page of a list), by id."""
    rows = Customer.objects.filter(pk__in=ids).with_order_stats().order_by()
    return {row["id"]: row for row in rows.values("id", "orders_count", "total_spent")}


def customers_by_email_prefix(prefix: str) -> models.QuerySet:
    """Return customers whose email starts with `prefix`, in any case, through an index.

    SQLite: a range of the unique index on lower(email) (binary collation: exact for a prefix).
    PostgreSQL: LIKE on the lower(email) text_pattern_ops index of migration 0007.
    """
    return Customer.objects.filter(starts_with(Lower("email"), prefix.lower()))


def phone_digits(text: str) -> str:
    """Return the digits of a phone number as typed."""
    return re.sub(r"\D", "", text)


def order_search(queryset: models.QuerySet, term: str) -> models.QuerySet:
    """Return the orders matching what was typed in the order list's search box.

    A number: the order with that id, or orders with that phone number. An email or its start
    (any case): orders of the customers with that email. A formatted phone number: orders with
    that phone, its formatting ignored. Each through an index: no contains-search.
    """
    term = term.strip()
    if not term:
        return queryset
    if DIGITS_ONLY.fullmatch(term):
        digits = term.lstrip("#")
        by_phone = Q(Exact(PhoneDigits("phone"), digits))
        if len(digits) > MAX_ID_DIGITS:
            return queryset.filter(by_phone)
        return queryset.filter(Q(id=int(digits)) | by_phone)
    if PHONE_LIKE.fullmatch(term):
        return queryset.filter(Exact(PhoneDigits("phone"), phone_digits(term)))
    customers = customers_by_email_prefix(term).values("id")
    return queryset.filter(customer_id__in=customers)


class ListPaginator(Paginator):
    """Counts without scanning: the unfiltered live list from the feed's live-row counters
    (exact, kept by triggers), any other list exactly up to COUNT_CAP rows; past the cap the
    count stops there and the page says "more than 10,000" (is_estimate).

    One count query either way, so the page's query count does not grow with the table.
    A deep page's ids are read first, alone (from an index), then its rows by id: an OFFSET
    over the rows with their joined customers builds every skipped row. (The admin reads a
    list of one page without the paginator's page(), so near pages stay one query.)
    """

    # The feed's counter of the list's live rows.
    live_entity: str

    def __init__(self, object_list, per_page, *, live_only: bool, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.live_only = live_only
        self.is_estimate = False

    @cached_property
    def count(self) -> int:
        if self.live_only:
            live = live_count(self.live_entity)
            if live is not None:
                return live
        rows = self.object_list.order_by()  # type: ignore[attr-defined]
        counted = rows[: COUNT_CAP + 1].count()
        if counted > COUNT_CAP:
            self.is_estimate = True
            return COUNT_CAP
        return counted

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        rows = self.object_list
        if bottom < DEEP_OFFSET:
            return self._get_page(rows[bottom:top], number, self)
        ids = list(rows.values_list("pk", flat=True)[bottom:top])
        return self._get_page(rows.filter(pk__in=ids), number, self)


class OrderListPaginator(ListPaginator):
    live_entity = LIVE_ORDERS_ENTITY


class CustomerListPaginator(ListPaginator):
    live_entity = LIVE_CUSTOMERS_ENTITY


def localtime(value: datetime | None) -> datetime | None:
    if value is not None and timezone.is_aware(value):
        return timezone.localtime(value)
    return value
