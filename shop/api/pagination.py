"""Pages in the Laravel-resource shape: {"data": [...], "links": {...}, "meta": {...}}."""

import re
from collections import OrderedDict

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

# ASCII digits only, as the converted.in feed reads them: int() alone would also read
# "1_0", " 10" and digits of other scripts ("١٠").
DIGITS = re.compile(r"[0-9]+")


def _positive_int(request, name: str, default: int, maximum: int | None = None) -> int:
    value = request.query_params.get(name, "")
    if value == "":
        return default
    try:
        number = int(value) if DIGITS.fullmatch(value) else None
    except ValueError:  # more digits than int() reads
        number = None
    if number is None or number < 1 or (maximum is not None and number > maximum):
        bound = f" from 1 to {maximum}" if maximum else " of 1 or more"
        raise ValidationError({name: [f"Enter a whole number{bound}."]})
    return number


def _page_records(view, page):
    """The view's records for a sliced, sorted queryset (the customers add their figures)."""
    records = getattr(view, "page_records", None)
    return records(page) if records is not None else page


class PageNumberPagination(BasePagination):
    page_query_param = "page"
    page_size_query_param = "per_page"
    page_size = 50
    max_page_size = 250

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page = _positive_int(request, self.page_query_param, 1)
        self.per_page = _positive_int(
            request, self.page_size_query_param, self.page_size, self.max_page_size
        )
        self.total = queryset.count()
        offset = (self.page - 1) * self.per_page
        # A page past the end is empty, as in Laravel; the database is not asked for it.
        if offset < self.total:
            rows = list(_page_records(view, queryset[offset : offset + self.per_page]))
        else:
            rows = []
        self.offset, self.count = offset, len(rows)
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

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "format": "uri", "nullable": True}
        position = {"type": "integer", "nullable": True, "minimum": 1}
        return {
            "type": "object",
            "required": ["data", "links", "meta"],
            "properties": {
                "data": schema,
                "links": {
                    "type": "object",
                    "required": ["first", "last", "prev", "next"],
                    "properties": {
                        "first": {**link, "nullable": False},
                        "last": {**link, "nullable": False},
                        "prev": link,
                        "next": link,
                    },
                },
                "meta": {
                    "type": "object",
                    "required": ["current_page", "from", "last_page", "per_page", "to", "total"],
                    "properties": {
                        "current_page": {"type": "integer", "minimum": 1},
                        "from": position,
                        "last_page": {"type": "integer", "minimum": 1},
                        "per_page": {"type": "integer", "minimum": 1},
                        "to": position,
                        "total": {"type": "integer", "minimum": 0},
                    },
                },
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "Page number, from 1. A page past the last one is empty.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": (
                    f"Items per page: {self.page_size} by default, at most {self.max_page_size}."
                ),
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
