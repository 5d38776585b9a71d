"""A bulk load suspends SQLite's per-row counter triggers and recounts once; the counts and
the triggers are right afterwards, on every database."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from feeds.liveblocks import live_blocks_mismatches
from shop import services
from shop.demo import seed
from shop.models import Order

pytestmark = pytest.mark.django_db


def _triggers() -> dict[str, str]:
    """SQLite's feed triggers and their SQL, whitespace aside."""
    if connection.vendor != "sqlite":
        return {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        return {name: " ".join(sql.split()) for name, sql in cursor if name.startswith("feeds_")}


def test_counts_are_right_after_a_bulk_load_and_triggers_keep_them(store):
    before = _triggers()
    seed(customers=40, orders=300, seed=3, now=datetime(2026, 11, 1, tzinfo=UTC))
    assert _triggers() == before
    assert live_blocks_mismatches() == {}

    order = Order.objects.alive().first()
    services.order_soft_delete(order=order)
    assert live_blocks_mismatches() == {}
