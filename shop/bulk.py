"""Batch writes: many customers, products or orders at once, by the services' own rules.

Each record runs the same prepare functions as a single write (`shop.services`), inside
`cleaning.deferred()`: the fields are checked in Python and the check constraints of the
whole batch in one query per model. Records name existing ones by natural key (a customer by
email in any case, a product by handle, an order by reference; an order without one is always
new), found in one query. The batch is then written with bulk inserts and updates: records,
line items, the dashboard's figures (one upsert per table) and the outbox (one signal for
the batch, each change once).

A record refused leaves the others written, unless `all_or_nothing`: then nothing is.
A write that a concurrent one beats to a natural key raises IntegrityError: nothing is written.
"""

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection, models, router, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from core import inserts

from . import cleaning, figures, history, services, signals
from .models import REFERENCE_GIVEN, Customer, LineItem, Order, Product, Store

CREATED, UPDATED, ERROR = "created", "updated", "error"
NOT_WRITTEN = "Not written: another record of this request was refused (all_or_nothing)."


@dataclass
class Result:
    """What became of one record: created or updated (with its id), or refused (errors)."""

    index: int
    status: str = ""
    id: int | None = None
    errors: ValidationError | None = None

    def refuse(self, error: ValidationError) -> None:
        self.status = ERROR
        self.errors = error if self.errors is None else _merge(self.errors, error)


@dataclass
class _Item:
    result: Result
    data: dict
    instance: Any = None
    rows: list = field(default_factory=list)
    customer_before: int | None = None
    # An order updated without line items keeps its rows (built only for its totals).
    keep_rows: bool = False


# What an import builds for each record it writes.
Item = _Item


def _merge(first: ValidationError, second: ValidationError) -> ValidationError:
    return ValidationError(second.update_error_dict(first.update_error_dict({})))


@dataclass(frozen=True)
class _Key:
    field: str
    normal: Callable[[str], str]
    lookup: Callable[[Any, list[str]], Any]  # (queryset, normal keys) -> matching records
    # A deleted record holds the key: the error the single write's unique check gives.
    taken: Callable[[], ValidationError]


def _by_email(queryset, keys: list[str]):
    return queryset.alias(email_lower=Lower("email")).filter(email_lower__in=keys)


def _constraint_error(model: type[models.Model], name: str, field: str) -> ValidationError:
    (constraint,) = [c for c in model._meta.constraints if c.name == name]
    message = constraint.get_violation_error_message()
    return ValidationError({field: ValidationError(message, code="unique")})


KEYS: dict[type[models.Model], _Key] = {
    Customer: _Key(
        "email",
        str.lower,
        _by_email,
        lambda: _constraint_error(Customer, "customer_email_ci_unique", "email"),
    ),
    Product: _Key(
        "handle",
        str,
        lambda qs, keys: qs.filter(handle__in=keys),
        lambda: ValidationError({"handle": Product().unique_error_message(Product, ("handle",))}),
    ),
    Order: _Key(
        "reference",
        str,
        lambda qs, keys: qs.filter(REFERENCE_GIVEN, reference__in=keys),
        lambda: _constraint_error(Order, "order_reference_unique", "reference"),
    ),
}

NATURAL_KEYS = frozenset(key.field for key in KEYS.values())


def _key_of(model, data: Mapping[str, Any]) -> str | None:
    value = data.get(KEYS[model].field)
    if not isinstance(value, str) or not value.strip():
        return None
    return KEYS[model].normal(value.strip())


def _match(model, items: list[_Item], queryset) -> None:
    """Give each item its record: the existing one its natural key names (one query for the
    batch, rows locked), else a new one. A key given twice refuses the later records; a key a
    deleted record holds is refused as the unique constraint would."""
    key = KEYS[model]
    keys = sorted({k for item in items if (k := _key_of(model, item.data)) is not None})
    existing = {}
    if keys:
        found = key.lookup(queryset.select_for_update(of=("self",)), keys)
        existing = {key.normal(getattr(record, key.field)): record for record in found}
    first: dict[str, int] = {}
    for item in items:
        name = _key_of(model, item.data)
        item.instance = model()
        if name is None:
            continue
        if name in first:
            item.result.refuse(
                ValidationError(
                    {
                        key.field: f"Record {first[name]} of this request has this "
                        f"{key.field} too: send each {model._meta.verbose_name} once."
                    }
                )
            )
            continue
        first[name] = item.result.index
        record = existing.get(name)
        if record is not None and record.deleted_at is not None:
            item.result.refuse(key.taken())
        elif record is not None:
            item.instance = record


def _check_batch(items: list[_Item], queued) -> None:
    """Add to each record the check constraints its values break (one query per model)."""
    failing = cleaning.failing_checks_of_batch(
        queued.values(),
        max_params=min(30_000, connection.features.max_query_params or 30_000),
    )
    owners: dict[int, _Item] = {}
    for item in items:
        owners[id(item.instance)] = item
        for row in item.rows:
            owners[id(row)] = item
    for instance_id, constraints in failing.items():
        item = owners[instance_id]
        messages = [
            ValidationError(c.get_violation_error_message(), code=c.violation_error_code)
            for c in constraints
        ]
        if isinstance(item.instance, Order) and instance_id != id(item.instance):
            # As _line_item_rows names them: line_items[i].
            index = next(i for i, row in enumerate(item.rows) if id(row) == instance_id)
            error = ValidationError({f"line_items[{index}]": messages})
        else:
            error = ValidationError({NON_FIELD_ERRORS: messages})
        item.result.refuse(error)


check_batch = _check_batch


def _outcome(items: list[_Item], all_or_nothing: bool) -> list[_Item]:
    """The items to write: the good ones, or none if any was refused and all_or_nothing."""
    refused = any(item.result.status == ERROR for item in items)
    if refused and all_or_nothing:
        for item in items:
            if item.result.status != ERROR:
                item.result.refuse(ValidationError({NON_FIELD_ERRORS: NOT_WRITTEN}))
        return []
    return [item for item in items if item.result.status != ERROR]


def _changed(changes: Iterable[tuple[type, int | None, str]]) -> None:
    """Send the batch's changes once, each (model, id, action) once, in their order."""
    unique = list(dict.fromkeys(change for change in changes if change[1] is not None))
    if unique:
        signals.records_changed.send(sender=Order, changes=unique)


def _record(written: list[_Item], line_items: Mapping[int, list[dict]] | None = None) -> None:
    """The batch's history: one entry per record written, in one INSERT. For orders,
    `line_items` holds each updated order's line items before the write (as history keeps
    them); an order that keeps its rows records no line item change."""
    if not history.recording():
        return
    now = timezone.now()
    entries = []
    for item in written:
        created = item.result.status == CREATED
        items = None
        if line_items is not None and not item.keep_rows:
            before = [] if created else line_items.get(item.instance.pk, [])
            items = (before, history.line_item_values(item.rows))
        action = "create" if created else "update"
        entries.append(history.entry(item.instance, action, line_items=items, at=now))
    history.record_batch(entries)


def use_the_real_variable_limit() -> None:
    """Let bulk inserts on SQLite bind as many values a query as its build allows (32,766
    since 3.32) rather than Django's 999: a batch of 1,000 orders is one INSERT."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        connection.features.max_query_params = limit


def _items(records: Sequence[tuple[int, dict]]) -> list[_Item]:
    return [_Item(result=Result(index=index), data=dict(data)) for index, data in records]


# Customers and products ----------------------------------------------------------------


def _write_records(
    model: Any,
    records: Sequence[tuple[int, dict]],
    *,
    all_or_nothing: bool,
    fields: Sequence[str],
) -> list[Result]:
    prepare = services.WRITES[model].prepare
    kwarg = services.WRITES[model].kwarg
    use_the_real_variable_limit()
    items = _items(records)
    with Store.kept(), cleaning.deferred() as queued:
        _match(model, items, model.objects.all())
        for item in items:
            if item.result.status == ERROR:
                continue
            try:
                prepare(**{kwarg: item.instance}, **item.data)
            except ValidationError as exc:
                item.result.refuse(exc)
    _check_batch([item for item in items if item.result.status != ERROR], queued)
    written = _outcome(items, all_or_nothing)
    save(model, written, fields=fields)
    return [item.result for item in items]


def save(
    model: Any,
    written: list[_Item],
    *,
    fields: Sequence[str],
    before: Mapping[int, figures.Contribution] | None = None,
    lines_before: Mapping[int, list[dict]] | None = None,
) -> None:
    """Write items prepared and checked: insert the new records and update the others (for
    orders, their line items and the dashboard's figures too, from `before`: what each
    updated order added as stored, and `lines_before`: its line items as history keeps
    them), record the history in one INSERT, then send the changes once."""
    if written:
        inserts.plan_checks_afresh(router.db_for_write(model))
    for item in written:
        item.result.status = CREATED if item.instance._state.adding else UPDATED
    new = [item.instance for item in written if item.instance._state.adding]
    old = [item.instance for item in written if not item.instance._state.adding]
    inserts.insert(model, new, returning_ids=True)
    _bulk_update(model, old, fields)
    for item in written:
        item.result.id = item.instance.pk
    if model is Order:
        _save_order_rows(written, old, before or {}, lines_before or {})
    else:
        _record(written)
        _changed(
            (model, item.instance.pk, "create" if item.result.status == CREATED else "update")
            for item in written
        )


def _bulk_update(model: Any, instances: list, fields: Sequence[str]) -> None:
    if instances:
        now = timezone.now()
        for instance in instances:
            instance.updated_at = now
        model.objects.bulk_update(instances, [*fields, "updated_at"])


@transaction.atomic
def customers_write(
    *, records: Sequence[tuple[int, dict]], all_or_nothing: bool = False
) -> list[Result]:
    """Create or update customers (matched by email, in any case): `records` are (index,
    fields as customer_create takes them)."""
    return _write_records(
        Customer, records, all_or_nothing=all_or_nothing, fields=services.CUSTOMER_FIELDS
    )


@transaction.atomic
def products_write(
    *, records: Sequence[tuple[int, dict]], all_or_nothing: bool = False
) -> list[Result]:
    """Create or update products (matched by handle)."""
    return _write_records(
        Product, records, all_or_nothing=all_or_nothing, fields=services.PRODUCT_FIELDS
    )


# Orders ----------------------------------------------------------------------------------

# An order's own fields beside the amounts: checked by order_prepare, before the totals are.
_NOT_AMOUNTS = [f.name for f in Order._meta.fields if f.name not in services.ORDER_AMOUNTS]


def _sum(contributions: Iterable[figures.Contribution]) -> figures.Contribution:
    total = figures.Contribution()
    for contribution in contributions:
        for model, table in contribution.rows.items():
            for key, counts in table.items():
                total.add(model, key, counts)
    return total


def _contribution(order: Order, items: Iterable[tuple[int, int, Any]]) -> figures.Contribution:
    if order.deleted_at is not None or order.financial_status != figures.SUCCESSFUL:
        items = []
    return figures.contribution(
        **{name: getattr(order, name) for name in figures.ORDER_COLUMNS}, line_items=items
    )


def order_prepare(order: Order, data: Mapping[str, Any], line_items, *, new: bool = True) -> list:
    """Fill and check an order as order_create would, its check constraints queued (inside
    `cleaning.deferred()`); return its unsaved line item rows. `new`: as order_prepare_items."""
    services.order_prepare(order=order, **data)
    rows = services.order_prepare_items(
        order=order, line_items=line_items, totals_given=services._given_totals(data), new=new
    )
    services.validate(order, exclude=_NOT_AMOUNTS)
    return rows


@transaction.atomic
def orders_write(
    *, records: Sequence[tuple[int, dict]], all_or_nothing: bool = False
) -> list[Result]:
    """Create orders, or update those whose reference names one (their line items replaced):
    `records` are (index, fields as order_create takes them, line_items among them)."""
    use_the_real_variable_limit()
    items = _items(records)
    with Store.kept(), cleaning.deferred() as queued:
        _match(Order, items, Order.objects.all())
        stored = [i.instance for i in items if i.instance.pk is not None]
        lines = _lines_now(stored)
        before = contributions(
            stored, {pk: [line[:3] for line in order_lines] for pk, order_lines in lines.items()}
        )
        for item in items:
            if item.result.status == ERROR:
                continue
            order, data = item.instance, dict(item.data)
            line_items = data.pop("line_items")
            item.customer_before = order.customer_id
            try:
                item.rows = order_prepare(order, data, line_items)
            except ValidationError as exc:
                item.result.refuse(exc)
    _check_batch([item for item in items if item.result.status != ERROR], queued)
    written = _outcome(items, all_or_nothing)
    save(
        Order,
        written,
        fields=ORDER_WRITTEN,
        before=before,
        lines_before={
            pk: history.line_item_values(
                {"product_id": p, "quantity": q, "price": price, "title": title}
                for p, q, price, title in order_lines
            )
            for pk, order_lines in lines.items()
        },
    )
    return [item.result for item in items]


# An order's columns a batch update writes.
ORDER_WRITTEN = (*services.ORDER_FIELDS, *services.ORDER_TOTALS)


def _save_order_rows(
    written: list[_Item],
    old: list[Order],
    before: Mapping[int, figures.Contribution],
    lines_before: Mapping[int, list[dict]],
) -> None:
    replaced = {item.instance.pk for item in written if not item.keep_rows}
    renewed = [order.pk for order in old if order.pk in replaced]
    if renewed:
        LineItem.objects.filter(order_id__in=renewed).delete()
    rows = []
    for item in written:
        for row in item.rows:
            row.order = item.instance
            if not item.keep_rows:
                rows.append(row)
    inserts.insert(LineItem, rows, returning_ids=False)
    _record(written, lines_before)
    figures.record(
        _sum(before.get(order.pk, figures.NOTHING) for order in old),
        _sum(
            _contribution(i.instance, [(r.product_id, r.quantity, r.price) for r in i.rows])
            for i in written
        ),
    )
    changes: list[tuple[type, int | None, str]] = []
    for item in written:
        order = item.instance
        changes.append((Order, order.pk, "create" if item.result.status == CREATED else "update"))
        changes.append((Customer, order.customer_id, "update"))
        if item.customer_before not in (None, order.customer_id):
            changes.append((Customer, item.customer_before, "update"))
    _changed(changes)


def _lines_now(orders: list[Order]) -> dict[int, list[tuple]]:
    """Each order's line items as the database holds them, (product id, quantity, price,
    title), in one query (the order rows are locked by the match)."""
    if not orders:
        return {}
    lines: dict[int, list] = {}
    for order_id, product_id, quantity, price, title in (
        LineItem.objects.filter(order_id__in=[order.pk for order in orders])
        .order_by("order_id", "id")
        .values_list("order_id", "product_id", "quantity", "price", "title")
    ):
        lines.setdefault(order_id, []).append((product_id, quantity, price, title))
    return lines


def contributions(
    orders: Iterable[Order], lines: Mapping[int, list[tuple[int, int, Any]]]
) -> dict[int, figures.Contribution]:
    """What each order adds to the figures with these line items (product, quantity, price)."""
    return {order.pk: _contribution(order, lines.get(order.pk, [])) for order in orders}


# New orders, built apart from the database ------------------------------------------------
# An import's write builds a batch of new orders in another process while it writes the
# batch before (shop/imports.py): everything but the ids the database gives, which
# write_new_orders fills in. The rows are those `save` writes for the same orders.


@dataclass
class NewOrders:
    orders: inserts.Rows
    line_items: inserts.Rows
    owners: list[int]  # the batch index of each line item's order
    history: inserts.Rows | None  # an entry per order, in the batch's order (None: not kept)
    figures: figures.Contribution  # what they add (a delta: figures.record_delta)
    customers: list[int]  # each order's customer
    kept_ids: list[int | None]  # each order's id, when the file gives it


def new_orders(orders: list[Order], line_items: list[list[LineItem]]) -> NewOrders | None:
    """The rows that write `orders` (all new, checked) and `line_items` (each order's, its
    `order` left unset), without touching the database; None when core.inserts leaves them
    to bulk_create."""
    rows = inserts.rows(Order, orders)
    items = [row for rows_of in line_items for row in rows_of]
    owners = [index for index, rows_of in enumerate(line_items) for _ in rows_of]
    item_rows = inserts.rows(LineItem, items)
    if rows is None or item_rows is None or item_rows.with_pk:
        return None
    entries = None
    if history.recording():
        now = timezone.now()
        made = [
            history.entry(
                order,
                history.Action.CREATE,
                line_items=([], history.line_item_values(rows_of)),
                at=now,
            )
            for order, rows_of in zip(orders, line_items, strict=True)
        ]
        entries = inserts.rows(history.HistoryEntry, made)  # type: ignore[arg-type]
        if entries is None or entries.with_pk:
            return None
    return NewOrders(
        orders=rows,
        line_items=item_rows,
        owners=owners,
        history=entries,
        figures=_sum(
            _contribution(order, [(r.product_id, r.quantity, r.price) for r in rows_of])
            for order, rows_of in zip(orders, line_items, strict=True)
        ).minus(figures.NOTHING),
        customers=[order.customer_id for order in orders],
        kept_ids=[order.pk for order in orders],
    )


def write_new_orders(ready: NewOrders) -> list[int]:
    """Write orders `new_orders` built (their line items, history, figures and outbox rows
    as `save` writes them) inside the caller's transaction; return their ids in order.

    Their times of writing (created_at, updated_at, the history's) are taken here, inside
    the transaction, as a create takes them: the REST API's sync relies on it."""
    now = timezone.now()
    ready.orders.stamp(now)
    ready.line_items.stamp(now)
    if ready.history is not None:
        ready.history.fill("at", now)
    inserts.plan_checks_afresh(ready.orders.using)
    given = iter(inserts.insert_rows(ready.orders, returning_ids=True))
    ids = [pk if pk is not None else next(given) for pk in ready.kept_ids]
    order_id = ready.line_items.column("order_id")
    for owner, row in zip(ready.owners, ready.line_items.without_pk, strict=True):
        row[order_id] = ids[owner]
    inserts.insert_rows(ready.line_items, returning_ids=False)
    if ready.history is not None and history.recording():
        record_id = ready.history.column("record_id")
        for pk, row in zip(ids, ready.history.without_pk, strict=True):
            row[record_id] = pk
        inserts.insert_rows(ready.history, returning_ids=False)
    figures.record_delta(ready.figures)
    changes: list[tuple[type, int | None, str]] = []
    for pk, customer in zip(ids, ready.customers, strict=True):
        changes.append((Order, pk, "create"))
        changes.append((Customer, customer, "update"))
    _changed(changes)
    return ids
