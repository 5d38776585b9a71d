"""Reading a feed request's body and its paging fields."""

import re
from dataclasses import dataclass

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
# Far past any store's last page, small enough that (page - 1) * per_page fits every database.
MAX_PAGE = 1_000_000_000
_DIGITS = re.compile(r"^[0-9]+$")
# Longer digit strings are not parsed (int() of huge strings is slow), just known to be huge.
_HUGE = 10**30


class FeedError(Exception):
    """A request the feed answers with a JSON error body."""

    def __init__(self, status: int, message: str, errors: dict | None = None, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict:
        body: dict = {"message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


def read_body(request: HttpRequest) -> dict:
    """Return the body's fields (form-data, urlencoded or JSON); raise FeedError if unreadable."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and length > limit:
        raise FeedError(413, "The request body is too large.")
    content_type = request.content_type or ""
    try:
        if content_type == "application/json" or content_type.endswith("+json"):
            return _read_json(request.body)
        if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            return {key: request.POST.get(key) for key in request.POST}
        if not request.body:
            return {}
    except RequestDataTooBig as exc:
        raise FeedError(413, "The request body is too large.") from exc
    except (SuspiciousOperation, MultiPartParserError, UnicodeDecodeError) as exc:
        raise FeedError(400, "The request body could not be read.") from exc
    raise FeedError(
        415, "Send the body as multipart/form-data, application/x-www-form-urlencoded or JSON."
    )


def _read_json(raw: bytes) -> dict:
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FeedError(400, "The request body is not valid UTF-8 JSON.") from exc
    if not isinstance(data, dict):
        raise FeedError(400, "The JSON body must be an object.")
    return data


@dataclass(frozen=True)
class PageRequest:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def _positive_int(value, name: str, errors: dict, upper: int | None = None) -> int | None:
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.match(value.strip()):
        digits = value.strip()
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


def _given(data: dict, name: str) -> bool:
    return data.get(name) not in (None, "")


def page_request(data: dict) -> PageRequest:
    """Read page and per_page (or its alias par_page); raise FeedError(422) when invalid.

    converted.in's customers page spells per_page as par_page, so both are read; per_page wins
    when both are sent. A per_page above MAX_PER_PAGE is clamped to it.
    """
    errors: dict = {}
    page: int | None = 1
    if _given(data, "page"):
        page = _positive_int(data["page"], "page", errors, upper=MAX_PAGE)
    size_name = "per_page" if _given(data, "per_page") else "par_page"
    per_page: int | None = DEFAULT_PER_PAGE
    if _given(data, size_name):
        per_page = _positive_int(data[size_name], size_name, errors)
    if errors or page is None or per_page is None:
        raise FeedError(422, "The given data was invalid.", errors)
    return PageRequest(page=page, per_page=min(per_page, MAX_PER_PAGE))


def collection_id(data: dict) -> int | None:
    """Read the optional collection (category) id of the products endpoint."""
    if not _given(data, "collection_id"):
        return None
    errors: dict = {}
    value = _positive_int(data["collection_id"], "collection_id", errors, upper=2**62)
    if errors:
        raise FeedError(422, "The given data was invalid.", errors)
    return value
