"""What an order import costs in queries: its customers and products are fetched per batch."""

import pytest
import tablib
from django.db import connection
from django.test.utils import CaptureQueriesContext

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


def test_each_more_order_of_an_import_costs_the_same_queries(store):
    customer, product = CustomerFactory(), ProductFactory()

    one = len(_import(1, customer.email, product.handle))
    two = len(_import(2, customer.email, product.handle))
    three = len(_import(3, customer.email, product.handle))

    # Checking a row: the store, that its customer and product exist, the order's and the line
    # item's check constraints (one query each, in a savepoint). Writing it: the same again
    # (the service validates), the totals' check, the inserts, the dashboard's figures (the
    # order's row locked, three upserts), the history entry and the outbox row, in savepoints.
    assert three - two == two - one == 37
