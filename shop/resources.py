"""CSV and XLSX import and export of customers, products and orders with their line items.

Rows are parsed by django-import-export's widgets, validated with the model's `full_clean()`,
and saved through `shop.services`, so an imported row obeys the same rules as one typed into
the admin. Imports run in one transaction: when any row fails, nothing is written.

A row names its record by its `id`, or else by a natural key: a customer by email (in any
case), a product or category by handle, an order by its reference. A known record is updated;
otherwise a record is created, keeping the row's id when it is free (so that converted.in
keeps recognising it after a move). A row whose values equal the record's is unchanged and
is not written, so importing the same file twice changes nothing. An order's line items name
their products by handle: `tee-shirt x 2 @ 40.00; mug x 1` (the price is optional: empty
means the product's price). A product names its category, a category its parent, by handle.
"""

import copy
import dataclasses
import functools
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Prefetch
from django.db.models.fields import NOT_PROVIDED
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.text import slugify
from import_export import fields, resources, widgets
from import_export.results import Result, RowResult

from . import bulk, cleaning, history, services
from .models import MAX_INT, Category, Customer, LineItem, Order, Product, Store
from .validators import in_zone

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
INPUT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
LINE_ITEM = re.compile(r"^(?P<handle>\S+)\s+x\s+(?P<quantity>\d+)(?:\s*@\s*(?P<price>\S+))?$")


class StoreDateTimeWidget(widgets.Widget):
    """Dates as `YYYY-MM-DD HH:MM:SS` in the store's time zone, as the feed gives them."""

    zone: ZoneInfo | None = None  # Set once per import or export by ServiceResource.

    def _zone(self) -> ZoneInfo:
        return self.zone or ZoneInfo(Store.load().time_zone)

    def clean(self, value, row=None, **kwargs):
        if value is None or str(value).strip() == "":
            return None
        zone = self._zone()
        if isinstance(value, datetime):
            return value if timezone.is_aware(value) else value.replace(tzinfo=zone)
        if isinstance(value, date):
            return datetime.combine(value, time.min, tzinfo=zone)
        text = str(value).strip()
        for fmt in INPUT_FORMATS:
            try:
                return datetime.strptime(text, fmt).replace(tzinfo=zone)
            except ValueError:
                continue
        raise ValueError(f"Enter a date as YYYY-MM-DD HH:MM:SS, not {text!r}.")

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        return in_zone(value, self._zone()).strftime(DATETIME_FORMAT)


class ExplainedWidget(widgets.Widget):
    """A number widget whose refusal says what to enter (`expected`) and what it got."""

    expected = ""

    def clean(self, value, row=None, **kwargs):
        try:
            return super().clean(value, row=row, **kwargs)
        except (InvalidOperation, ValueError) as exc:
            raise ValueError(f"Enter {self.expected}, not {value!r}.") from exc


PLAIN_AMOUNT = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


class MoneyWidget(ExplainedWidget, widgets.DecimalWidget):
    expected = "an amount such as 12.50"

    def clean(self, value, row=None, **kwargs):
        # An amount as an export writes it needs no locale's separators: read it directly
        # (the widget's own reading is a tenth of an order's import).
        if isinstance(value, str) and PLAIN_AMOUNT.match(text := value.strip()):
            return Decimal(text)
        return super().clean(value, row=row, **kwargs)


PLAIN_WHOLE_NUMBER = re.compile(r"^-?[0-9]{1,18}$")


class WholeNumberWidget(ExplainedWidget, widgets.IntegerWidget):
    expected = "a whole number"

    def clean(self, value, row=None, **kwargs):
        # As MoneyWidget: a number as an export writes it (an id) is read directly.
        if isinstance(value, str) and PLAIN_WHOLE_NUMBER.match(text := value.strip()):
            return int(text)
        return super().clean(value, row=row, **kwargs)


class TextWidget(widgets.CharWidget):
    """Text with surrounding spaces removed; an empty cell is an empty string."""

    def clean(self, value, row=None, **kwargs):
        value = super().clean(value, row=row, **kwargs)
        return "" if value is None else str(value).strip()


class OptionalTextWidget(TextWidget):
    """An empty cell leaves the value alone: the model's default, or what the row has."""

    def clean(self, value, row=None, **kwargs):
        return super().clean(value, row=row, **kwargs) or None


def optional(attribute: str, widget: widgets.Widget | None = None) -> fields.Field:
    return fields.Field(
        attribute=attribute,
        column_name=attribute,
        widget=widget or OptionalTextWidget(),
        saves_null_values=False,
    )


def _widget_for(field: models.Field, *, optional: bool) -> widgets.Widget:
    """The widget that reads a model field's cells (a relation: see RELATIONS)."""
    if isinstance(field, models.ForeignKey):
        return RELATIONS[field.related_model][1]()
    if isinstance(field, models.DecimalField):
        return MoneyWidget()
    if isinstance(field, models.IntegerField):
        return WholeNumberWidget()
    if isinstance(field, models.BooleanField):
        return widgets.BooleanWidget()
    if isinstance(field, models.DateTimeField):
        return StoreDateTimeWidget()
    return OptionalTextWidget() if optional else TextWidget()


def spec_field(spec: services.Field, model_field: models.Field) -> fields.Field:
    """An import column from a service's field spec and the model's field: its widget by the
    field's type; a field with a default is optional (a blank cell leaves the value alone: the
    default on create, the record's on update), another takes a blank cell as given."""
    optional = spec.default is not None
    column = spec.name
    if isinstance(model_field, models.ForeignKey):
        column = RELATIONS[model_field.related_model][0].format(name=spec.name)
    return fields.Field(
        attribute=spec.name,
        column_name=column,
        widget=_widget_for(model_field, optional=optional),
        saves_null_values=not optional,
    )


class LiveRecordWidget(widgets.ForeignKeyWidget):
    """A live record named by a natural key (`lookup`); an empty cell is none."""

    def __init__(self, model, field: str, lookup: str, missing: str):
        super().__init__(model, field=field)
        self.lookup, self.missing = lookup, missing
        # Records already found, by the cell's text (a resource fills it for a whole batch).
        self.known: dict[str, Any] = {}

    def clean(self, value, row=None, **kwargs):
        key = (value or "").strip()
        if not key:
            return None
        record = self.known.get(key)
        if record is None:
            record = self.model.objects.alive().filter(**{self.lookup: key}).first()
        if record is None:
            raise ValueError(self.missing.format(key=key))
        self.known[key] = record
        return record


def customer_by_email() -> LiveRecordWidget:
    return LiveRecordWidget(
        Customer,
        "email",
        "email__iexact",
        "No customer with email {key!r}: import the customers first.",
    )


def category_by_handle() -> LiveRecordWidget:
    return LiveRecordWidget(Category, "handle", "handle", "No category with handle {key!r}.")


class ParentWidget(LiveRecordWidget):
    """A category's parent by handle: a live category, or one an earlier row of the same file
    creates (`pending`, filled while the file is checked and nothing is written yet)."""

    def __init__(self) -> None:
        super().__init__(Category, "handle", "handle", "No category with handle {key!r}.")
        self.pending: dict[str, Category] = {}

    def clean(self, value, row=None, **kwargs):
        try:
            return super().clean(value, row=row, **kwargs)
        except ValueError:
            pending = self.pending.get((value or "").strip())
            if pending is None:
                raise
            return pending


# A relation's column names its record by a natural key: (column, widget).
RELATIONS: dict[Any, tuple[str, Callable[[], widgets.Widget]]] = {
    Customer: ("customer_email", customer_by_email),
    Category: ("{name}", category_by_handle),
}


def id_field() -> fields.Field:
    return fields.Field(attribute="id", column_name="id", widget=WholeNumberWidget())


def _same(value, other) -> bool:
    """Whether a cell's value equals the record's, as far as a file can tell (dates are given
    to the second)."""
    if isinstance(value, datetime) and isinstance(other, datetime):
        # In UTC: Python never finds a local time that a clock change repeats equal to
        # another zone's.
        return value.astimezone(UTC).replace(microsecond=0) == other.astimezone(UTC).replace(
            microsecond=0
        )
    return value == other


def advance_sequences(*models) -> None:
    """Move the id sequences past the largest ids (PostgreSQL; SQLite needs nothing), so that
    records created after an import that kept ids do not collide with them."""
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _line_item_parts(text: str) -> list[str]:
    return [p.strip() for p in (text or "").split(";") if p.strip()]


def line_item_handles(text: str) -> set[str]:
    """The product handles a line items cell names (for fetching a batch's products at once)."""
    matches = (LINE_ITEM.match(part) for part in _line_item_parts(text))
    return {match["handle"] for match in matches if match}


def parse_line_items(
    text: str, *, known: dict[str, Product] | None = None
) -> list[services.LineItemInput]:
    """Parse `handle x quantity [@ price]; ...` into service inputs; ValueError names the item.

    `known` maps handles to live products already fetched; others are looked up.
    """
    parts = _line_item_parts(text)
    if not parts:
        raise ValueError("An order needs at least one line item, e.g. 'tee-shirt x 2 @ 40.00'.")
    parsed, problems = [], []
    for number, part in enumerate(parts, 1):
        match = LINE_ITEM.match(part)
        if not match:
            problems.append(f"item {number} {part!r} is not 'handle x quantity [@ price]'")
            continue
        parsed.append((number, match["handle"], int(match["quantity"]), match["price"]))
    known = known or {}
    products = {h: known[h] for _, h, _, _ in parsed if h in known}
    missing = [h for _, h, _, _ in parsed if h not in products]
    if missing:
        products.update((p.handle, p) for p in Product.objects.alive().filter(handle__in=missing))
    items = []
    for number, handle, quantity, price in parsed:
        product = products.get(handle)
        if product is None:
            problems.append(f"item {number}: no product with handle {handle!r}")
            continue
        if quantity < 1:
            problems.append(f"item {number}: the quantity must be at least 1")
            continue
        try:
            amount = None if price is None else Decimal(price)
        except InvalidOperation:
            problems.append(f"item {number}: {price!r} is not an amount")
            continue
        items.append(services.LineItemInput(product=product, quantity=quantity, price=amount))
    if problems:
        raise ValueError("; ".join(problems) + ".")
    return items


def _chunks(values: list, size: int = 500):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def live_customers_by_email(cells) -> dict[str, Customer]:
    """Live customers named by these cells, keyed by the cell's text (as customer_by_email
    finds them; a cell that is not ASCII is left for that widget to look up alone)."""
    keys = {str(cell).strip() for cell in cells if cell and str(cell).strip().isascii()}
    found: dict[str, Customer] = {}
    for chunk in _chunks(sorted({key.lower() for key in keys})):
        for customer in (
            Customer.objects.alive().alias(lower=Lower("email")).filter(lower__in=chunk)
        ):
            found[customer.email.lower()] = customer
    return {key: found[key.lower()] for key in keys if key.lower() in found}


def live_products_by_handle(handles) -> dict[str, Product]:
    found: dict[str, Product] = {}
    for chunk in _chunks(sorted(handles)):
        found.update((p.handle, p) for p in Product.objects.alive().filter(handle__in=chunk))
    return found


def render_line_items(order: Order) -> str:
    return "; ".join(
        f"{item.product.handle} x {item.quantity} @ {item.price}" for item in order.line_items.all()
    )


def _merged(results: list[Result], *, total_rows: int) -> Result:
    """One import result from the results of its batches."""
    merged = results[0]
    for result in results[1:]:
        merged.rows += result.rows
        merged.invalid_rows += result.invalid_rows
        merged.error_rows += result.error_rows
        merged.base_errors += result.base_errors
        for kind, count in result.totals.items():
            merged.totals[kind] += count
    merged.total_rows = total_rows
    return merged


class ServiceResource(resources.ModelResource):
    """Parse rows with the widgets; the entity's service fills defaults, validates and saves
    (shop.services), so a row obeys the same rules as the admin's form. Imports run in one
    transaction."""

    # A row without an id names its record by this column (a natural key), compared with
    # this lookup ("email__iexact"; the column itself by default).
    natural_key = ""
    match_lookup = ""

    class Meta:
        use_transactions = True
        skip_unchanged = True
        report_skipped = True

    @classmethod
    def field_from_django_field(cls, field_name, django_field, readonly):
        """The columns Meta.fields names come from the entity's spec (shop.services.SPECS)."""
        spec = {field.name: field for field in services.SPECS.get(django_field.model, ())}
        if field_name not in spec:
            return super().field_from_django_field(field_name, django_field, readonly)
        return spec_field(spec[field_name], django_field)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Options of its own, so that the write pass can skip the rows' diffs (only a dry
        # run shows them) without touching other imports.
        self._meta = copy.copy(self._meta)
        self.writing = False
        # Whether a write created a record with the id its row gave.
        self.kept_ids = False
        writes = services.WRITES.get(self._meta.model)
        if writes is not None:
            self.writes = writes
        # Each resource has its own copies of the fields: read the store's settings once,
        # not once per row.
        zone = ZoneInfo(Store.load().time_zone)
        for field in self.fields.values():
            if isinstance(field.widget, StoreDateTimeWidget):
                field.widget.zone = zone

    def service_data(self, instance) -> dict:
        return {field.name: getattr(instance, field.name, None) for field in self.writes.spec}

    def prepare(self, instance) -> None:
        self.writes.prepare(**{self.writes.kwarg: instance}, **self.service_data(instance))

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        """Report the cells that did not parse, then what the service finds in the rest.

        A batched resource prepares each row in both passes (the batch's writes take the
        prepared records); another, when writing, leaves it to the service's create or
        update, which validates the row as it saves it."""
        errors = dict(import_validation_errors or {})
        if self.batched or not self.writing:
            try:
                self.prepare(instance)
            except ValidationError as exc:
                for name, messages in exc.message_dict.items():
                    errors.setdefault(name, messages)
        if errors:
            raise ValidationError(errors)

    def import_data(
        self,
        dataset,
        dry_run=False,
        raise_errors=False,
        use_transactions=None,
        collect_failed_rows=False,
        rollback_on_validation_errors=False,
        **kwargs,
    ):
        """Check every row first, writing nothing and outside any transaction (so the database
        stays free for the feed and other writers); then, unless this is a dry run or a row
        failed, write the rows IMPORT_BATCH_ROWS to a transaction."""
        checked = self.import_data_inner(
            dataset, True, raise_errors, False, collect_failed_rows, **kwargs
        )
        if dry_run or checked.has_errors() or checked.has_validation_errors():
            return checked
        size = int(settings.IMPORT_BATCH_ROWS)
        results = []
        for start in range(0, len(dataset), size):
            batch = type(dataset)(*dataset[start : start + size], headers=dataset.headers)
            with transaction.atomic():
                result = self.write_batch(batch, raise_errors=raise_errors, **kwargs)
                results.append(result)
                if result.has_errors() or result.has_validation_errors():
                    transaction.set_rollback(True)
                    break
        merged = _merged(results, total_rows=len(dataset))
        if self.kept_ids and not (merged.has_errors() or merged.has_validation_errors()):
            advance_sequences(self._meta.model)
        return merged

    def write_batch(self, batch, *, raise_errors: bool = False, **kwargs) -> Result:
        """Write rows already checked, inside the caller's transaction (which the caller rolls
        back when a row fails): the service validates each row as it saves it."""
        skip_diff, self._meta.skip_diff, self.writing = self._meta.skip_diff, True, True
        try:
            return self.import_data_inner(batch, False, raise_errors, True, False, **kwargs)
        finally:
            self._meta.skip_diff, self.writing = skip_diff, False

    # Batches -------------------------------------------------------------------------
    # A batched resource (customers, products, orders) finds the records a batch's rows name
    # in one query per key, checks the rows' constraints in one query per model (the
    # services' prepare functions inside `cleaning.deferred()`), and writes the batch with
    # bulk inserts and updates through shop/bulk.py, as the bulk API does.
    batched = False

    def import_data_inner(
        self, dataset, dry_run, raise_errors, using_transactions, collect_failed_rows, **kwargs
    ):
        if not self.batched:
            return super().import_data_inner(
                dataset, dry_run, raise_errors, using_transactions, collect_failed_rows, **kwargs
            )
        bulk.use_the_real_variable_limit()
        self.entries: list[tuple[int, dict, Any]] = []
        with Store.kept(), cleaning.deferred() as queued:
            # No savepoint a row: nothing is written until the batch is checked.
            result = super().import_data_inner(
                dataset, dry_run, raise_errors, False, collect_failed_rows, **kwargs
            )
        self.settle(result, queued)
        if self.writing and not (result.has_errors() or result.has_validation_errors()):
            self.save_batch()
        return result

    def before_import(self, dataset, **kwargs):
        if self.batched:
            self.fetch_records(dataset)

    def after_import(self, dataset, result, **kwargs):
        """A batch is written after this hook: the sequences are advanced once the import
        has written its batches (advance_sequences), only when a row kept its id."""
        if not self.batched:
            super().after_import(dataset, result, **kwargs)

    def fetch_records(self, dataset) -> None:
        """Find the records the batch's rows name, by id and by natural key (a query each,
        rows locked when writing); keep track of the keys the batch names."""
        ids, keys = set(), set()
        for values in dataset.dict:
            row = dict(values)
            self.before_import_row(row)
            try:
                pk = self.row_id(row)
            except ValidationError:
                pk = None
            if pk is not None:
                ids.add(pk)
            key = self.natural_key_of(row)
            if key:
                keys.add(self.normal_key(key))
        records = self.records().order_by()
        if self.writing and connection.features.has_select_for_update:
            records = records.select_for_update(of=("self",))
        self.by_id = {r.pk: r for r in records.filter(pk__in=sorted(ids))} if ids else {}
        self.by_key = {}
        if keys:
            found = self.records_by_keys(records, sorted(keys))
            self.by_key = {self.normal_key(getattr(r, self.natural_key)): r for r in found}
        self.named: set[tuple[str, Any]] = set()

    def normal_key(self, key: str) -> str:
        return key

    def records_by_keys(self, records, keys: list[str]):
        """The records these natural keys name, as the bulk API finds them (shop.bulk)."""
        model: Any = self._meta.model
        return bulk.KEYS[model].lookup(records, keys)

    def save_instance(self, instance, is_create, row, **kwargs):
        if not self.batched:
            return super().save_instance(instance, is_create, row, **kwargs)
        self.entries.append((kwargs["row_number"], row, instance))

    def settle(self, result: Result, queued) -> None:
        """Refuse the rows whose records break a check constraint (one query per model)."""
        items = [self.item(number, instance) for number, _, instance in self.entries]
        bulk.check_batch(items, queued)
        rows = {number: row for number, row, _ in self.entries}
        for item in items:
            number, error = item.result.index, item.result.errors
            if error is None:
                continue
            row_result = result.rows[number - 1]
            result.totals[row_result.import_type] -= 1
            row_result.import_type = RowResult.IMPORT_TYPE_INVALID
            row_result.validation_error = error
            result.totals[RowResult.IMPORT_TYPE_INVALID] += 1
            result.append_invalid_row(number, rows[number], error)
        result.invalid_rows.sort(key=lambda row: row.number)
        self.items = items

    def item(self, number: int, instance) -> bulk.Item:
        return bulk.Item(result=bulk.Result(index=number), data={}, instance=instance)

    def save_batch(self) -> None:
        if any(item.instance._state.adding and item.instance.pk for item in self.items):
            self.kept_ids = True
        bulk.save(self._meta.model, self.items, fields=self.writes_fields())

    def writes_fields(self) -> tuple[str, ...]:
        return services.field_names(self.writes.spec)

    def do_instance_save(self, instance, is_create):
        data = self.service_data(instance)
        if is_create:
            if instance.pk is not None:
                data["id"] = instance.pk
                self.kept_ids = True
            created = self.writes.create(**data)
            instance.pk = created.pk
            instance.__dict__.update(created.__dict__)
        else:
            self.writes.update(**{self.writes.kwarg: instance}, **data)

    # Finding a row's record ---------------------------------------------------------

    def records(self):
        """The records a row may name (any, deleted or not)."""
        return self._meta.model.objects.all()

    def row_id(self, row) -> int | None:
        raw = row.get("id")
        if raw is None or str(raw).strip() == "":
            return None
        try:
            pk = int(Decimal(str(raw).strip()))
        except (InvalidOperation, ValueError):
            raise ValidationError({"id": f"{raw!r} is not an id."}) from None
        if not 1 <= pk <= MAX_INT:
            raise ValidationError({"id": f"{pk} is not an id."})
        return pk

    def natural_key_of(self, row) -> str:
        return str(row.get(self.natural_key) or "").strip() if self.natural_key else ""

    def names(self, record, key: str) -> bool:
        """Whether `key` (a natural key's cell) names `record`."""
        return getattr(record, self.natural_key) == key

    def get_instance(self, instance_loader, row):
        """The record with the row's id, else the one its natural key names, else None (a
        new record). An id and a natural key naming two different records is an error."""
        pk, key = self.row_id(row), self.natural_key_of(row)
        if self.batched:
            self.name_once(row, pk, key)
            by_id = self.by_id.get(pk) if pk is not None else None
        else:
            by_id = self.records().filter(pk=pk).first() if pk is not None else None
        if not key or (by_id is not None and self.names(by_id, key)):
            self.refuse_deleted(by_id, None)
            return by_id
        if self.batched:
            by_key = self.by_key.get(self.normal_key(key))
        else:
            lookup = self.match_lookup or self.natural_key
            by_key = self.records().filter(**{lookup: key}).first()
        if by_id is not None and by_key is not None:
            noun = self._meta.model._meta.verbose_name
            raise ValidationError(
                {
                    "id": f"The {noun} with id {pk} is not the one with {self.natural_key} "
                    f"{key!r} (id {by_key.pk}): fix the id or the {self.natural_key}."
                }
            )
        self.refuse_deleted(by_id, by_key)
        return by_id or by_key

    def refuse_deleted(self, by_id, by_key) -> None:
        """A row may not write a deleted record (as no other door does): a natural key a
        deleted record holds gets the error the unique constraint gives at every door."""
        model: Any = self._meta.model
        if by_id is not None and getattr(by_id, "deleted_at", None) is not None:
            noun = model._meta.verbose_name
            raise ValidationError(
                {"id": f"The {noun} with id {by_id.pk} is deleted: restore it first."}
            )
        if by_key is not None and getattr(by_key, "deleted_at", None) is not None:
            if model in bulk.KEYS:
                raise bulk.KEYS[model].taken()
            raise ValidationError(
                {self.natural_key: model().unique_error_message(model, (self.natural_key,))}
            )

    def name_once(self, row, pk: int | None, key: str) -> None:
        """Refuse a row naming an id or a natural key that an earlier row of the batch named:
        each record once a file."""
        names: list[tuple[str, Any]] = [("id", pk)] if pk is not None else []
        if key:
            names.append((self.natural_key, self.normal_key(key)))
        for name in names:
            if name in self.named:
                model: Any = self._meta.model
                noun = model._meta.verbose_name
                raise ValidationError(
                    {
                        name[0]: f"Another row of this file has this {name[0]} too: give "
                        f"each {noun} once."
                    }
                )
        self.named.update(names)

    # Reusing the preview's work: what a resource can keep of a checked batch for its write
    # (OrderResource does; the others check the batch again when writing).

    def prepared(self, rows: int) -> dict | None:
        return None

    # Whether ready() builds batches apart from the database (the import's write then builds
    # them in other processes).
    builds_apart = False

    def ready(self, prepared: dict | None) -> dict | None:
        return None

    def write_ready(self, dataset, ready: dict | None) -> Result | None:
        return None

    # Columns the resource's import_field handles itself.
    imported_apart: frozenset[str] = frozenset({"id"})

    @functools.cached_property
    def import_plan(self) -> list[tuple[fields.Field, bool]]:
        """The import fields, each with whether it is a plain column (set as Field.save sets
        it, without going through import_field)."""
        return [
            (
                field,
                type(field) is fields.Field
                and bool(field.attribute)
                and "__" not in (field.attribute or "")
                and not field.readonly
                and field.attribute not in self.imported_apart,
            )
            for field in self.get_import_fields()
        ]

    def import_instance(self, instance, row, **kwargs):
        """As import-export's, a plain column's cell cleaned by its widget and set in one step
        (Field.save's steps without its layers: a batch parses a million cells)."""
        if not self.batched:
            return super().import_instance(instance, row, **kwargs)
        errors = {}
        for field, plain in self.import_plan:
            try:
                if not plain:
                    self.import_field(field, instance, row, **kwargs)
                    continue
                if field.column_name not in row:
                    continue
                value = field.widget.clean(row[field.column_name], row=row, **kwargs)
                if value in field.empty_values and field.default != NOT_PROVIDED:
                    value = field.default() if callable(field.default) else field.default
                if value is not None or field.saves_null_values:
                    setattr(instance, field.attribute, value)
            except ValueError as e:
                errors[field.attribute] = ValidationError(force_str(e), code="invalid")
        if errors:
            raise ValidationError(errors)
        return None

    def import_field(self, field, instance, row, is_m2m=False, **kwargs):
        if field.attribute == "id" and not instance._state.adding:
            return  # The id names the record (get_instance); a record's id never changes.
        super().import_field(field, instance, row, is_m2m, **kwargs)

    # Unchanged rows ---------------------------------------------------------------------

    def compared_values(self, instance) -> dict[str, Any]:
        """The record's values that the row's columns set (relations by id)."""
        values = {}
        model: type[models.Model] = self._meta.model  # type: ignore[assignment]
        for field in self.get_import_fields():
            if not field.attribute or field.attribute == "id" or field.readonly:
                continue
            try:
                model_field = model._meta.get_field(field.attribute)
            except FieldDoesNotExist:  # a column the resource handles itself
                continue
            if isinstance(model_field, models.Field) and model_field.concrete:
                values[field.attribute] = getattr(instance, model_field.attname)
        return values

    def after_init_instance(self, instance, new, row, **kwargs):
        if not new:
            instance._import_before = self.compared_values(instance)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        """Skip (report as unchanged) a row of a known record whose values it already has."""
        if import_validation_errors or instance._state.adding or not self._meta.skip_unchanged:
            return False
        before = getattr(instance, "_import_before", None)
        if before is None:
            return False
        after = self.compared_values(instance)
        return all(_same(after[name], before.get(name)) for name in after)

    def get_export_queryset_for_stream(self, queryset):
        """The queryset an export iterates, with what each row needs fetched in bulk."""
        return queryset


class CustomerResource(ServiceResource):
    id = id_field()
    natural_key = "email"
    match_lookup = "email__iexact"
    batched = True

    def names(self, record, key: str) -> bool:
        return record.email.lower() == key.lower()

    def normal_key(self, key: str) -> str:
        return key.lower()

    def records_by_keys(self, records, keys: list[str]):
        # LOWER() folds only ASCII on SQLite: other emails are found one by one, as iexact.
        ascii_keys = [key for key in keys if key.isascii()]
        found = list(bulk.KEYS[Customer].lookup(records, ascii_keys)) if ascii_keys else []
        for key in keys:
            if not key.isascii():
                found += records.filter(email__iexact=key)[:1]
        return found

    class Meta:
        model = Customer
        fields = ("id", *services.CUSTOMER_FIELDS)
        import_id_fields = ("email",)


class ProductResource(ServiceResource):
    id = id_field()
    natural_key = "handle"
    batched = True

    class Meta:
        model = Product
        fields = ("id", *services.PRODUCT_FIELDS)
        import_id_fields = ("handle",)

    def before_import_row(self, row, **kwargs):
        if not (row.get("handle") or "").strip() and (row.get("title") or "").strip():
            row["handle"] = slugify(str(row["title"]), allow_unicode=True)

    def get_export_queryset_for_stream(self, queryset):
        return queryset.select_related("category")


class LineItemsField(fields.Field):
    """The order's line items in one cell; read and written by OrderResource itself."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Live products by handle, fetched for a whole batch by OrderResource.before_import.
        self.known: dict[str, Product] = {}

    def save(self, instance, row, is_m2m=False, **kwargs):
        text = row.get(self.column_name) or ""
        instance._import_line_items = parse_line_items(text, known=self.known)

    def get_value(self, instance):
        # A new order's row may carry an id: it has no line items stored yet.
        return "" if instance._state.adding else render_line_items(instance)


class OrderResource(ServiceResource):
    id = id_field()
    line_items = LineItemsField(attribute="line_items", column_name="line_items")

    class Meta:
        model = Order
        fields = ("id", *services.ORDER_FIELDS, "line_items", *services.ORDER_TOTALS)
        import_id_fields = ("id",)

    natural_key = "reference"
    batched = True
    imported_apart = frozenset({"id", *services.ORDER_TOTALS})

    def before_import(self, dataset, **kwargs):
        """Add the id column if missing; fetch the batch's customers and products at once."""
        if "id" not in dataset.headers:
            dataset.append_col([""] * len(dataset), header="id")
        super().before_import(dataset, **kwargs)
        customers = self.fields["customer"].widget
        line_items = self.fields["line_items"]
        customers.known, line_items.known = {}, {}
        if "customer_email" in dataset.headers:
            customers.known = live_customers_by_email(dataset["customer_email"])
        if "line_items" in dataset.headers:
            handles = set().union(*(line_item_handles(str(t or "")) for t in dataset["line_items"]))
            line_items.known = live_products_by_handle(handles)

    def records(self):
        return Order.objects.select_related("customer")

    def fetch_records(self, dataset) -> None:
        """Also the stored line items of the orders found (one query), and, when writing,
        what each adds to the dashboard's figures and its customer before the write."""
        super().fetch_records(dataset)
        orders = {order.pk: order for order in [*self.by_id.values(), *self.by_key.values()]}
        self.stored: dict[int, list[LineItem]] = {}
        if orders:
            for line in (
                LineItem.objects.filter(order_id__in=sorted(orders))
                .select_related("product")
                .order_by("order_id", "id")
            ):
                self.stored.setdefault(line.order_id, []).append(line)
        self.before = {}
        self.customers_before = {pk: order.customer_id for pk, order in orders.items()}
        if self.writing:
            self.before = bulk.contributions(
                orders.values(),
                {
                    pk: [(li.product_id, li.quantity, li.price) for li in lines]
                    for pk, lines in self.stored.items()
                },
            )

    def stored_items(self, order) -> list[tuple[int, int, Decimal]]:
        return [(li.product_id, li.quantity, li.price) for li in self.stored.get(order.pk, [])]

    def import_field(self, field, instance, row, is_m2m=False, **kwargs):
        if field.attribute in services.ORDER_TOTALS:
            # Kept apart: only a total the row gives is passed to the service.
            if field.column_name in row:
                totals = instance.__dict__.setdefault("_import_totals", {})
                totals[field.attribute] = field.clean(row)
            return
        super().import_field(field, instance, row, is_m2m, **kwargs)

    def given_totals(self, instance) -> dict:
        totals = getattr(instance, "_import_totals", {})
        return {name: value for name, value in totals.items() if value is not None}

    def service_data(self, instance) -> dict:
        return {
            **super().service_data(instance),
            **self.given_totals(instance),
            "line_items": self.imported_items(instance),
        }

    def skip_row(self, instance, original, row, import_validation_errors=None):
        """Unchanged: the order's fields, its line items (products, quantities and unit
        prices, in order) and its totals (given, or computed from those items) as stored."""
        if not super().skip_row(instance, original, row, import_validation_errors):
            return False
        stored = self.stored_items(instance)
        items = [(p, q, price) for p, q, price in stored]
        given = getattr(instance, "_import_line_items", None)
        if given is not None:
            items = [(item.product.pk, item.quantity, item.unit_price) for item in given]
            if items != stored:
                return False
        totals = services.order_totals(
            line_items=[(quantity, price) for _, quantity, price in items],
            total_tax=instance.total_tax,
            taxes_included=instance.taxes_included,
            total_discounts=instance.total_discounts,
        )
        expected = {
            "subtotal_price": totals.subtotal_price,
            "total_price": totals.total_price,
            **self.given_totals(instance),
        }
        before = instance._import_before
        return all(before[name] == value for name, value in expected.items())

    def compared_values(self, instance) -> dict[str, Any]:
        values = super().compared_values(instance)
        for name in services.ORDER_TOTALS:
            values[name] = getattr(instance, name)  # set aside by import_field, so unchanged
        return values

    def imported_items(self, instance) -> list | None:
        """The row's line items; None on an update that leaves them as they are."""
        items = getattr(instance, "_import_line_items", None)
        return [] if items is None and instance._state.adding else items

    def prepare(self, instance) -> None:
        """As order_create or order_update would; an update without line items keeps the
        order's (its totals computed from them)."""
        data = self.service_data(instance)
        items = data.pop("line_items")
        keep = items is None
        if keep:
            items = [
                services.LineItemInput(product=li.product, quantity=li.quantity, price=li.price)
                for li in self.stored.get(instance.pk, [])
            ]
        instance._import_rows = bulk.order_prepare(instance, data, items, new=not keep)
        instance._import_keep_rows = keep

    def item(self, number: int, instance) -> bulk.Item:
        item = super().item(number, instance)
        item.rows = instance._import_rows
        item.keep_rows = instance._import_keep_rows
        item.customer_before = self.customers_before.get(instance.pk)
        return item

    def writes_fields(self) -> tuple[str, ...]:
        return bulk.ORDER_WRITTEN

    def save_batch(self) -> None:
        if any(item.instance._state.adding and item.instance.pk for item in self.items):
            self.kept_ids = True
        bulk.save(
            Order,
            self.items,
            fields=self.writes_fields(),
            before=self.before,
            lines_before={pk: history.line_item_values(lines) for pk, lines in self.stored.items()},
        )

    # Reusing the preview's work ----------------------------------------------------------
    # A batch whose rows are all new orders is prepared by the preview (the check) exactly as
    # the write would prepare it. The preview keeps what it built, with the store's settings
    # and the customers and products its rows named as they were read; the write takes it
    # when the database still agrees (none of the rows' ids and references taken since, those
    # records unchanged), else checks the batch again.

    def prepared(self, rows: int) -> dict | None:
        """What the write of this checked batch needs, or None (a row refused or naming an
        order that exists)."""
        items = getattr(self, "items", None)
        if not items or len(items) != rows:
            return None
        if any(item.result.errors or not item.instance._state.adding for item in items):
            return None
        rows_of = {number: row for number, row, _ in self.entries}
        customers = {item.instance.customer_id: item.instance.customer for item in items}
        products = {row.product_id: row.product for item in items for row in item.rows}
        return {
            "layout": _layout(),
            "rows": rows,
            "store": _values(Store.load()),
            "customers": {pk: _values(c) for pk, c in customers.items()},
            "products": {pk: _values(p) for pk, p in products.items()},
            "orders": [
                (
                    item.result.index,
                    _values(item.instance),
                    [_values(r) for r in item.rows],
                    # The times the row leaves to the write (an order's date) are the
                    # check's here: a write that takes this preparation sets them anew.
                    services.clock_defaults(services.ORDER_SPEC, rows_of[item.result.index]),
                )
                for item in items
            ],
        }

    builds_apart = True

    def ready(self, prepared: dict | None) -> dict | None:
        """A prepared batch built into the rows that write it (shop.bulk.new_orders), without
        touching the database: the import's write builds the next batches so in other
        processes while it writes one. None when there is nothing to build. A batch with an
        order dated by its write (no order date in the file) is built by write_ready, at the
        time of the write."""
        if prepared is None or prepared.get("layout") != _layout():
            return None
        kept = {key: prepared[key] for key in ("rows", "store", "customers", "products")}
        if any(clock for *_, clock in prepared["orders"]):
            return {**kept, "prepared": prepared}
        return {**kept, "new": _new_orders(prepared, now=None)}

    def write_ready(self, dataset, ready: dict | None) -> Result | None:
        """Write a batch as ready() built it, inside the caller's transaction; None (nothing
        written) when the database no longer agrees with the preview."""
        if ready is None or ready["rows"] != len(dataset):
            return None
        if _values(Store.load()) != ready["store"]:
            return None
        bulk.use_the_real_variable_limit()
        self.writing = True
        try:
            self.fetch_records(dataset)  # the rows' ids and references, locked
        finally:
            self.writing = False
        if self.by_id or self.by_key:
            return None
        for model, kept in ((Customer, ready["customers"]), (Product, ready["products"])):
            if _current(model, kept) != kept:
                return None
        new = ready["new"] if "new" in ready else _new_orders(ready["prepared"], timezone.now())
        if new is None:
            return None
        if any(pk is not None for pk in new.kept_ids):
            self.kept_ids = True
        bulk.write_new_orders(new)
        result = Result()
        result.totals[RowResult.IMPORT_TYPE_NEW] = len(new.kept_ids)
        result.total_rows = len(dataset)
        return result

    def get_export_queryset_for_stream(self, queryset):
        items = LineItem.objects.select_related("product").only(
            "id", "order_id", "quantity", "price", "product__id", "product__handle"
        )
        return queryset.select_related("customer").prefetch_related(
            Prefetch("line_items", queryset=items)
        )


def _new_orders(prepared: dict, now) -> bulk.NewOrders | None:
    orders, line_items = [], []
    for _, values, rows, clock in prepared["orders"]:
        order = Order(*values)
        for name in clock:  # as the create would set them: the time of the write
            setattr(order, name, now)
        orders.append(order)
        line_items.append([LineItem(*row) for row in rows])
    return bulk.new_orders(orders, line_items)


@functools.cache
def _getter(model: type[models.Model]) -> Callable[[models.Model], tuple]:
    get = operator.attrgetter(*(f.attname for f in model._meta.concrete_fields))
    return lambda instance: get(instance)  # a tuple: every model here has several fields


def _values(instance: models.Model) -> tuple:
    """A record's values, field by field (as Model(*values) takes them back)."""
    return _getter(type(instance))(instance)


def _layout() -> tuple:
    """The fields a prepared batch's values follow (a deploy between preview and write
    may change them)."""
    return tuple(
        tuple(f.attname for f in model._meta.concrete_fields)
        for model in (Store, Customer, Product, Order, LineItem)
    )


def _current(model: Any, kept: dict[int, tuple]) -> dict[int, tuple]:
    """The values these live records hold now (one query a chunk of ids)."""
    names = [f.attname for f in model._meta.concrete_fields]
    pk = names.index(model._meta.pk.attname)
    now: dict[int, tuple] = {}
    for chunk in _chunks(sorted(kept)):
        for values in model.objects.alive().filter(pk__in=chunk).values_list(*names):
            now[values[pk]] = values
    return now


# The depth to which a category export lists parents before subcategories.
MAX_DEPTH = 6


class CategoryResource(ServiceResource):
    id = id_field()
    parent = fields.Field(attribute="parent", column_name="parent", widget=ParentWidget())
    natural_key = "handle"

    class Meta:
        model = Category
        fields = ("id", *services.CATEGORY_FIELDS)
        import_id_fields = ("handle",)

    def before_import(self, dataset, **kwargs):
        if not kwargs.get("continuing"):  # a later batch of the same file may name them
            self.fields["parent"].widget.pending = {}

    def before_import_row(self, row, **kwargs):
        if not (row.get("handle") or "").strip() and (row.get("title") or "").strip():
            row["handle"] = slugify(str(row["title"]), allow_unicode=True)

    def import_instance(self, instance, row, **kwargs):
        """Let later rows of the file name a new category as their parent before it is
        written (a parent comes before its subcategories, as an export lists them)."""
        super().import_instance(instance, row, **kwargs)
        if instance._state.adding and not self.writing and instance.handle:
            # Without its id: the id is not in the database yet, so a check would refuse it.
            unsaved = copy.copy(instance)
            unsaved.pk = None
            self.fields["parent"].widget.pending.setdefault(instance.handle, unsaved)

    def get_export_queryset_for_stream(self, queryset):
        """Parents before their subcategories (by depth, to MAX_DEPTH), so that the file
        imports back in one pass."""
        depth = models.Case(
            *(
                models.When(**{"__".join(["parent"] * level) + "__isnull": True}, then=level - 1)
                for level in range(1, MAX_DEPTH + 1)
            ),
            default=MAX_DEPTH,
        )
        return queryset.select_related("parent").alias(depth=depth).order_by("depth", "id")


class StoreResource(ServiceResource):
    """The store's settings: one row, which updates the store (any id names it)."""

    id = fields.Field(attribute="id", column_name="id", readonly=True)

    class Meta:
        model = Store
        fields = ("id", *services.STORE_FIELDS)
        import_id_fields = ("id",)

    def get_instance(self, instance_loader, row):
        return Store.load()

    def service_data(self, instance) -> dict:
        return {name: getattr(instance, name) for name in services.STORE_FIELDS}

    def compared_values(self, instance) -> dict[str, Any]:
        values = super().compared_values(instance)
        values["country"] = str(values["country"])
        return values

    def prepare(self, instance) -> None:
        services.validate(instance)

    def do_instance_save(self, instance, is_create):
        services.store_update(**self.service_data(instance))


# A whole store, one file per entity, in the order an import needs them: the store's
# settings (the time zone the files' dates are in), then what each entity names.
STORE_FILES: tuple[tuple[str, type[ServiceResource]], ...] = (
    ("store", StoreResource),
    ("categories", CategoryResource),
    ("products", ProductResource),
    ("customers", CustomerResource),
    ("orders", OrderResource),
)


def store_queryset(resource: ServiceResource):
    """What a store export writes of an entity: its live records (the admin's list shows
    these; the feed lists no others)."""
    model: Any = resource._meta.model
    if model is Store:
        return Store.objects.filter(pk=Store.load().pk)
    return model.objects.alive()


@dataclass
class Refusal:
    row: int  # the row's number in the file, the header apart (as the admin numbers them)
    errors: dict[str, list[str]]


@dataclass
class FileSummary:
    """How the rows of one imported file went."""

    rows: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    refused: int = 0
    refusals: list[Refusal] = dataclasses.field(default_factory=list)


def refusals(result: Result, *, offset: int = 0) -> list[Refusal]:
    """The rows a result refused, by row number, with their errors by field."""
    found = [
        Refusal(offset + row.number, {k: list(v) for k, v in row.error_dict.items()})
        for row in result.invalid_rows
    ]
    for number, errors in result.row_errors():
        found.append(Refusal(offset + number, {"__all__": [str(e.error) for e in errors]}))
    return sorted(found, key=lambda refusal: refusal.row)


def import_in_batches(
    resource: ServiceResource,
    dataset,
    *,
    batch: int,
    progress: Callable[[int], object] = lambda rows: None,
    shown: int = 20,
) -> FileSummary:
    """Import a file `batch` rows at a time, each batch checked then written in one
    transaction. A batch with a refused row writes nothing and ends the import (the batches
    before it stay written; importing the file again finds them unchanged)."""
    summary = FileSummary(rows=len(dataset))
    for start in range(0, len(dataset), batch):
        chunk = type(dataset)(*dataset[start : start + batch], headers=dataset.headers)
        result = resource.import_data(chunk, dry_run=False, rollback_on_validation_errors=True)
        if result.has_errors() or result.has_validation_errors():
            refused = refusals(result, offset=start)
            summary.refused = len(refused)
            summary.refusals = refused[:shown]
            return summary
        totals = result.totals
        summary.new += totals[RowResult.IMPORT_TYPE_NEW]
        summary.changed += totals[RowResult.IMPORT_TYPE_UPDATE]
        summary.unchanged += totals[RowResult.IMPORT_TYPE_SKIP]
        progress(len(chunk))
    return summary
