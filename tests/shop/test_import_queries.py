"""What an order import costs in queries: its customers and products are fetched per batch."""

import pytest
import tablib
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shop import bulk
from shop.models import Order
from shop.resources import OrderResource
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _import(rows: int, email: str, handle: str) -> list[str]:
    data = tablib.Dataset(headers=["customer_email", "line_items", "financial_status"])
    for n in range(rows):
        data.append([email.upper() if n % 2 else email, f"{handle} x 1", "successful"])
    with CaptureQueriesContext(connection) as queries:
        result = OrderResource().import_data(data, dry_run=False)
    assert not result.has_errors()
    assert not result.has_validation_errors()
    return [query["sql"] for query in queries.captured_queries]


def _reads(sql: list[str], table: str) -> int:
    return sum(1 for statement in sql if statement.startswith(f'SELECT "{table}"."id"'))


def test_an_order_import_fetches_its_customers_and_products_once_a_pass(store):
    customer, product = CustomerFactory(), ProductFactory()

    sql = _import(6, customer.email, product.handle)

    assert Order.objects.filter(customer=customer).count() == 6
    # Once for the check of every row, once for the batch written.
    assert _reads(sql, "shop_customer") == 2
    assert _reads(sql, "shop_product") == 2


def _rows(count: int, email: str, handle: str, *, first_id: int, quantity: int = 1):
    """`count` orders, half of them named by a free id, half by a reference."""
    headers = ["id", "reference", "customer_email", "line_items", "financial_status"]
    data = tablib.Dataset(headers=headers)
    for n in range(count):
        pk, reference = (first_id + n, "") if n % 2 else ("", f"R{first_id + n}")
        data.append([pk, reference, email, f"{handle} x {quantity}", "successful"])
    return data


def _worker_resource() -> OrderResource:
    resource = OrderResource()
    resource._meta.skip_diff = True  # as the worker's check: counts, not each row's values
    return resource


# PostgreSQL: a batch write drops the connection's cached plans first, one query
# (core.inserts.plan_checks_afresh).
_REPLAN = int(connection.vendor == "postgresql")


@pytest.mark.parametrize("count", [1, 40])
def test_an_import_batch_costs_the_same_queries_whatever_its_size(
    store, count, django_assert_num_queries
):
    customer, product = CustomerFactory(), ProductFactory()
    new = _rows(count, customer.email, product.handle, first_id=1000)

    # Check: the store (twice: the resource, the batch), the orders by id and by reference
    # (none found: no line items to read), the customers, the products, the orders' and the
    # line items' check constraints (one query each). Write: a savepoint, the same reads
    # (orders locked on PostgreSQL) and checks, the orders (an INSERT for those with an id,
    # one for the others), their line items, the history (one INSERT), the dashboard's three
    # figures and the outbox.
    # PostgreSQL: the id sequence advanced past the ids kept (the rows with one), and the
    # cached plans dropped before the write (core.inserts.plan_checks_afresh).
    kept = int(count > 1 and connection.vendor == "postgresql")
    with django_assert_num_queries((8 + 17 if count > 1 else 7 + 15) + kept + _REPLAN):
        result = _worker_resource().import_data(new, dry_run=False)
    assert result.totals["new"] == count

    # Again, changed: the orders by id and by reference and their line items (a query each,
    # each pass); one UPDATE of the orders, their line items replaced (a DELETE, an INSERT),
    # the history, the figures the change moves (the status is the same: two upserts).
    changed = _rows(count, customer.email, product.handle, first_id=1000, quantity=2)
    with django_assert_num_queries((9 + 17 if count > 1 else 8 + 16) + _REPLAN):
        result = _worker_resource().import_data(changed, dry_run=False)
    assert result.totals["update"] == count
    assert Order.objects.filter(line_items__quantity=2).count() == count


def _records(count: int, customer, product, *, quantity: int = 1) -> list[tuple[int, dict]]:
    return [
        (
            n,
            {
                "customer": customer,
                "reference": f"B{n}",
                "financial_status": "successful",
                "line_items": [{"product": product, "quantity": quantity}],
            },
        )
        for n in range(count)
    ]


@pytest.mark.parametrize("count", [1, 40])
def test_a_bulk_batch_costs_the_same_queries_whatever_its_size(
    store, count, django_assert_num_queries
):
    customer, product = CustomerFactory(), ProductFactory()

    # A savepoint, the store, the orders by reference (none), the orders' and the line
    # items' check constraints, the orders, their line items, the history, the three figures,
    # the outbox (PostgreSQL: and the cached plans dropped before the write).
    with django_assert_num_queries(13 + _REPLAN):
        results = bulk.orders_write(records=_records(count, customer, product))
    assert {result.status for result in results} == {bulk.CREATED}

    # Again, changed: the orders by reference (locked) and their line items, one UPDATE of
    # the orders, their line items replaced, the history, the two figures the quantities move.
    with django_assert_num_queries(14 + _REPLAN):
        results = bulk.orders_write(records=_records(count, customer, product, quantity=2))
    assert {result.status for result in results} == {bulk.UPDATED}
    assert Order.objects.filter(line_items__quantity=2).count() == count
