"""Build each endpoint's items, exact to converted.in's contract, from selector rows.

Items are plain dicts built from the selectors' named rows (no serializer per row); the
pagination class wraps them in converted.in's envelope. Money leaves as JSON numbers exact to
the cent (int when whole, else a float whose shortest form has at most 2 decimals); dates as
"YYYY-MM-DD HH:MM:SS" in the store's time zone.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from shop.models import Store
from shop.validators import in_zone

from . import selectors
from .pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE, ConvertedInPagination, Paged, PageRequest
from .renderers import OrjsonRenderer

CENT = Decimal("0.01")
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_TIME_ZONE = Store._meta.get_field("time_zone").default


@lru_cache(maxsize=64)
def _zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(name or DEFAULT_TIME_ZONE)


def money(value) -> int | float | None:
    """Return an amount as a JSON number exact to the cent: 350 stays 350, 199.65 is 199.65."""
    # By exact type, most frequent first: a page calls this for every amount of every row.
    kind = type(value)
    if kind is Decimal:  # PostgreSQL
        cents = value.quantize(CENT, ROUND_HALF_UP)
    elif kind is float:
        # SQLite hands back REAL (and SUM of them); a cent is far above the float's error.
        value = round(value, 2)
        return int(value) if value.is_integer() else value
    elif value is None or isinstance(value, int):
        return value
    else:
        cents = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    return int(cents) if cents == cents.to_integral_value() else float(cents)


def local_time(value, zone: ZoneInfo) -> str | None:
    """Format a stored UTC datetime (an aware datetime, or SQLite's text) in the store's zone."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = in_zone(value, zone)
    if value.year < 1000:  # strftime does not pad the year to 4 digits; isoformat does
        return value.strftime(DATE_FORMAT)
    # "YYYY-MM-DD HH:MM:SS" without the offset: the same text as strftime(DATE_FORMAT),
    # in half the time, once for every row of a page.
    return value.isoformat(" ", "seconds")[:19]


# Items ---------------------------------------------------------------------------------


def order_item(row: selectors.OrderRow, zone: ZoneInfo) -> dict:
    return {
        "id": row.id,
        "ordered_at": local_time(row.ordered_at, zone),
        "total_price": money(row.total_price),
        "subtotal_price": money(row.subtotal_price),
        "total_tax": money(row.total_tax),
        "taxes_included": 1 if row.taxes_included else 0,
        "currency": row.currency,
        "country_code": row.country_code,
        "financial_status": row.financial_status,
        "total_discounts": money(row.total_discounts),
        "phone": row.phone,
        "customer_locale": row.customer_locale or None,
        "contact_email": row.contact_email,
        "line_items": [
            {"product_id": item.product_id, "quantity": item.quantity, "price": money(item.price)}
            for item in row.line_items
        ],
        "customer": {"id": row.customer_id},
    }


def customer_item(row: selectors.CustomerRow, zone: ZoneInfo) -> dict:
    return {
        "id": row.id,
        "email": row.email,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "orders_count": row.orders_count,
        "total_spent": money(row.total_spent) or 0,
        "currency": row.currency,
        "phone": row.phone or None,
        "registered_at": local_time(row.registered_at, zone),
        "gender": row.gender,
    }


def category_item(node: dict, zone: ZoneInfo) -> dict:
    return {
        "id": node["id"],
        "title": node["title"],
        "handle": node["handle"] or None,
        "content": node["content"] or None,
        "subcategories": [category_item(child, zone) for child in node["children"]],
        "available": node["available"],
        "published_at": local_time(node["published_at"], zone),
    }


def product_item(row: dict, store: Store, zone: ZoneInfo) -> dict:
    has_category = row["category_id"] is not None and row["category_deleted_at"] is None
    return {
        "id": row["id"],
        # converted.in's example sends the category id as a string.
        "category_id": str(row["category_id"]) if has_category else None,
        "title": row["title"],
        "handle": row["handle"],
        "full_permalink": row["url"] or urljoin(store.base_url, f"products/{row['handle']}"),
        "image": row["image_url"] or None,
        "content": row["content"],
        "type": row["category_title"] if has_category else None,
        "vendor": row["vendor"] or store.name,
        "compare_at_price": money(row["compare_at_price"]),
        "price": money(row["price"]),
        "quantity": row["quantity"],
        "published_at": local_time(row["published_at"], zone),
        "tags": row["tags"] or None,
    }


# Endpoints -----------------------------------------------------------------------------


def storeinfo_payload() -> dict:
    store = Store.load()
    return {
        "code": 200,
        "data": {
            "name": store.name,
            "currency": store.currency,
            "time_zone": store.time_zone,
            "email": store.email,
            "description": store.description,
            "country": store.country.code,
            "country_code": store.country.code,
        },
    }


def orders_items(*, page: PageRequest) -> Paged:
    result = selectors.orders_page(offset=page.offset, limit=page.per_page)
    zone = _zone(result.time_zone)
    return Paged([order_item(row, zone) for row in result.rows], result.total)


def customers_items(*, page: PageRequest) -> Paged:
    result = selectors.customers_page(offset=page.offset, limit=page.per_page)
    zone = _zone(result.time_zone)
    return Paged([customer_item(row, zone) for row in result.rows], result.total)


def products_items(*, page: PageRequest, collection_id: int | None = None) -> Paged:
    store = Store.load()
    zone = _zone(store.time_zone)
    result = selectors.products_page(
        offset=page.offset, limit=page.per_page, collection_id=collection_id
    )
    return Paged([product_item(row, store, zone) for row in result.rows], result.total)


def categories_items(*, page: PageRequest) -> Paged:
    store = Store.load()
    zone = _zone(store.time_zone)
    top = selectors.category_tree()
    chosen = top[page.offset : page.offset + page.per_page]
    return Paged([category_item(node, zone) for node in chosen], len(top))


def record_item(endpoint: str, record_id: int, *, store: Store | None = None) -> dict | None:
    """Return one record's item as the feed's `endpoint` lists it, built by the same functions;
    a soft-deleted record gets the item it would have if live. None when no such row exists.
    A caller building many items passes the store, read once."""
    store = store or Store.load()
    zone = _zone(store.time_zone)
    if endpoint == "orders":
        order = selectors.order_row(record_id)
        return None if order is None else order_item(order, zone)
    if endpoint == "customers":
        customer = selectors.customer_row(record_id)
        return None if customer is None else customer_item(customer, zone)
    if endpoint == "products":
        product = selectors.product_row(record_id)
        return None if product is None else product_item(product, store, zone)
    if endpoint == "categories":
        node = selectors.category_node(record_id)
        return None if node is None else category_item(node, zone)
    raise KeyError(endpoint)


# The items of a page of each paged endpoint; the pagination class wraps them.
PAGES: dict[str, Callable[..., Paged]] = {
    "categories": categories_items,
    "products": products_items,
    "customers": customers_items,
    "orders": orders_items,
}
PAGED = frozenset(PAGES)
ENDPOINTS = ("storeinfo", *PAGES)


def build_payload(
    endpoint: str,
    *,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
    collection_id: int | None = None,
) -> dict:
    """Return the payload `endpoint` answers for a page, as converted.in receives it.

    No token is involved: callers are staff tools (the feed's views authenticate first).
    Raises KeyError for an unknown endpoint and ValueError for a page or size below 1.
    """
    if page < 1 or per_page < 1:
        raise ValueError("page and per_page start at 1.")
    if endpoint == "storeinfo":
        return storeinfo_payload()
    items = PAGES[endpoint]
    pagination = ConvertedInPagination(PageRequest(page=page, per_page=min(per_page, MAX_PER_PAGE)))
    filters = {"collection_id": collection_id} if endpoint == "products" else {}
    return pagination.envelope(items(page=pagination.page, **filters))


def render_endpoint(endpoint: str, **page) -> bytes:
    """Return the exact JSON bytes the feed answers for a page of `endpoint` (the keywords
    of build_payload)."""
    payload = build_payload(endpoint, **page)
    return OrjsonRenderer().render(payload)
