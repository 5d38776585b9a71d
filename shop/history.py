"""Who changed what: one history entry per record written, at every door.

The services (shop/services.py) and the batch writes (shop/bulk.py) own every write, so they
record it here, in the write's own transaction: one INSERT per record written, one per batch
in a batch write. An entry holds the changes field by field, old to new, taken from the
values the record was read with (`LoadedValues`), so no row is read again; an order's line
items are part of its changes.

Who and which door come from a context each door sets (`acting`): the admin (its user), the
REST API (the API key, or the staff user), the bulk API, imports (the import run), a store
restore; anything else is the system's service call.
"""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from core import inserts

from .models import Category, Customer, HistoryEntry, Order, Product, Store

Door = HistoryEntry.Door
Action = HistoryEntry.Action
Kind = HistoryEntry.ActorKind

ENTITIES: dict[type[models.Model], str] = {
    Customer: HistoryEntry.Entity.CUSTOMER,
    Order: HistoryEntry.Entity.ORDER,
    Product: HistoryEntry.Entity.PRODUCT,
    Category: HistoryEntry.Entity.CATEGORY,
    Store: HistoryEntry.Entity.STORE,
}
MODELS = {entity: model for model, entity in ENTITIES.items()}
# The record's bookkeeping, not its data: never part of its changes.
UNTRACKED = frozenset({"id", "created_at", "updated_at"})
LINE_ITEMS = "line_items"


# Who and which door ------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who writes: a staff user, an API key, an import run or the system; `label` is their
    name at the time."""

    kind: str
    id: int | None
    label: str

    @classmethod
    def user(cls, user) -> "Actor":
        return cls(Kind.USER, user.pk, user.get_username()[:200])

    @classmethod
    def api_key(cls, key) -> "Actor":
        return cls(Kind.API_KEY, key.pk, key.name[:200])

    @classmethod
    def import_run(cls, run) -> "Actor":
        by = f" by {run.created_by.get_username()}" if run.created_by_id else ""
        return cls(Kind.IMPORT, run.pk, f"import of {run.file_name}{by}"[:200])

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(Kind.SYSTEM, None, label[:200])


@dataclass(frozen=True)
class Context:
    actor: Actor
    door: str


SYSTEM = Context(Actor.system(), Door.SERVICE)
_context: ContextVar[Context] = ContextVar("history_context", default=SYSTEM)
_recording: ContextVar[bool] = ContextVar("history_recording", default=True)


def current() -> Context:
    return _context.get()


@contextmanager
def acting(actor: Actor | None = None, door: str | None = None) -> Iterator[Context]:
    """Within the block, writes are recorded as `actor`'s through `door` (each defaulting to
    the enclosing one's)."""
    outer = _context.get()
    token = _context.set(Context(actor or outer.actor, door or outer.door))
    try:
        yield _context.get()
    finally:
        _context.reset(token)


def set_actor(actor: Actor) -> None:
    """Name the actor inside an `acting` block, once known (the API authenticates late)."""
    _context.set(replace(_context.get(), actor=actor))


def set_door(door: str) -> None:
    _context.set(replace(_context.get(), door=door))


@contextmanager
def not_recorded() -> Iterator[None]:
    """Write without history (a benchmark's baseline only)."""
    token = _recording.set(False)
    try:
        yield
    finally:
        _recording.reset(token)


# Values and changes --------------------------------------------------------------------


@cache
def tracked_fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    return tuple(f for f in model._meta.concrete_fields if f.name not in UNTRACKED)


@cache
def _tracked_attnames(model: type[models.Model]) -> tuple[str, ...]:
    return tuple(f.attname for f in tracked_fields(model))


def plain(field: models.Field, value: Any) -> Any:
    """A field's value as JSON holds it: ids for relations, text for amounts and times."""
    if value is None:
        return None
    if isinstance(field, models.DecimalField) and not isinstance(value, bool):
        try:
            return str(Decimal(str(value)).quantize(Decimal(1).scaleb(-field.decimal_places)))
        except InvalidOperation:
            return str(value)
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = value.astimezone(UTC)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)  # a Country, a lazy string


def _loaded(instance: models.Model) -> dict[str, Any] | None:
    loaded = getattr(instance, "_loaded_values", None)
    if loaded is None:
        return None
    names, values = loaded
    return dict(zip(names, values, strict=True))


def _remember(instance: models.Model) -> None:
    """Take the record's values now written as those it was read with."""
    names = _tracked_attnames(type(instance))
    instance._loaded_values = (names, [getattr(instance, name) for name in names])  # type: ignore[attr-defined]


def changes_of(instance: models.Model, *, created: bool) -> dict[str, list]:
    """{field: [old, new]} of the tracked fields that differ from the values read (a new
    record: every field, old null)."""
    before = None if created else (_loaded(instance) or {})
    changes = {}
    for field in tracked_fields(type(instance)):
        new = plain(field, getattr(instance, field.attname))
        old = None if before is None else plain(field, before.get(field.attname))
        if created or old != new:
            changes[field.name] = [old, new]
    return changes


def line_item_values(rows: Iterable[Any]) -> list[dict]:
    """An order's line items as history keeps them: from LineItem rows or value dicts."""
    values = []
    for row in rows:
        get = row.get if isinstance(row, dict) else (lambda name, row=row: getattr(row, name))
        values.append(
            {
                "product": get("product_id"),
                "title": get("title"),
                "quantity": get("quantity"),
                "price": str(Decimal(str(get("price"))).quantize(Decimal("0.01"))),
            }
        )
    return values


# Writing entries -----------------------------------------------------------------------


def entry(
    instance: models.Model,
    action: str,
    *,
    line_items: tuple[list[dict] | None, list[dict]] | None = None,
    context: Context | None = None,
    at: datetime | None = None,
) -> HistoryEntry | None:
    """The entry for this write of `instance` (after its save), or None when it changed
    nothing. `line_items` is (before, after) for an order whose items were replaced."""
    if action in (Action.DELETE, Action.RESTORE):
        field: Any = instance._meta.get_field("deleted_at")
        before = (_loaded(instance) or {}).get("deleted_at")
        after = getattr(instance, "deleted_at", None)
        changes = {"deleted_at": [plain(field, before), plain(field, after)]}
    else:
        changes = changes_of(instance, created=action == Action.CREATE)
    if line_items is not None:
        old, new = line_items
        if old != new:
            changes[LINE_ITEMS] = [old, new]
    _remember(instance)
    if not changes and action == Action.UPDATE:
        return None
    context = context or _context.get()
    return HistoryEntry(
        entity=ENTITIES[type(instance)],
        record_id=instance.pk,
        at=at or timezone.now(),
        action=action,
        actor_kind=context.actor.kind,
        actor_id=context.actor.id,
        actor_label=context.actor.label,
        door=context.door,
        changes=changes,
    )


def record(
    instance: models.Model,
    action: str,
    *,
    line_items: tuple[list[dict] | None, list[dict]] | None = None,
) -> None:
    """Record one write of one record (one INSERT; none when it changed nothing)."""
    if not _recording.get():
        return
    made = entry(instance, action, line_items=line_items)
    if made is not None:
        made.save(force_insert=True)


def record_batch(entries: Sequence[HistoryEntry | None]) -> None:
    """Record a batch's entries in one INSERT."""
    kept = [e for e in entries if e is not None]
    if kept and _recording.get():
        inserts.insert(HistoryEntry, kept, returning_ids=False)


def recording() -> bool:
    return _recording.get()


# Reading, pruning, forgetting -------------------------------------------------------------


def entries_of(model: type[models.Model], record_id: int):
    """A record's entries, newest first (read a page at a time: history_record_newest)."""
    return HistoryEntry.objects.filter(entity=ENTITIES[model], record_id=record_id).order_by("-id")


def prune(now: datetime | None = None) -> int:
    """Delete entries older than HISTORY_KEEP_DAYS; return how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.HISTORY_KEEP_DAYS)
    deleted, _ = HistoryEntry.objects.filter(at__lt=cutoff).delete()
    return deleted


@transaction.atomic
def forget_customer(customer_id: int, order_ids: Iterable[int], actor: Actor) -> None:
    """Delete every entry of the customer and of these orders, values and all, and leave
    each of them one entry saying who erased it and when, with no values."""
    order_ids = sorted(set(order_ids))
    HistoryEntry.objects.filter(entity=HistoryEntry.Entity.CUSTOMER, record_id=customer_id).delete()
    for start in range(0, len(order_ids), 500):
        HistoryEntry.objects.filter(
            entity=HistoryEntry.Entity.ORDER, record_id__in=order_ids[start : start + 500]
        ).delete()
    now = timezone.now()
    erased = [(HistoryEntry.Entity.CUSTOMER, customer_id)] + [
        (HistoryEntry.Entity.ORDER, pk) for pk in order_ids
    ]
    inserts.insert(
        HistoryEntry,
        [
            HistoryEntry(
                entity=entity,
                record_id=pk,
                at=now,
                action=Action.ERASE,
                actor_kind=actor.kind,
                actor_id=actor.id,
                actor_label=actor.label,
                door=Door.ERASURE,
                changes={},
            )
            for entity, pk in erased
        ],
        returning_ids=False,
    )


# Showing ------------------------------------------------------------------------------------


def as_dict(entry: HistoryEntry) -> dict[str, Any]:
    """An entry as the REST API and a customer's data export give it (`at` still a datetime,
    for each to write as it writes times)."""
    return {
        "id": entry.pk,
        "at": entry.at,
        "action": entry.action,
        "door": entry.door,
        "actor": {"kind": entry.actor_kind, "id": entry.actor_id, "name": entry.actor_label},
        "changes": entry.changes,
    }


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return (
            "; ".join(
                f"{item.get('title')} x {item.get('quantity')} @ {item.get('price')}"
                if isinstance(item, dict)
                else str(item)
                for item in value
            )
            or "none"
        )
    return str(value)


def readable(entry: HistoryEntry) -> list[tuple[str, str, str]]:
    """(field label, old, new) of each change, in the model's field order."""
    model = MODELS[entry.entity]
    labels = {f.name: str(f.verbose_name) for f in tracked_fields(model)}
    labels[LINE_ITEMS] = "line items"
    order = {name: index for index, name in enumerate(labels)}
    lines = []
    for name in sorted(entry.changes, key=lambda n: order.get(n, len(order))):
        old, new = entry.changes[name]
        lines.append((labels.get(name, name), _shown(old), _shown(new)))
    return lines


def summary(entry: HistoryEntry) -> str:
    """ "changed by alice (admin)" and the like; an erasure: "erased by X at T"."""
    verb = entry.get_action_display()
    if entry.action == Action.ERASE:
        return f"erased by {entry.actor_label} at {entry.at:%Y-%m-%d %H:%M} UTC"
    return f"{verb} by {entry.actor_label} ({entry.get_door_display()})"
