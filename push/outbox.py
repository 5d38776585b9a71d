"""Write the outbox rows of a service write, inside its transaction: one INSERT per write."""

import threading

from django.db import transaction

from core import inserts
from shop.models import Category, Customer, Order, Product

from .models import PushEvent

# The feed's endpoint of each model; converted.in calls categories "collections".
ENTITIES = {Order: "orders", Customer: "customers", Product: "products", Category: "categories"}
TOPIC_PREFIX = {
    "orders": "orders",
    "customers": "customers",
    "products": "products",
    "categories": "collections",
}

_bulk = threading.local()


def record_changes(sender, *, changes, **kwargs) -> None:
    if getattr(_bulk, "depth", 0):
        return
    rows = [
        (ENTITIES[model], pk, action)
        for model, pk, action in changes
        if model in ENTITIES and pk is not None
    ]
    if rows:
        made = inserts.rows_of_values(PushEvent, ("entity", "record_id", "action"), rows)
        inserts.insert_rows(made, returning_ids=False)
        connection = transaction.get_connection()
        # Once per transaction: an import's thousands of writes ask for one pump.
        if not any(func is _outbox_written for _, func, _ in connection.run_on_commit):
            transaction.on_commit(_outbox_written)


def _outbox_written() -> None:
    from .tasks import outbox_written  # the worker's module imports this one

    outbox_written()


def bulk_load_started(sender, **kwargs) -> None:
    """A bulk load (seed_demo) does not push."""
    _bulk.depth = getattr(_bulk, "depth", 0) + 1


def bulk_load_finished(sender, **kwargs) -> None:
    _bulk.depth = max(0, getattr(_bulk, "depth", 0) - 1)
