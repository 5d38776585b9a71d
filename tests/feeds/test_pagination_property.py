"""Every page equals plain OFFSET pagination over live rows, whatever writes come between.

The feed finds a page through live-row counts per block of ids rather than OFFSET; this
property test interleaves random inserts (auto ids, and explicit ids below the maximum as
imports write them, across several blocks), updates, soft deletes, restores, hard deletes and
page requests, and compares every page with `ORDER BY id LIMIT n OFFSET (page - 1) * n`.
"""

from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.builders import build_payload
from feeds.counters import BLOCK, SUPERBLOCK
from feeds.liveblocks import live_blocks_mismatches
from shop import services
from shop.models import Customer, LineItem, Order
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

# Explicit ids far above any sequence value the suite reaches: in the first and last blocks
# of several superblocks, so pages cross both kinds of boundary.
EXPLICIT_BASE = 800 * SUPERBLOCK
explicit_ids = st.builds(
    lambda superblock, offset: EXPLICIT_BASE + superblock * SUPERBLOCK + offset,
    st.integers(0, 2),
    st.one_of(st.integers(0, 2 * BLOCK), st.integers(SUPERBLOCK - 2 * BLOCK, SUPERBLOCK - 1)),
)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), st.just(0)),
        st.tuples(st.just("insert_at"), explicit_ids),
        st.tuples(st.just("update"), st.integers(0, 10**6)),
        st.tuples(st.just("soft_delete"), st.integers(0, 10**6)),
        st.tuples(st.just("restore"), st.integers(0, 10**6)),
        st.tuples(st.just("delete"), st.integers(0, 10**6)),
        st.tuples(st.just("page"), st.tuples(st.integers(1, 12), st.integers(1, 7))),
    ),
    min_size=1,
    max_size=30,
)

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class OrdersWorld:
    endpoint = "orders"
    model = Order

    def __init__(self):
        self.customer = CustomerFactory()
        self.product = ProductFactory(price=Decimal("12.50"))

    def insert(self):
        services.order_create(
            customer=self.customer,
            line_items=[services.LineItemInput(product=self.product, quantity=2)],
            country_code="EG",
        )

    def insert_at(self, order_id):
        Order.objects.create(
            id=order_id,
            customer=self.customer,
            currency="EGP",
            country_code="EG",
            phone="+201000000000",
            contact_email="import@example.com",
            subtotal_price=Decimal("12.50"),
            total_price=Decimal("12.50"),
        )
        LineItem.objects.create(
            order_id=order_id, product=self.product, quantity=1, price=Decimal("12.50")
        )

    def update(self, row):
        services.order_update(order=row, financial_status="refunded")

    def soft_delete(self, row):
        services.order_soft_delete(order=row)

    def restore(self, row):
        services.order_restore(order=row)

    def check_item(self, item):
        expected = list(
            LineItem.objects.filter(order_id=item["id"])
            .order_by("id")
            .values_list("product_id", "quantity")
        )
        assert [(li["product_id"], li["quantity"]) for li in item["line_items"]] == expected


class CustomersWorld:
    endpoint = "customers"
    model = Customer

    def __init__(self):
        self.serial = 0

    def _email(self):
        self.serial += 1
        return f"property{self.serial}@example.com"

    def insert(self):
        services.customer_create(email=self._email(), first_name="A", last_name="B")

    def insert_at(self, customer_id):
        Customer.objects.create(
            id=customer_id, email=self._email(), first_name="I", last_name="M", currency="EGP"
        )

    def update(self, row):
        services.customer_update(customer=row, first_name="Changed")

    def soft_delete(self, row):
        services.customer_soft_delete(customer=row)

    def restore(self, row):
        services.customer_restore(customer=row)

    def check_item(self, item):
        assert item["first_name"] == Customer.objects.get(pk=item["id"]).first_name


def run(world, steps):
    model = world.model
    for _ in range(3):
        world.insert()
    for action, argument in steps:
        rows = list(model.objects.order_by("id"))
        if action == "insert":
            world.insert()
        elif action == "insert_at":
            wanted = argument
            if not model.objects.filter(pk=wanted).exists():
                world.insert_at(wanted)
        elif action == "page":
            page, per_page = argument
            payload = build_payload(world.endpoint, page=page, per_page=per_page)
            live = model.objects.alive().order_by("id")
            offset = (page - 1) * per_page
            expected = list(live.values_list("id", flat=True)[offset : offset + per_page])
            assert [item["id"] for item in payload["data"]] == expected
            assert payload["total"] == live.count()
            for item in payload["data"]:
                world.check_item(item)
        elif action == "delete":
            if rows:
                model.objects.filter(pk=rows[argument % len(rows)].pk).delete()
        else:
            pool = [
                r
                for r in rows
                if (r.deleted_at is not None) == (action == "restore") or action == "update"
            ]
            if pool:
                getattr(world, action)(pool[argument % len(pool)])
    assert not live_blocks_mismatches()


@SETTINGS
@given(steps=operations)
def test_orders_pages_match_offset_pagination_over_live_rows(store, steps):
    with transaction.atomic():
        run(OrdersWorld(), steps)
        transaction.set_rollback(True)


@SETTINGS
@given(steps=operations)
def test_customers_pages_match_offset_pagination_over_live_rows(store, steps):
    with transaction.atomic():
        run(CustomersWorld(), steps)
        transaction.set_rollback(True)
