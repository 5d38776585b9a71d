"""Every write to the store's data goes through these functions.

The admin, the REST API, imports and the demo-data command call them, so each rule is
enforced in one place: `full_clean()` before saving, the database's constraints after.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from . import figures, history, signals
from .cleaning import full_clean
from .models import (
    ZERO,
    Category,
    Customer,
    LineItem,
    Order,
    Product,
    Store,
    store_currency,
)
from .validators import validate_past_date, validate_showable_date

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Field:
    """A field a caller may write.

    With a `default`, the field is optional: on create, a missing or blank value (None or "")
    takes `default(values)`, where `values` are the fields resolved before it (so an order's
    currency can come from its customer); on update, a blank value keeps the record's value.
    Without one, the value is taken as given and validation decides.
    """

    name: str
    default: Callable[[Mapping[str, Any]], Any] | None = None
    # Checks of a given value beyond the model's own validators (e.g. dates in range).
    check: Callable[[Any], None] | None = None


def _now(values: Mapping[str, Any]) -> datetime:
    return timezone.now()


def clock_defaults(spec: Iterable[Field], data: Mapping[str, Any]) -> list[str]:
    """The fields a create from `data` (a form's or a file row's cells) sets to the time of
    the write: not given, or blank."""
    return [f.name for f in spec if f.default is _now and not str(data.get(f.name) or "").strip()]


def _constant(value: Any) -> Callable[[Mapping[str, Any]], Any]:
    return lambda values: value


def _from_customer(attribute: str) -> Callable[[Mapping[str, Any]], Any]:
    def default(values: Mapping[str, Any]) -> Any:
        customer = values.get("customer")
        return getattr(customer, attribute) if customer is not None else None

    return default


def _store_country(values: Mapping[str, Any]) -> str:
    return Store.load().country.code


# What a caller may write, per entity, in the order forms, imports and the API show them,
# with each field's default. Every door reads these; none repeats a default.
CUSTOMER_SPEC = (
    Field("email"),
    Field("first_name"),
    Field("last_name"),
    Field("phone", _constant("")),
    Field("gender", _constant(Customer.Gender.UNKNOWN)),
    Field("currency", lambda values: store_currency()),
    Field("registered_at", _now, check=validate_past_date),
    Field("accepts_marketing", _constant(False)),
)
ORDER_SPEC = (
    Field("customer"),
    Field("ordered_at", _now, check=validate_past_date),
    Field("financial_status", _constant(Order.Status.PENDING)),
    Field("currency", _from_customer("currency")),
    Field("country_code", _store_country),
    Field("total_tax", _constant(ZERO)),
    Field("taxes_included", _constant(False)),
    Field("total_discounts", _constant(ZERO)),
    Field("phone", _from_customer("phone")),
    Field("contact_email", _from_customer("email")),
    Field("customer_locale", _constant("")),
    Field("reference", _constant(None)),
)
# Computed from the line items unless given (imports of historical orders may carry them).
ORDER_TOTALS_SPEC = (Field("subtotal_price"), Field("total_price"))
PRODUCT_SPEC = (
    Field("title"),
    Field("handle"),
    Field("sku", _constant("")),
    Field("category"),
    Field("vendor", _constant("")),
    Field("price", _constant(ZERO)),
    Field("compare_at_price"),
    Field("quantity", _constant(0)),
    Field("image_url", _constant("")),
    Field("url", _constant("")),
    Field("published_at", check=validate_showable_date),
    Field("tags", _constant("")),
    Field("content", _constant("")),
)
CATEGORY_SPEC = (
    Field("title"),
    Field("handle"),
    Field("content", _constant("")),
    Field("parent"),
    Field("available", _constant(True)),
    Field("published_at", check=validate_showable_date),
)
STORE_SPEC = tuple(
    Field(name)
    for name in ("name", "currency", "time_zone", "email", "description", "country", "base_url")
)


# Every entity's spec, by model: what the import resources' columns are built from.
SPECS: dict[type[models.Model], tuple[Field, ...]] = {
    Customer: CUSTOMER_SPEC,
    Order: ORDER_SPEC + ORDER_TOTALS_SPEC,
    Product: PRODUCT_SPEC,
    Category: CATEGORY_SPEC,
    Store: STORE_SPEC,
}


def field_names(spec: Iterable[Field]) -> tuple[str, ...]:
    return tuple(field.name for field in spec)


CUSTOMER_FIELDS = field_names(CUSTOMER_SPEC)
ORDER_FIELDS = field_names(ORDER_SPEC)
ORDER_TOTALS = field_names(ORDER_TOTALS_SPEC)
PRODUCT_FIELDS = field_names(PRODUCT_SPEC)
CATEGORY_FIELDS = field_names(CATEGORY_SPEC)
STORE_FIELDS = field_names(STORE_SPEC)

# A unique constraint, the field it names, and how SQLite's and PostgreSQL's messages name it
# when a concurrent write wins past validation.
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
    (
        ("order_reference_unique", "shop_order.reference"),
        "reference",
        "An order with this reference already exists.",
    ),
]


def _blank(value: Any) -> bool:
    return value is None or value == ""


def assign(instance: models.Model, spec: Iterable[Field], data: Mapping[str, Any]) -> None:
    """Set `data` on `instance` by `spec`: refuse unknown fields, strip text, fill defaults.

    Raises ValidationError keyed by field.
    """
    spec = tuple(spec)
    unknown = set(data) - set(field_names(spec))
    if unknown:
        raise ValidationError({name: "This field cannot be set." for name in sorted(unknown)})
    creating = instance._state.adding
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for field in spec:
        if field.name in data:
            value = data[field.name]
            value = value.strip() if isinstance(value, str) else value
            if field.default is not None and _blank(value):
                value = field.default(values) if creating else getattr(instance, field.name)
        elif creating and field.default is not None:
            value = field.default(values)
        else:
            value = getattr(instance, field.name, None)
            values[field.name] = value
            continue
        if field.check is not None and not _blank(value):
            try:
                field.check(value)
            except ValidationError as exc:
                errors[field.name] = exc.messages
        setattr(instance, field.name, value)
        values[field.name] = value
    if errors:
        raise ValidationError(errors)


def validate(instance: models.Model, *, exclude: Iterable[str] = ()) -> None:
    """full_clean() (its check constraints in one query), with a unique constraint's message
    on the field it names."""
    try:
        full_clean(instance, exclude=exclude)
    except ValidationError as exc:
        raise _name_the_field(exc) from None


def _save(instance: models.Model) -> None:
    """Save a validated instance; a constraint violation that raced past validation becomes a
    ValidationError on its field."""
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


def _prepare(instance, spec: Iterable[Field], data: Mapping[str, Any]):
    assign(instance, spec, data)
    validate(instance)
    return instance


def _changed(instance, action: str) -> None:
    """Tell other apps, inside the write's transaction, which records this write changed."""
    changes = [(type(instance), instance.pk, action)]
    if isinstance(instance, Order):
        changes.append((Customer, instance.customer_id, "update"))
    signals.records_changed.send(sender=type(instance), changes=changes)


def _write(instance, spec: Iterable[Field], data: Mapping[str, Any]):
    action = "create" if instance._state.adding else "update"
    _save(_prepare(instance, spec, data))
    history.record(instance, action)
    if not isinstance(instance, Store):
        _changed(instance, action)
    return instance


@transaction.atomic
def _mark_deleted(instance, deleted_at):
    """Soft-delete (with a time) or restore (with None); a no-op when already so."""
    if (instance.deleted_at is None) != (deleted_at is None):
        order = isinstance(instance, Order)
        before = figures.order_contribution(instance.pk, lock=True) if order else None
        instance.deleted_at = deleted_at
        instance.save(update_fields=["deleted_at", "updated_at"])
        history.record(instance, "restore" if deleted_at is None else "delete")
        if before is not None:
            figures.record(before, figures.order_contribution(instance.pk))
        _changed(instance, "create" if deleted_at is None else "delete")
    return instance


# Store ---------------------------------------------------------------------------------


@transaction.atomic
def store_update(**data: Any) -> Store:
    return _write(Store.load(), STORE_SPEC, data)


# Customers -----------------------------------------------------------------------------


def customer_prepare(*, customer: Customer, **data: Any) -> Customer:
    """Fill and validate a customer without saving: what customer_create and customer_update
    check, for forms and imports that report errors before they write."""
    return _prepare(customer, CUSTOMER_SPEC, data)


@transaction.atomic
def customer_create(*, id: int | None = None, **data: Any) -> Customer:
    """Create a customer; `id` keeps the id a record had elsewhere (an import), when free."""
    return _write(Customer(pk=id), CUSTOMER_SPEC, data)


@transaction.atomic
def customer_update(*, customer: Customer, **data: Any) -> Customer:
    return _write(customer, CUSTOMER_SPEC, data)


def _refuse_if_any(queryset, *, field: str, message: str, shown: int = 5) -> None:
    """Raise ValidationError on `field` naming the first ids of `queryset`, if it has rows."""
    ids = list(queryset.order_by("id").values_list("id", flat=True)[: shown + 1])
    if ids:
        listed = ", ".join(f"#{pk}" for pk in ids[:shown]) + (", …" if len(ids) > shown else "")
        raise ValidationError({field: f"{message} ({listed})."}, code="protected")


def customer_soft_delete(*, customer: Customer) -> Customer:
    """Delete a customer who has no live orders: the feed never lists an order whose customer
    it does not list."""
    _refuse_if_any(
        customer.orders.alive(),
        field="orders",
        message="This customer has live orders: delete them first",
    )
    return _mark_deleted(customer, timezone.now())


def customer_restore(*, customer: Customer) -> Customer:
    return _mark_deleted(customer, None)


# Orders --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineItemInput:
    product: Product
    quantity: int
    price: Decimal | None = None

    @property
    def unit_price(self) -> Decimal:
        return self.product.price if self.price is None else self.price


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
    total = subtotal - Decimal(total_discounts or ZERO)
    if not taxes_included:
        total += Decimal(total_tax or ZERO)
    return Totals(subtotal_price=subtotal, total_price=total.quantize(CENT))


def _line_item_inputs(line_items: Iterable[LineItemInput | Mapping]) -> list[LineItemInput]:
    return [
        item if isinstance(item, LineItemInput) else LineItemInput(**item) for item in line_items
    ]


def _line_item_rows(order: Order, items: list[LineItemInput], *, new: bool) -> list[LineItem]:
    """Build and validate the line item rows; raise ValidationError keyed `line_items[i]`.

    New line items may not point at deleted products (kept ones may).
    """
    if not items:
        raise ValidationError({"line_items": "An order needs at least one line item."})
    errors: dict[str, list[str]] = {}
    rows = []
    for index, item in enumerate(items):
        row = LineItem(
            order=order,
            product=item.product,
            quantity=item.quantity,
            price=item.unit_price,
            title=item.product.title[:255],
            sku=item.product.sku,
        )
        messages = []
        if new and item.product.deleted_at is not None:
            messages.append("This product is deleted: restore it first.")
        try:
            full_clean(row, exclude=["order"])
        except ValidationError as exc:
            messages += exc.messages
        if messages:
            errors[f"line_items[{index}]"] = messages
        rows.append(row)
    if errors:
        raise ValidationError(errors)
    return rows


def order_prepare(*, order: Order, **data: Any) -> Order:
    """Fill and validate an order's own fields without saving (line items and totals apart).

    Currency, phone and contact email default to the customer's, the country to the store's.
    """
    assign(order, ORDER_SPEC + ORDER_TOTALS_SPEC, data)
    customer = order.customer if order.customer_id else None
    if customer is None:
        raise ValidationError({"customer": "Choose the order's customer."})
    errors: dict[str, Any] = {}
    if "customer" in data and customer.deleted_at is not None:
        errors["customer"] = "This customer is deleted: restore them first."
    if not order.phone:
        errors["phone"] = "The customer has no phone: enter one for this order."
    try:
        validate(order, exclude=[*errors, "subtotal_price", "total_price"])
    except ValidationError as exc:
        raise ValidationError(exc.update_error_dict(errors)) from None
    if errors:
        raise ValidationError(errors)
    return order


def order_prepare_items(
    *,
    order: Order,
    line_items: Iterable[LineItemInput | Mapping],
    totals_given: Iterable[str] = (),
    new: bool = True,
) -> list[LineItem]:
    """Validate an order's line items and compute its totals (unless given): discounts may
    not exceed the subtotal plus tax. Return the unsaved line item rows."""
    items = _line_item_inputs(line_items)
    rows = _line_item_rows(order, items, new=new)
    totals = order_totals(
        line_items=[(item.quantity, item.unit_price) for item in items],
        total_tax=order.total_tax,
        taxes_included=order.taxes_included,
        total_discounts=order.total_discounts,
    )
    if "subtotal_price" not in totals_given:
        order.subtotal_price = totals.subtotal_price
    if "total_price" not in totals_given:
        order.total_price = totals.total_price
    if order.total_price is not None and order.total_price < 0:
        raise ValidationError({"total_discounts": "Discounts cannot exceed the subtotal plus tax."})
    return rows


# The amounts an order's totals are checked with (the constraint order_amounts_gte_0).
ORDER_AMOUNTS = ("subtotal_price", "total_tax", "total_discounts", "total_price")
_ORDER_FIELD_NAMES = tuple(field.name for field in Order._meta.fields)


def _given_totals(data: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(name for name in ORDER_TOTALS if data.get(name) is not None)


def _write_order(order: Order, line_items, data: Mapping[str, Any]) -> Order:
    action = "create" if order._state.adding else "update"
    customer_before = order.customer_id
    figures_before = figures.order_contribution(
        None if order._state.adding else order.pk, lock=True
    )
    order_prepare(order=order, **data)
    replace = line_items is not None
    if line_items is None:
        line_items = [
            LineItemInput(product=li.product, quantity=li.quantity, price=li.price)
            for li in order.line_items.select_related("product")
        ]
    rows = order_prepare_items(
        order=order, line_items=line_items, totals_given=_given_totals(data), new=replace
    )
    # The totals are known now: check them and the rules on amounts (order_prepare checked
    # the other fields, which nothing has changed since).
    validate(order, exclude=[name for name in _ORDER_FIELD_NAMES if name not in ORDER_AMOUNTS])
    items_before: list[dict] | None = []
    if replace and action == "update" and history.recording():
        # The items replaced, for the order's history (the one read history adds).
        items_before = history.line_item_values(
            order.line_items.order_by("id").values("product_id", "title", "quantity", "price")
        )
    _save(order)
    items = (items_before, history.line_item_values(rows)) if replace else None
    history.record(order, action, line_items=items)
    if replace:
        order.line_items.all().delete()
        for row in rows:
            row.order = order
        LineItem.objects.bulk_create(rows)
    figures.record(figures_before, figures.order_contribution(order.pk))
    _changed(order, action)
    if customer_before is not None and customer_before != order.customer_id:
        signals.records_changed.send(sender=Order, changes=[(Customer, customer_before, "update")])
    return order


@transaction.atomic
def order_create(
    *, line_items: Iterable[LineItemInput | Mapping], id: int | None = None, **data: Any
) -> Order:
    """Create an order with its line items in one transaction; totals are computed unless
    given. `id` keeps the id the order had elsewhere (an import), when free."""
    return _write_order(Order(pk=id), list(line_items), data)


@transaction.atomic
def order_update(
    *,
    order: Order,
    line_items: Iterable[LineItemInput | Mapping] | None = None,
    **data: Any,
) -> Order:
    """Update an order's fields; with line_items, replace them. Totals are recomputed
    unless given."""
    return _write_order(order, None if line_items is None else list(line_items), data)


def order_soft_delete(*, order: Order) -> Order:
    return _mark_deleted(order, timezone.now())


def order_restore(*, order: Order) -> Order:
    if order.deleted_at is not None and order.customer.deleted_at is not None:
        raise ValidationError(
            {"customer": "This order's customer is deleted: restore the customer first."},
            code="protected",
        )
    return _mark_deleted(order, None)


# Products ------------------------------------------------------------------------------


def product_prepare(*, product: Product, **data: Any) -> Product:
    return _prepare(product, PRODUCT_SPEC, data)


@transaction.atomic
def product_create(*, id: int | None = None, **data: Any) -> Product:
    """Create a product; `id` keeps the id a record had elsewhere (an import), when free."""
    return _write(Product(pk=id), PRODUCT_SPEC, data)


@transaction.atomic
def product_update(*, product: Product, **data: Any) -> Product:
    return _write(product, PRODUCT_SPEC, data)


def product_soft_delete(*, product: Product) -> Product:
    return _mark_deleted(product, timezone.now())


def product_restore(*, product: Product) -> Product:
    return _mark_deleted(product, None)


# Categories ----------------------------------------------------------------------------


def category_prepare(*, category: Category, **data: Any) -> Category:
    return _prepare(category, CATEGORY_SPEC, data)


@transaction.atomic
def category_create(*, id: int | None = None, **data: Any) -> Category:
    """Create a category; `id` keeps the id a record had elsewhere (an import), when free."""
    return _write(Category(pk=id), CATEGORY_SPEC, data)


@transaction.atomic
def category_update(*, category: Category, **data: Any) -> Category:
    return _write(category, CATEGORY_SPEC, data)


def category_soft_delete(*, category: Category) -> Category:
    """Delete a category with no live subcategories and no live products."""
    _refuse_if_any(
        category.subcategories.alive(),
        field="subcategories",
        message="This category has live subcategories: delete or move them first",
    )
    _refuse_if_any(
        category.products.alive(),
        field="products",
        message="This category has live products: delete or move them first",
    )
    return _mark_deleted(category, timezone.now())


def category_restore(*, category: Category) -> Category:
    return _mark_deleted(category, None)


# Every entity's writes, for the doors that handle them alike (the admin, imports) ---------


@dataclass(frozen=True)
class Writes:
    spec: tuple[Field, ...]
    kwarg: str  # the keyword naming the record: customer_update(customer=...)
    prepare: Callable[..., Any]
    create: Callable[..., Any]
    update: Callable[..., Any]
    soft_delete: Callable[..., Any]
    restore: Callable[..., Any]


def _writes(spec: tuple[Field, ...], kwarg: str) -> Writes:
    """An entity's writes, found by their names: `<kwarg>_prepare`, `<kwarg>_create`, ..."""
    functions = globals()
    return Writes(
        spec=spec,
        kwarg=kwarg,
        **{action: functions[f"{kwarg}_{action}"] for action in WRITE_ACTIONS},
    )


WRITE_ACTIONS = ("prepare", "create", "update", "soft_delete", "restore")
WRITES: dict[type[models.Model], Writes] = {
    Customer: _writes(CUSTOMER_SPEC, "customer"),
    Order: _writes(ORDER_SPEC, "order"),
    Product: _writes(PRODUCT_SPEC, "product"),
    Category: _writes(CATEGORY_SPEC, "category"),
}
