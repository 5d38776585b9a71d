"""A customer's right to be forgotten and to a copy of their data.

`customer_erase` replaces, in one transaction, every value that identifies a customer, on the
customer and on each of their orders, and erases the copies the app keeps of those values:
Django's admin log, import runs (their refusals, and a file still waiting whose rows name
them), the history (`_forget_history`), and, through the `customer_erased` signal, the push's
and webhooks' stored answers and the REST API's stored idempotent answers. Amounts, dates,
currencies, line items and statuses stay, so the store's accounts and dashboards do not move;
the records stay too, marked `erased_at`. converted.in and the webhook subscribers are told
through the outbox (`customers/delete`; each order `orders/update`, see ORDER_ACTION).

`customer_export` is the customer's data as one JSON-ready document.
"""

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from . import history, imports, signals
from .cleaning import full_clean
from .models import Customer, HistoryEntry, ImportRun, Order
from .services import CUSTOMER_FIELDS, ORDER_FIELDS, ORDER_TOTALS

logger = logging.getLogger(__name__)

# What replaces an erased text in a log, a stored answer or an import's refusals.
ERASED = "[erased]"
# The placeholders are what the validators, the constraints (a unique email in any case, a
# non-empty name, an order's phone and email) and the feed's schema accept, and hold nothing
# of the person. The email is unique per customer; `.invalid` is reserved (RFC 2606), so no
# message can ever reach it.
ERASED_FIRST_NAME = "Erased"
ERASED_LAST_NAME = "Customer"
ERASED_ORDER_PHONE = "0000000000"  # an order needs a phone; a customer's may be empty

# converted.in's push contract (shared/specs/convertedin-other-endpoints.md) has one body per
# topic, the feed's item, and no partial update. The orders stay in the store's accounts and in
# the feed, so a live order is pushed as `orders/update` carrying the placeholders: converted.in's
# copy of its contact email and phone is overwritten, and its sales figures keep the amounts. An
# `orders/delete` would drop real sales from converted.in's reports, and the next crawl of the
# feed, which still lists the order, would bring it back. An order already soft-deleted is gone
# from converted.in: it is pushed as `orders/delete` again, so no update re-creates it there.
ORDER_ACTION = {False: "update", True: "delete"}


def erased_email(customer_id: int) -> str:
    return f"erased-{customer_id}@erased.invalid"


@dataclass(frozen=True)
class Erasure:
    """What one call of customer_erase did."""

    customer: Customer
    customer_erased: bool  # False: the customer had been erased before
    orders_erased: int

    @property
    def changed(self) -> bool:
        return self.customer_erased or bool(self.orders_erased)


@dataclass(frozen=True)
class ErasurePlan:
    """What an erasure would erase, for a confirmation page."""

    customer: Customer
    already_erased: bool
    orders: int
    orders_left: int  # orders not erased yet


CUSTOMER_ERASED_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "gender",
    "accepts_marketing",
)
ORDER_ERASED_FIELDS = ("contact_email", "phone", "customer_locale")


def customer_erase_plan(*, customer: Customer) -> ErasurePlan:
    orders = customer.orders.all()
    return ErasurePlan(
        customer=customer,
        already_erased=customer.erased_at is not None,
        orders=orders.count(),
        orders_left=orders.filter(erased_at__isnull=True).count(),
    )


@transaction.atomic
def customer_erase(*, customer: Customer, actor: Any = None) -> Erasure:
    """Erase a customer's personal data in place, on them and on every order of theirs.

    Irreversible and idempotent: a second call finds nothing left and changes nothing (an order
    written for the customer after an erasure is erased by the next call). `actor` is who asked
    (a staff user, an API key, None for the system), for the history.
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    orders = list(
        Order.objects.select_for_update()
        .filter(customer=customer, erased_at__isnull=True)
        .order_by("id")
    )
    first_time = customer.erased_at is None
    if not first_time and not orders:
        return Erasure(customer=customer, customer_erased=False, orders_erased=0)
    now = timezone.now()
    values: set[str] = set()
    strong: set[str] = set()
    if first_time:
        values |= {customer.first_name, customer.last_name, customer.email, customer.phone}
        values.add(f"{customer.first_name} {customer.last_name}")
        strong |= {customer.email, customer.phone}
        _erase_customer_fields(customer, now)
    for order in orders:
        values |= {order.contact_email, order.phone}
        strong |= {order.contact_email, order.phone}
        _erase_order_fields(order, customer, now)
    placeholders = {customer.email, customer.first_name, customer.last_name, ERASED_ORDER_PHONE}
    found = _searchable(values - placeholders)
    searched = _searchable(strong - placeholders)
    order_ids = [order.pk for order in orders]
    _forget_admin_log(customer, order_ids, found, searched)
    _forget_import_runs(found, searched)
    _forget_history(customer.pk, order_ids, actor)
    signals.customer_erased.send(
        sender=Customer,
        customer_id=customer.pk,
        order_ids=order_ids,
        values=found,
        strong=searched,
    )
    changes: list[tuple[type[models.Model], int, str]] = [
        (Order, order.pk, ORDER_ACTION[order.deleted_at is not None]) for order in orders
    ]
    if first_time:
        changes.append((Customer, customer.pk, "delete"))
    signals.records_changed.send(sender=Customer, changes=changes)
    transaction.on_commit(_checkpoint_sqlite)
    logger.info("Customer #%s erased (%s orders).", customer.pk, len(orders))
    return Erasure(customer=customer, customer_erased=first_time, orders_erased=len(orders))


def _erase_customer_fields(customer: Customer, now: datetime) -> None:
    customer.email = erased_email(customer.pk)
    customer.first_name = ERASED_FIRST_NAME
    customer.last_name = ERASED_LAST_NAME
    customer.phone = ""
    customer.gender = Customer.Gender.UNKNOWN
    customer.accepts_marketing = False
    customer.erased_at = now
    _check(customer, CUSTOMER_ERASED_FIELDS)
    customer.save(update_fields=[*CUSTOMER_ERASED_FIELDS, "erased_at", "updated_at"])


def _erase_order_fields(order: Order, customer: Customer, now: datetime) -> None:
    order.contact_email = customer.email
    order.phone = ERASED_ORDER_PHONE
    order.customer_locale = ""
    order.erased_at = now
    _check(order, ORDER_ERASED_FIELDS)
    order.save(update_fields=[*ORDER_ERASED_FIELDS, "erased_at", "updated_at"])


def _check(instance: models.Model, fields: tuple[str, ...]) -> None:
    """The placeholders pass every rule on the fields they replace (a broken one stops the
    erasure, with nothing written); the record's other fields are kept as they are."""
    kept = [f.name for f in instance._meta.concrete_fields if f.name not in fields]
    try:
        full_clean(instance, exclude=kept)
    except ValidationError as exc:
        raise ValidationError(f"The erased record breaks a rule: {exc.messages}") from exc


def _searchable(values: Iterable[str]) -> tuple[str, ...]:
    """The texts to search for, longest first (a full name before its first name)."""
    return tuple(sorted({v.strip() for v in values if v and v.strip()}, key=lambda v: (-len(v), v)))


def scrub_text(text: str, values: Iterable[str]) -> str:
    """`text` with every occurrence of the values, in any letter case, replaced by ERASED."""
    values = tuple(values)
    if not text or not values:
        return text
    pattern = "|".join(re.escape(value) for value in values)
    return re.sub(pattern, ERASED, text, flags=re.IGNORECASE)


def scrub_rows(queryset: models.QuerySet, fields: Iterable[str], values: Iterable[str]) -> int:
    """Replace the values in the given text fields of the queryset's rows; return how many rows
    changed. One UPDATE per row changed (an erasure touches few)."""
    fields, values = tuple(fields), tuple(values)
    changed = 0
    if not values:
        return 0
    for row in queryset.order_by("pk").values("pk", *fields):
        new = {f: scrub_text(row[f], values) for f in fields if isinstance(row[f], str)}
        new = {f: v for f, v in new.items() if v != row[f]}
        if new:
            queryset.model.objects.filter(pk=row["pk"]).update(**new)
            changed += 1
    return changed


def mentioning(fields: Iterable[str], values: Iterable[str]) -> Q:
    """Rows whose fields hold any of the values, in any letter case."""
    found = Q(pk__in=[])
    for field in fields:
        for value in values:
            found |= Q(**{f"{field}__icontains": value})
    return found


def _forget_admin_log(
    customer: Customer, order_ids: list[int], values: tuple[str, ...], strong: tuple[str, ...]
) -> None:
    """The admin log's entries of the customer and their orders name them as they are now; any
    entry naming their email or phone loses it; change messages lose every value."""
    fields = ("object_repr", "change_message")
    customer_type = ContentType.objects.get_for_model(Customer)
    order_type = ContentType.objects.get_for_model(Order)
    LogEntry.objects.filter(content_type=customer_type, object_id=str(customer.pk)).update(
        object_repr=str(customer)[:200]
    )
    theirs = Q(content_type=customer_type, object_id=str(customer.pk)) | Q(
        content_type=order_type, object_id__in=[str(pk) for pk in order_ids]
    )
    scrub_rows(LogEntry.objects.filter(theirs), fields, values)
    scrub_rows(LogEntry.objects.filter(mentioning(fields, strong)), fields, values)


def _file_names(run: ImportRun, strong: tuple[str, ...]) -> bool:
    """Whether a stored import file has a cell holding one of the values."""
    wanted = tuple(value.casefold() for value in strong)
    try:
        for row in imports._file_rows(imports.import_dir() / run.stored_name, run.file_format):
            for cell in row:
                if cell is not None and any(v in str(cell).casefold() for v in wanted):
                    return True
    except Exception:  # an unreadable file imports nothing: its run fails on its own
        logger.warning("Import run %s: its file could not be searched.", run.pk, exc_info=True)
    return False


def _forget_import_runs(values: tuple[str, ...], strong: tuple[str, ...]) -> None:
    """A run still under way whose file names the customer stops, its file removed (it would
    write their values back); every run's refusals, message and file name lose the values."""
    active = ImportRun.objects.exclude(stored_name="").exclude(
        state__in=[ImportRun.State.DONE, ImportRun.State.FAILED]
    )
    for run in active:
        if strong and _file_names(run, strong):
            ImportRun.objects.filter(pk=run.pk).update(
                state=ImportRun.State.FAILED,
                message="Stopped: the file holds personal data of a customer who was erased.",
                finished_at=timezone.now(),
                stored_name="",
            )
            transaction.on_commit(partial(imports.remove_upload, run.stored_name))
    if not values:
        return
    for run in ImportRun.objects.order_by("pk"):
        refusals = _scrub_json(run.refusals, values)
        fields = {
            "refusals": refusals,
            "message": scrub_text(run.message, values),
            "file_name": scrub_text(run.file_name, values),
        }
        if any(getattr(run, name) != value for name, value in fields.items()):
            ImportRun.objects.filter(pk=run.pk).update(**fields)


def _scrub_json(value: Any, values: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, values)
    if isinstance(value, list):
        return [_scrub_json(item, values) for item in value]
    if isinstance(value, dict):
        return {scrub_text(k, values): _scrub_json(v, values) for k, v in value.items()}
    return value


def _history_actor(actor: Any) -> history.Actor:
    """Who erased, as the history names them: a staff user, an API key, else whoever the door
    set (the system for the command line)."""
    if hasattr(actor, "get_username"):
        return history.Actor.user(actor)
    if actor is not None and hasattr(actor, "scopes"):
        return history.Actor.api_key(actor)
    return history.current().actor


def _forget_history(customer_id: int, order_ids: list[int], actor: Any) -> None:
    """Erase the history entries of the customer and of these orders (their old and new
    values), leaving one entry "erased by <actor> at <time>" with no values."""
    history.forget_customer(customer_id, order_ids, _history_actor(actor))


def _history_for_export(customer_id: int, order_ids: list[int]) -> list[dict]:
    """The history entries of the customer and their orders, for their data export, newest
    first: each as the REST API gives it, naming its record."""
    entries = HistoryEntry.objects.filter(
        Q(entity=HistoryEntry.Entity.CUSTOMER, record_id=customer_id)
        | Q(
            entity=HistoryEntry.Entity.ORDER,
            record_id__in=Order.objects.filter(customer_id=customer_id).values("id"),
        )
    ).order_by("-id")
    return [
        {
            "entity": entry.entity,
            "record_id": entry.record_id,
            **history.as_dict(entry),
            "at": _plain(entry.at),
        }
        for entry in entries.iterator()
    ]


def _checkpoint_sqlite() -> None:
    """On SQLite, move the write-ahead log into the database file and empty it, so that the old
    values left in its frames go (secure_delete, in the settings, zeroes them in the file).
    Best effort: a reader holding an old snapshot keeps the log until the next checkpoint."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except DatabaseError:
        logger.warning("The write-ahead log could not be checkpointed.", exc_info=True)


# The data export -------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "code"):  # a django-countries Country
        return value.code
    return value


def _record(instance: models.Model, names: Iterable[str]) -> dict:
    out = {"id": instance.pk}
    for name in names:
        field: Any = instance._meta.get_field(name)
        out[name] = _plain(getattr(instance, field.attname))
    return out


TIMES = ("created_at", "updated_at", "deleted_at", "erased_at")
LINE_ITEM_FIELDS = ("product", "title", "sku", "quantity", "price")


def customer_export(*, customer: Customer) -> dict:
    """The customer's data as one JSON-ready document: the customer, their orders with line
    items (deleted ones too, with `deleted_at`), and their history (newest first)."""
    orders = list(
        Order.objects.filter(customer=customer).order_by("id").prefetch_related("line_items")
    )
    return {
        "exported_at": _plain(timezone.now()),
        "customer": _record(customer, [*CUSTOMER_FIELDS, *TIMES]),
        "orders": [
            {
                **_record(order, [*ORDER_FIELDS, *ORDER_TOTALS, *TIMES]),
                "line_items": [_record(item, LINE_ITEM_FIELDS) for item in order.line_items.all()],
            }
            for order in orders
        ],
        "history": _history_for_export(customer.pk, [order.pk for order in orders]),
    }
