"""Reads of the REST API: one function per use, with explicit order and prefetches."""

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
