"""Reads of the REST API: one function per use, with explicit order and prefetches."""

from django.db.models import Prefetch, QuerySet

from shop.models import Category, Customer, LineItem, Order, Product


def customers_for_api() -> QuerySet[Customer]:
    """Every customer, deleted too; the filter set adds order stats and liveness."""
    return Customer.objects.order_by("id")


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
