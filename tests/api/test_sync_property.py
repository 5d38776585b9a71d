"""An incremental sync over cursor pages misses no change and repeats none, whatever writes
come between its pages.

The sync asks for `updated_after` with `cursor=`, keeps `meta.next_cursor` after every page
and, once the writes stop, follows `links.next` to the end. Between its pages come creates,
updates, soft deletes and restores, stamped with explicit times: the records of one batch
of writes share one updated_at (as a bulk write's do), and a write after a page is read is
stamped later than that read, as a clock would have it.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from shop import services
from shop.models import Customer
from tests.api.helpers import iso

pytestmark = pytest.mark.django_db

START = datetime(2025, 3, 1, tzinfo=UTC)

steps = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.just(0)),
        st.tuples(st.just("update"), st.integers(0, 10**6)),
        st.tuples(st.just("soft_delete"), st.integers(0, 10**6)),
        st.tuples(st.just("restore"), st.integers(0, 10**6)),
        st.tuples(st.just("tick"), st.just(0)),
        st.tuples(st.just("page"), st.integers(1, 3)),
    ),
    max_size=25,
)


class Store:
    """The customers, written through the services, with updated_at set by a test clock."""

    def __init__(self):
        self.clock = START
        self.serial = 0
        self.read_since_tick = False

    def stamp(self, customer) -> None:
        if self.read_since_tick:
            # A write after a read happens later than the read.
            self.tick()
        Customer.objects.filter(pk=customer.pk).update(updated_at=self.clock)

    def tick(self) -> None:
        self.clock += timedelta(seconds=1)
        self.read_since_tick = False

    def create(self, _) -> None:
        self.serial += 1
        customer = services.customer_create(
            email=f"sync{self.serial}@example.com", first_name="v0", last_name="Sync"
        )
        self.stamp(customer)

    def update(self, customer) -> None:
        version = int(customer.first_name[1:]) + 1
        services.customer_update(customer=customer, first_name=f"v{version}")
        self.stamp(customer)

    def soft_delete(self, customer) -> None:
        if customer.deleted_at is None:
            services.customer_soft_delete(customer=customer)
            self.stamp(customer)

    def restore(self, customer) -> None:
        if customer.deleted_at is not None:
            services.customer_restore(customer=customer)
            self.stamp(customer)


class Sync:
    """A client that syncs customers from a point in time."""

    def __init__(self, client: APIClient, per_page: int = 2):
        self.client = client
        self.cursor = ""
        self.per_page = per_page
        self.seen: list[tuple[int, str, str, str | None]] = []

    def page(self, per_page: int | None = None) -> bool:
        """Read the next page; True while more pages follow."""
        response = self.client.get(
            "/api/v1/customers",
            {
                "updated_after": iso(START - timedelta(days=1)),
                "cursor": self.cursor,
                "per_page": per_page or self.per_page,
            },
        )
        assert response.status_code == 200, response.content
        body = response.json()
        for item in body["data"]:
            self.seen.append(
                (item["id"], item["updated_at"], item["first_name"], item["deleted_at"])
            )
        # Resume from here, whether or not a next page follows now.
        self.cursor = body["meta"]["next_cursor"] or self.cursor
        return body["links"]["next"] is not None


def run(client: APIClient, initial: int, actions) -> None:
    world = Store()
    # Many records share one updated_at.
    for _ in range(initial):
        world.create(None)
    sync = Sync(client)
    for action, argument in actions:
        if action == "page":
            sync.page(argument)
            world.read_since_tick = True
        elif action == "tick":
            world.tick()
        elif action == "create":
            world.create(None)
        else:
            customers = list(Customer.objects.order_by("id"))
            if customers:
                getattr(world, action)(customers[argument % len(customers)])
    while sync.page():
        pass

    latest = {
        (c.pk, iso(c.updated_at), c.first_name, iso(c.deleted_at)) for c in Customer.objects.all()
    }
    assert latest <= set(sync.seen), "a record's latest state was never listed"
    pairs = [(pk, updated_at) for pk, updated_at, _, _ in sync.seen]
    assert len(pairs) == len(set(pairs)), "a (record, updated_at) was listed twice"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(initial=st.integers(0, 6), actions=steps)
def test_a_cursor_sync_lists_every_latest_state_once_per_change(
    store, make_client, initial, actions
):
    client = make_client(rate_limit=1_000_000)
    with transaction.atomic():
        run(client, initial, actions)
        transaction.set_rollback(True)
