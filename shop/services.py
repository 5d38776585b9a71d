"""Every write to the store's data goes through these functions.

The admin, the REST API, imports and the demo-data command call them, so each rule is
enforced in one place: `full_clean()` before saving, the database's constraints after.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from .models import ZERO, Category, Customer, LineItem, Order, Product, Store

CENT = Decimal("0.01")

# What a caller may write, per entity, in the order forms, imports and the API show them.
CUSTOMER_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "gender",
    "currency",
    "registered_at",
    "accepts_marketing",
)
ORDER_FIELDS = (
    "customer",
    "ordered_at",
    "financial_status",
    "currency",
    "country_code",
    "total_tax",
    "taxes_included",
    "total_discounts",
    "phone",
    "contact_email",
    "customer_locale",
)
# Computed from the line items unless given (imports may carry them).
ORDER_TOTALS = ("subtotal_price", "total_price")
PRODUCT_FIELDS = (
    "title",
    "handle",
    "sku",
    "category",
    "vendor",
    "price",
    "compare_at_price",
    "quantity",
    "image_url",
    "url",
    "published_at",
    "tags",
    "content",
)
CATEGORY_FIELDS = ("title", "handle", "content", "parent", "available", "published_at")
STORE_FIELDS = frozenset(
    {"name", "currency", "time_zone", "email", "description", "country", "base_url"}
)


# A unique constraint that a concurrent write can win past validation, and the field it names.
# (SQLite and PostgreSQL name them differently in their messages.)
CONSTRAINT_FIELDS = [
    (("customer_email_ci_unique",), "email", "A customer with this email already exists."),
    (
        ("shop_product.handle", "shop_product_handle"),
        "handle",
        "A product with this handle already exists.",
    ),
    (
        ("shop_category.handle", "shop_category_handle"),
        "handle",
        "A category with this handle already exists.",
    ),
]


def _assign(instance: models.Model, data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValidationError({name: "This field cannot be set." for name in sorted(unknown)})
    for name, value in data.items():
        setattr(instance, name, value)


def _save(instance: models.Model) -> None:
    """Validate and save; turn a constraint violation that raced past validation into a
    ValidationError."""
    try:
        instance.full_clean()
    except ValidationError as exc:
        raise _name_the_field(exc) from None
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        for names, field, message in CONSTRAINT_FIELDS:
            if any(name in str(exc) for name in names):
                raise ValidationError({field: message}, code="unique") from exc
        raise ValidationError(f"The record breaks a database rule: {exc}") from exc


def _name_the_field(exc: ValidationError) -> ValidationError:
    """Move a unique constraint's message from the form-wide errors to its field."""
    if not hasattr(exc, "error_dict"):
        return exc
    errors = {field: list(messages) for field, messages in exc.error_dict.items()}
    for error in list(errors.get(NON_FIELD_ERRORS, [])):
        for _, field, message in CONSTRAINT_FIELDS:
            if message in error.messages:
                errors[NON_FIELD_ERRORS].remove(error)
                errors.setdefault(field, []).append(error)
    if not errors.get(NON_FIELD_ERRORS):
        errors.pop(NON_FIELD_ERRORS, None)
    return ValidationError(errors)


def _check_email_free(*, email: str, customer_id: int | None) -> None:
    taken = Customer.objects.filter(email__iexact=email)
    if customer_id is not None:
        taken = taken.exclude(pk=customer_id)
    if taken.exists():
        raise ValidationError(
            {"email": "A customer with this email already exists."}, code="unique"
        )


def _mark_deleted(instance, deleted_at):
    """Soft-delete (with a time) or restore (with None); a no-op when already so."""
    if (instance.deleted_at is None) != (deleted_at is None):
        instance.deleted_at = deleted_at
        instance.save(update_fields=["deleted_at", "updated_at"])
    return instance


# Store ---------------------------------------------------------------------------------


@transaction.atomic
def store_update(**data: Any) -> Store:
    store = Store.load()
    _assign(store, data, STORE_FIELDS)
    _save(store)
    return store


# Customers -----------------------------------------------------------------------------


@transaction.atomic
def customer_create(
    *,
    email: str,
    first_name: str,
    last_name: str,
    phone: str = "",
    gender: str = Customer.Gender.UNKNOWN,
    currency: str | None = None,
    registered_at=None,
    accepts_marketing: bool = False,
) -> Customer:
    email = (email or "").strip()
    customer = Customer(
        email=email,
        first_name=(first_name or "").strip(),
        last_name=(last_name or "").strip(),
        phone=(phone or "").strip(),
        gender=gender or Customer.Gender.UNKNOWN,
        currency=currency or Store.load().currency,
        registered_at=registered_at or timezone.now(),
        accepts_marketing=accepts_marketing,
    )
    if email:
        _check_email_free(email=email, customer_id=None)
    _save(customer)
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, **data: Any) -> Customer:
    _assign(customer, data, CUSTOMER_FIELDS)
    if customer.email:
        _check_email_free(email=customer.email, customer_id=customer.pk)
    _save(customer)
    return customer


def customer_soft_delete(*, customer: Customer) -> Customer:
    return _mark_deleted(customer, timezone.now())


def customer_restore(*, customer: Customer) -> Customer:
    return _mark_deleted(customer, None)


# Orders --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineItemInput:
    product: Product
    quantity: int
    price: Decimal | None = None


@dataclass(frozen=True)
class Totals:
    subtotal_price: Decimal
    total_price: Decimal


def order_totals(
    *,
    line_items: Iterable[tuple[int, Decimal]],
    total_tax: Decimal = ZERO,
    taxes_included: bool = False,
    total_discounts: Decimal = ZERO,
) -> Totals:
    """Compute an order's subtotal and total from (quantity, unit price) pairs.

    The total is the subtotal less discounts, plus tax unless prices already include it.
    """
    subtotal = sum((Decimal(price) * quantity for quantity, price in line_items), ZERO)
    subtotal = subtotal.quantize(CENT)
    total = subtotal - Decimal(total_discounts)
    if not taxes_included:
        total += Decimal(total_tax)
    return Totals(subtotal_price=subtotal, total_price=total.quantize(CENT))


def _coerce_line_items(line_items: Iterable[LineItemInput | Mapping]) -> list[LineItemInput]:
    items = [
        item if isinstance(item, LineItemInput) else LineItemInput(**item) for item in line_items
    ]
    if not items:
        raise ValidationError({"line_items": "An order needs at least one line item."})
    return items


def _check_live(*, customer: Customer | None, items: list[LineItemInput] | None) -> None:
    """New orders and new line items may not point at deleted customers or products."""
    errors: dict[str, str] = {}
    if customer is not None and customer.deleted_at is not None:
        errors["customer"] = "This customer is deleted: restore them first."
    for index, item in enumerate(items or []):
        if item.product.deleted_at is not None:
            errors[f"line_items[{index}]"] = "This product is deleted: restore it first."
    if errors:
        raise ValidationError(errors)


def _write_line_items(order: Order, items: list[LineItemInput]) -> None:
    errors: dict[str, list] = {}
    rows = []
    for index, item in enumerate(items):
        row = LineItem(
            order=order,
            product=item.product,
            quantity=item.quantity,
            price=item.product.price if item.price is None else item.price,
            title=item.product.title[:255],
            sku=item.product.sku,
        )
        try:
            row.full_clean(exclude=["order"])
        except ValidationError as exc:
            errors[f"line_items[{index}]"] = exc.messages
        rows.append(row)
    if errors:
        raise ValidationError(errors)
    LineItem.objects.bulk_create(rows)


def _apply_totals(order: Order, items: list[LineItemInput], given: Mapping[str, Any]) -> None:
    totals = order_totals(
        line_items=[(i.quantity, i.product.price if i.price is None else i.price) for i in items],
        total_tax=order.total_tax,
        taxes_included=order.taxes_included,
        total_discounts=order.total_discounts,
    )
    if given.get("subtotal_price") is None:
        order.subtotal_price = totals.subtotal_price
    if given.get("total_price") is None:
        order.total_price = totals.total_price
    if order.total_price < 0:
        raise ValidationError({"total_discounts": "Discounts cannot exceed the subtotal plus tax."})


@transaction.atomic
def order_create(
    *,
    customer: Customer,
    line_items: Iterable[LineItemInput | Mapping],
    financial_status: str = Order.Status.PENDING,
    ordered_at=None,
    currency: str | None = None,
    country_code: str | None = None,
    total_tax: Decimal = ZERO,
    taxes_included: bool = False,
    total_discounts: Decimal = ZERO,
    subtotal_price: Decimal | None = None,
    total_price: Decimal | None = None,
    phone: str | None = None,
    contact_email: str | None = None,
    customer_locale: str = "",
) -> Order:
    """Create an order with its line items in one transaction.

    Currency, phone and contact email default to the customer's, the country to the
    store's; subtotal and total are computed unless given.
    """
    items = _coerce_line_items(line_items)
    _check_live(customer=customer, items=items)
    order = Order(
        customer=customer,
        financial_status=financial_status,
        ordered_at=ordered_at or timezone.now(),
        currency=currency or customer.currency,
        country_code=country_code or Store.load().country.code,
        total_tax=ZERO if total_tax is None else total_tax,
        taxes_included=bool(taxes_included),
        total_discounts=ZERO if total_discounts is None else total_discounts,
        subtotal_price=ZERO if subtotal_price is None else subtotal_price,
        total_price=ZERO if total_price is None else total_price,
        phone=customer.phone if phone is None else phone,
        contact_email=customer.email if contact_email is None else contact_email,
        customer_locale=customer_locale or "",
    )
    order.full_clean(exclude=["subtotal_price", "total_price"])
    _apply_totals(order, items, {"subtotal_price": subtotal_price, "total_price": total_price})
    _save(order)
    _write_line_items(order, items)
    return order


@transaction.atomic
def order_update(
    *,
    order: Order,
    line_items: Iterable[LineItemInput | Mapping] | None = None,
    **data: Any,
) -> Order:
    """Update an order's fields; with line_items, replace them. Totals are recomputed
    unless given."""
    _assign(order, data, ORDER_FIELDS + ORDER_TOTALS)
    if line_items is not None:
        items = _coerce_line_items(line_items)
        _check_live(customer=data.get("customer"), items=items)
    else:
        _check_live(customer=data.get("customer"), items=None)
        items = [
            LineItemInput(product=li.product, quantity=li.quantity, price=li.price)
            for li in order.line_items.select_related("product")
        ]
    order.full_clean(exclude=["subtotal_price", "total_price"])
    _apply_totals(order, items, data)
    _save(order)
    if line_items is not None:
        order.line_items.all().delete()
        _write_line_items(order, items)
    return order


def order_soft_delete(*, order: Order) -> Order:
    return _mark_deleted(order, timezone.now())


def order_restore(*, order: Order) -> Order:
    return _mark_deleted(order, None)


# Products ------------------------------------------------------------------------------


@transaction.atomic
def product_create(**data: Any) -> Product:
    product = Product()
    _assign(product, data, PRODUCT_FIELDS)
    _save(product)
    return product


@transaction.atomic
def product_update(*, product: Product, **data: Any) -> Product:
    _assign(product, data, PRODUCT_FIELDS)
    _save(product)
    return product


def product_soft_delete(*, product: Product) -> Product:
    return _mark_deleted(product, timezone.now())


def product_restore(*, product: Product) -> Product:
    return _mark_deleted(product, None)


# Categories ----------------------------------------------------------------------------


@transaction.atomic
def category_create(**data: Any) -> Category:
    category = Category()
    _assign(category, data, CATEGORY_FIELDS)
    _save(category)
    return category


@transaction.atomic
def category_update(*, category: Category, **data: Any) -> Category:
    _assign(category, data, CATEGORY_FIELDS)
    _save(category)
    return category


def category_soft_delete(*, category: Category) -> Category:
    return _mark_deleted(category, timezone.now())


def category_restore(*, category: Category) -> Category:
    return _mark_deleted(category, None)
