"""The live-row counts kept by database triggers, whoever writes."""

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from feeds.liveblocks import live_blocks_mismatches, live_blocks_stored
from feeds.models import LiveBlock
from feeds.selectors import BLOCK, SUPER_SUFFIX, SUPERBLOCK
from shop import services
from shop.models import Customer, Order
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


def test_the_block_sizes_match_the_triggers():
    migration = Path(__file__).resolve().parents[2] / "feeds/migrations"
    source = (migration / "0004_live_superblocks.py").read_text()
    assert re.search(rf"^BLOCK = {BLOCK}$", source, re.M)
    assert re.search(rf"^SUPERBLOCK = {SUPERBLOCK:_}$", source, re.M)
    assert f'"{SUPER_SUFFIX}"' in source


def test_counts_follow_inserts_soft_deletes_restores_and_deletes(store):
    customer = CustomerFactory()
    orders = [OrderFactory(customer=customer, items=1) for _ in range(3)]
    base = Order.objects.order_by("id").first().pk
    far = Order.objects.create(
        **{
            f.attname: getattr(orders[0], f.attname)
            for f in Order._meta.concrete_fields
            if f.attname != "id"
        },
        id=base + SUPERBLOCK + 5 * BLOCK + 7,
    )
    assert not live_blocks_mismatches()
    services.order_soft_delete(order=orders[1])
    services.order_soft_delete(order=far)
    assert not live_blocks_mismatches()
    services.order_restore(order=far)
    services.customer_soft_delete(customer=customer)
    assert not live_blocks_mismatches()
    Order.objects.filter(pk=orders[2].pk).delete()
    Order.objects.filter(pk=far.pk).update(deleted_at=far.updated_at)
    Order.objects.filter(pk=orders[1].pk).update(deleted_at=None)
    assert not live_blocks_mismatches()
    stored = live_blocks_stored("order")
    assert sum(stored.values()) == Order.objects.alive().count() == 2
    assert sum(live_blocks_stored("order" + SUPER_SUFFIX).values()) == 2
    assert sum(live_blocks_stored("customer").values()) == Customer.objects.alive().count()


def test_a_bulk_insert_counts_every_row(store):
    customer = CustomerFactory()
    Customer.objects.bulk_create(
        Customer(email=f"bulk{i}@example.com", first_name="A", last_name="B", currency="EGP")
        for i in range(250)
    )
    assert sum(live_blocks_stored("customer").values()) == 251
    assert not live_blocks_mismatches()
    assert customer.pk


def test_the_check_command_reports_and_rebuild_repairs_wrong_counts(store):
    CustomerFactory.create_batch(3)
    call_command("feed_counters", stdout=io.StringIO())
    LiveBlock.objects.filter(entity="customer").update(live=99)
    LiveBlock.objects.filter(entity="customer" + SUPER_SUFFIX).update(live=98)
    with pytest.raises(CommandError, match="stored 99, counted 3"):
        call_command("feed_counters")
    call_command("feed_counters", "--rebuild", stdout=io.StringIO())
    assert not live_blocks_mismatches()


def test_counts_are_kept_by_triggers_in_the_database():
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        names = {row[0] for row in cursor.fetchall()}
    for entity in ("order", "customer"):
        for action in ("insert", "update", "delete"):
            assert f"feeds_{entity}_live_{action}" in names
