"""Pages of the list endpoints, in two styles.

- Page numbers, for people: `?page=3&per_page=50`, in the Laravel-resource shape
  {"data": [...], "links": {first, last, prev, next}, "meta": {current_page, ..., total}}.
- Cursors, for syncing: `?cursor=` to start, then the `links.next` each page gives, as
  Shopify's `page_info` or Stripe's `starting_after`. A cursor page is found by its keys
  (`WHERE id > x ORDER BY id LIMIT n`), so the last page costs what the first does, and no
  total is counted: {"data": [...], "links": {"next"}, "meta": {"per_page", "next_cursor"}}.

Cursor pages are sorted by id; when the first request has `updated_after`, by updated_at
then id, so an incremental sync neither skips nor repeats a record when many share one
updated_at. The cursor carries its order, so `ordering` and `page` do not apply to it.
Such a page never lists a record a write transaction still running could commit behind
(selectors.sync_horizon), so a cursor never passes a record that has yet to commit.
"""

import datetime as dt
import re
from collections import OrderedDict
from dataclasses import dataclass

from django.db import models
from django.db.models import F, Func, Value
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from core.digits import is_ascii_digits

from .filters import MAX_ID
from .selectors import sync_horizon

# ASCII digits only, as the converted.in feed reads them: int() alone would also read
# "1_0", " 10" and digits of other scripts ("١٠").

# A cursor is `i<id>` (after that id) or `u<updated_at in microseconds since 1970>.<id>`
# (after that pair). Clients pass back what the API gave; every string of this shape is a
# position, so the schema's pattern is exactly what is accepted.
CURSOR_PATTERN = r"^(|i[0-9]{1,19}|u-?[0-9]{1,16}\.[0-9]{1,19})$"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _positive_int(request, name: str, default: int, maximum: int | None = None) -> int:
    value = request.query_params.get(name, "")
    if value == "":
        return default
    try:
        number = int(value) if is_ascii_digits(value) else None
    except ValueError:  # more digits than int() reads
        number = None
    if number is None or number < 1 or (maximum is not None and number > maximum):
        bound = f" from 1 to {maximum}" if maximum else " of 1 or more"
        raise ValidationError({name: [f"Enter a whole number{bound}."]})
    return number


class RowAfter(Func):
    """`(a, b) > (x, y)`: a row comes after a position in the order of (a, b).

    A row-value comparison, which PostgreSQL and SQLite (3.15+) both read as a range of the
    index on (a, b); Django spells it `a > x OR (a = x AND b > y)` on SQLite, which no index
    serves.
    """

    output_field = models.BooleanField()

    def __init__(self, columns: dict[str, tuple[models.Field, object]]):
        self.width = len(columns)
        expressions = [F(name) for name in columns]
        values = [Value(value, output_field=field) for field, value in columns.values()]
        super().__init__(*expressions, *values)

    def as_sql(self, compiler, connection, **extra_context):
        compiled = [compiler.compile(e) for e in self.get_source_expressions()]
        row = ", ".join(sql for sql, _ in compiled[: self.width])
        position = ", ".join(sql for sql, _ in compiled[self.width :])
        params = [param for _, params in compiled for param in params]
        return f"({row}) > ({position})", params


@dataclass(frozen=True)
class Cursor:
    """A position in one of the two orders of cursor pages; `id` None is the start."""

    by_update: bool
    id: int | None = None
    updated_at: dt.datetime | None = None

    @property
    def ordering(self) -> tuple[str, ...]:
        return ("updated_at", "id") if self.by_update else ("id",)

    def encode(self) -> str:
        if not self.by_update:
            return f"i{self.id}"
        assert self.updated_at is not None
        micros = (self.updated_at - EPOCH) // dt.timedelta(microseconds=1)
        return f"u{micros}.{self.id}"

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        if not text or not re.fullmatch(CURSOR_PATTERN, text):
            raise ValueError(text)
        if text[0] == "i":
            # Past the largest id there is nothing: clamp, so the database is asked nothing
            # it cannot hold.
            return cls(by_update=False, id=min(int(text[1:]), MAX_ID))
        micros, _, pk = text[1:].partition(".")
        updated_at = EPOCH + dt.timedelta(microseconds=int(micros))
        return cls(by_update=True, id=min(int(pk), MAX_ID), updated_at=updated_at)

    def after(self, record) -> "Cursor":
        """The position just after `record`."""
        updated_at = record.updated_at if self.by_update else None
        return Cursor(by_update=self.by_update, id=record.pk, updated_at=updated_at)

    def rows_after(self, queryset):
        """The rows after this position, in its order."""
        if self.id is not None and self.by_update:
            meta = queryset.model._meta
            queryset = queryset.filter(
                RowAfter(
                    {
                        "updated_at": (meta.get_field("updated_at"), self.updated_at),
                        "id": (meta.pk, self.id),
                    }
                )
            )
        elif self.id is not None:
            queryset = queryset.filter(pk__gt=self.id)
        return queryset.order_by(*self.ordering)


def _page_records(view, page):
    """The view's records for a sliced, sorted queryset (the customers add their figures)."""
    records = getattr(view, "page_records", None)
    return records(page) if records is not None else page


def _all_required(properties: dict, **about) -> dict:
    """A JSON Schema object with these properties, every one of them required."""
    return {"type": "object", **about, "required": list(properties), "properties": properties}


class PageNumberPagination(BasePagination):
    """Page numbers, or cursors when the request has `cursor` (see the module's doc)."""

    page_query_param = "page"
    page_size_query_param = "per_page"
    cursor_query_param = "cursor"
    page_size = 50
    max_page_size = 250

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.per_page = _positive_int(
            request, self.page_size_query_param, self.page_size, self.max_page_size
        )
        # A page number is checked with a cursor too, though the cursor decides the page.
        self.page = _positive_int(request, self.page_query_param, 1)
        self.cursor_mode = self.cursor_query_param in request.query_params
        if self.cursor_mode:
            return self._cursor_page(queryset, request, view)
        self.total = queryset.count()
        offset = (self.page - 1) * self.per_page
        # A page past the end is empty, as in Laravel; the database is not asked for it.
        if offset < self.total:
            rows = list(_page_records(view, queryset[offset : offset + self.per_page]))
        else:
            rows = []
        self.offset, self.count = offset, len(rows)
        return rows

    def _cursor_page(self, queryset, request, view):
        text = request.query_params.get(self.cursor_query_param, "")
        if text:
            try:
                cursor = Cursor.decode(text)
            except (ValueError, OverflowError):
                message = "Not a cursor: pass back links.next or meta.next_cursor as given."
                raise ValidationError({self.cursor_query_param: [message]}) from None
        else:
            cursor = Cursor(by_update=request.query_params.get("updated_after", "") != "")
        rows_after = cursor.rows_after(queryset)
        if cursor.by_update:
            # Records stamped from the start of a write transaction still running wait until
            # it ends: it may yet commit records stamped before them (sync_horizon).
            horizon = sync_horizon()
            if horizon is not None:
                rows_after = rows_after.filter(updated_at__lt=horizon)
        # One row more than the page tells whether another page follows.
        page = rows_after[: self.per_page + 1]
        rows = list(_page_records(view, page))
        self.has_next = len(rows) > self.per_page
        rows = rows[: self.per_page]
        self.next_cursor = cursor.after(rows[-1]).encode() if rows else (text or None)
        return rows

    @property
    def last_page(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def _link(self, page: int | None) -> str | None:
        if page is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.page_query_param, page)

    def get_paginated_response(self, data):
        if self.cursor_mode:
            return self._cursor_response(data)
        prev_page = min(self.page - 1, self.last_page) if self.page > 1 else None
        next_page = self.page + 1 if self.page < self.last_page else None
        return Response(
            OrderedDict(
                data=data,
                links={
                    "first": self._link(1),
                    "last": self._link(self.last_page),
                    "prev": self._link(prev_page),
                    "next": self._link(next_page),
                },
                meta={
                    "current_page": self.page,
                    "from": self.offset + 1 if self.count else None,
                    "last_page": self.last_page,
                    "per_page": self.per_page,
                    "to": self.offset + self.count if self.count else None,
                    "total": self.total,
                },
            )
        )

    def _cursor_response(self, data):
        next_link = None
        if self.has_next:
            url = remove_query_param(self.request.build_absolute_uri(), self.page_query_param)
            next_link = replace_query_param(url, self.cursor_query_param, self.next_cursor)
        return Response(
            OrderedDict(
                data=data,
                links={"next": next_link},
                meta={"per_page": self.per_page, "next_cursor": self.next_cursor},
            )
        )

    def get_paginated_response_schema(self, schema):
        # Each style of each list is its own named object (OrderNumberedPage, OrderCursorPage;
        # shared NumberedPageLinks ...): generated clients name a class after each title, so
        # titles must differ. shop.api.schema.name_titled_objects makes each a component.
        item = schema["items"]["$ref"].rsplit("/", 1)[-1]
        link = {"type": "string", "format": "uri", "nullable": True}
        position = {"type": "integer", "nullable": True, "minimum": 1}
        numbered = _all_required(
            {
                "data": schema,
                "links": _all_required(
                    {
                        "first": {"type": "string", "format": "uri"},
                        "last": {"type": "string", "format": "uri"},
                        "prev": link,
                        "next": link,
                    },
                    title="NumberedPageLinks",
                ),
                "meta": _all_required(
                    {
                        "current_page": {"type": "integer", "minimum": 1},
                        "from": position,
                        "last_page": {"type": "integer", "minimum": 1},
                        "per_page": {"type": "integer", "minimum": 1},
                        "to": position,
                        "total": {"type": "integer", "minimum": 0},
                    },
                    title="NumberedPageMeta",
                ),
            },
            title=f"{item}NumberedPage",
            description="A page asked for by number (`page`), with the total.",
        )
        cursor = _all_required(
            {
                "data": schema,
                "links": _all_required(
                    {
                        "next": {
                            **link,
                            "description": "The next page; null when this one is the last.",
                        }
                    },
                    title="CursorPageLinks",
                ),
                "meta": _all_required(
                    {
                        "per_page": {"type": "integer", "minimum": 1},
                        "next_cursor": {
                            "type": "string",
                            "nullable": True,
                            "pattern": CURSOR_PATTERN,
                            "description": (
                                "Where the next page starts, also after the last page: keep "
                                "it to resume a sync later and get what changed since. Null "
                                "only when no record was ever listed."
                            ),
                        },
                    },
                    title="CursorPageMeta",
                    # Closed, so that a numbered page's meta is no cursor page's: clients
                    # tell the two styles apart though next_cursor is optional (it may be null).
                    additionalProperties=False,
                ),
            },
            title=f"{item}CursorPage",
            description="A page asked for by `cursor`: no page numbers, no total.",
        )
        return {"oneOf": [numbered, cursor]}

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "allowEmptyValue": True,
                "description": (
                    "Page number, from 1. A page past the last one is empty. Not used with "
                    "`cursor`."
                ),
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "allowEmptyValue": True,
                "description": (
                    f"Items per page: {self.page_size} by default, at most {self.max_page_size}."
                ),
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "allowEmptyValue": True,
                "description": (
                    "Cursor pages, for syncing: send `cursor=` (empty) for the first page, then "
                    "follow `links.next` until it is null. Sorted by id; when the first request "
                    "has `updated_after`, by updated_at then id, and deleted records are "
                    "listed too (with their `deleted_at`) unless `is_deleted=false`. Keep "
                    "`meta.next_cursor` to resume later with what changed since: a page stops "
                    "before records a write still in progress could commit behind, and they "
                    "come on a later sync. No total is counted; `page` and `ordering` do not "
                    "apply."
                ),
                "schema": {"type": "string", "pattern": CURSOR_PATTERN},
            },
        ]
