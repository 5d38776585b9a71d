"""Reads of the REST API: one function per use, with explicit order and prefetches."""

from django.db.models import Prefetch, QuerySet

from shop.models import (
    Category,
    CategoryQuerySet,
    Customer,
    LineItem,
    Order,
    OrderQuerySet,
    Product,
    ProductQuerySet,
    SoftDeleteQuerySet,
)

MAX_ID = 2**63 - 1


def _one(queryset: SoftDeleteQuerySet, *, pk: int, include_deleted: bool):
    if not 1 <= pk <= MAX_ID:
        return None
    if not include_deleted:
        queryset = queryset.alive()
    return queryset.filter(pk=pk).first()


def customers_for_api() -> QuerySet[Customer]:
    """Every customer, deleted too; the filter set adds order stats and liveness."""
    return Customer.objects.order_by("id")


def customer_for_api(*, pk: int, include_deleted: bool = False, currency: str | None = None):
    queryset = Customer.objects.with_order_stats(currency=currency)
    return _one(queryset, pk=pk, include_deleted=include_deleted)


def orders_for_api() -> OrderQuerySet:
    return Order.objects.order_by("id").prefetch_related(
        Prefetch("line_items", queryset=LineItem.objects.order_by("id"))
    )


def order_for_api(*, pk: int, include_deleted: bool = False):
    return _one(orders_for_api(), pk=pk, include_deleted=include_deleted)


def products_for_api() -> ProductQuerySet:
    return Product.objects.order_by("id")


def product_for_api(*, pk: int, include_deleted: bool = False):
    return _one(products_for_api(), pk=pk, include_deleted=include_deleted)


def categories_for_api() -> CategoryQuerySet:
    return Category.objects.order_by("id")


def category_for_api(*, pk: int, include_deleted: bool = False):
    return _one(categories_for_api(), pk=pk, include_deleted=include_deleted)
