"""converted.in's paging: page and per_page (or its alias par_page) in the body, answered in
Laravel's paginator envelope."""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from core.digits import is_ascii_digits

from .exceptions import InvalidFields

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
# Far past any store's last page, small enough that (page - 1) * per_page fits every database.
MAX_PAGE = 1_000_000_000
# Longer digit strings are not parsed (int() of huge strings is slow), just known to be huge.
_HUGE = 10**30


@dataclass(frozen=True)
class PageRequest:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


class Paged(NamedTuple):
    """One page of an endpoint's items and how many items the endpoint has in all."""

    items: list
    total: int


def positive_int(value, name: str, errors: dict, upper: int | None = None) -> int | None:
    """Read a body field as a positive integer (digits, or a JSON integer); on failure, add
    its message to `errors` and return None."""
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and is_ascii_digits(value):
        digits = value
        number = int(digits) if len(digits) <= 30 else _HUGE
    else:
        number = None
    if number is None or number < 1:
        errors[name] = [f"The {name} must be a positive integer."]
        return None
    if upper is not None and number > upper:
        errors[name] = [f"The {name} must not be greater than {upper}."]
        return None
    return number


def given(data: Mapping, name: str) -> bool:
    return data.get(name) not in (None, "")


class ConvertedInPagination(BasePagination):
    """Read the page a request asks for; write a page of items in converted.in's envelope.

    converted.in's customers page spells per_page as par_page, so both are read; per_page wins
    when both are sent. A per_page above MAX_PER_PAGE is clamped to it. Invalid values are a
    422 with one message per field.
    """

    def __init__(self, page: PageRequest | None = None):
        self.page = page

    def paginate_request(self, request) -> PageRequest:
        """Read page and per_page from the request's body; raise InvalidFields when invalid."""
        self.page = self.page_from(request.data)
        return self.page

    @staticmethod
    def page_from(data: Mapping) -> PageRequest:
        errors: dict = {}
        page: int | None = 1
        if given(data, "page"):
            page = positive_int(data["page"], "page", errors, upper=MAX_PAGE)
        size_name = "per_page" if given(data, "per_page") else "par_page"
        per_page: int | None = DEFAULT_PER_PAGE
        if given(data, size_name):
            per_page = positive_int(data[size_name], size_name, errors)
        if errors or page is None or per_page is None:
            raise InvalidFields(errors)
        return PageRequest(page=page, per_page=min(per_page, MAX_PER_PAGE))

    def envelope(self, paged: Paged) -> dict:
        """Wrap a page of items in converted.in's pagination envelope."""
        page, count = self.page, len(paged.items)
        if page is None:
            raise RuntimeError("paginate_request() reads the page first.")
        return {
            "current_page": page.page,
            "data": paged.items,
            "from": page.offset + 1 if count else None,
            "last_page": max(1, math.ceil(paged.total / page.per_page)),
            "per_page": page.per_page,
            "to": page.offset + count if count else None,
            "total": paged.total,
        }

    def get_paginated_response(self, data: Paged) -> Response:
        return Response(self.envelope(data))
