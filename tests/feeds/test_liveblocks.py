"""The live-row counts kept by database triggers, whoever writes."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from feeds import counters
from feeds.counters import BLOCK, SUPER_SUFFIX, SUPERBLOCK
from feeds.liveblocks import live_blocks_mismatches, live_blocks_stored
from feeds.models import LiveBlock
from shop import services
from shop.models import Customer, Order
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


def _words(sql: str) -> str:
    return " ".join(sql.replace("public.", "").split())


def _installed_triggers() -> dict[str, str]:
    """The feed's counter triggers as the database holds them, by name."""
    names = [name for entity in counters.MODELS for name in counters.trigger_names(entity)]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN "
                f"({', '.join(['%s'] * len(names))})",
                names,
            )
        else:
            cursor.execute(
                "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname = ANY(%s)",
                [names],
            )
        return {name: _words(sql) for name, sql in cursor.fetchall()}


def test_the_installed_triggers_are_the_ones_the_counters_module_builds():
    expected = {}
    for entity in counters.MODELS:
        if connection.vendor == "sqlite":
            statements = counters.sqlite_trigger_sql(entity)
        else:
            statements = counters.postgres_trigger_sql(entity)
        for name, sql in zip(counters.trigger_names(entity), statements, strict=True):
            expected[name] = _words(sql)
    assert _installed_triggers() == expected
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT prosrc FROM pg_proc WHERE proname = %s", [counters.POSTGRES_FUNCTION]
            )
            [(body,)] = cursor.fetchall()
        assert _words(body) == _words(counters.postgres_function_sql().split("$$")[1])


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
    services.customer_soft_delete(customer=CustomerFactory())
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
