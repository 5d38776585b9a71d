"""Data migrations do what they say on a database that needs them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from shop import services
from shop.models import Customer
from tests.factories import CustomerFactory, OrderFactory


@pytest.fixture(autouse=True)
def _migrated_back_to_the_latest(request):
    """Leave the database at the latest migrations for the tests that follow."""
    yield
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_customers_deleted_with_live_orders_are_restored(store):
    kept = OrderFactory().customer
    orphaned = OrderFactory().customer
    gone = CustomerFactory()
    services.customer_soft_delete(customer=gone)
    Customer.objects.filter(pk=orphaned.pk).update(deleted_at=gone.deleted_at)
    executor = MigrationExecutor(connection)
    executor.migrate([("shop", "0003_integer_bounds")])
    executor = MigrationExecutor(connection)
    executor.migrate([("shop", "0004_restore_customers_of_live_orders")])

    deleted = set(Customer.objects.filter(deleted_at__isnull=False).values_list("pk", flat=True))
    assert deleted == {gone.pk}
    # Only the columns 0004 knows (later migrations add others to the customer).
    assert Customer.objects.filter(pk=kept.pk).values_list("deleted_at", flat=True).get() is None


@pytest.mark.django_db(transaction=True)
def test_dates_out_of_range_are_brought_into_range(store):
    from datetime import UTC, datetime

    from shop.models import Order, Product

    order = OrderFactory()
    product = order.line_items.first().product
    far = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    Order.objects.filter(pk=order.pk).update(ordered_at=far)
    Customer.objects.filter(pk=order.customer_id).update(registered_at=far)
    Product.objects.filter(pk=product.pk).update(published_at=far)
    executor = MigrationExecutor(connection)
    executor.migrate([("shop", "0004_restore_customers_of_live_orders")])
    executor = MigrationExecutor(connection)
    executor.migrate([("shop", "0005_dates_in_range")])

    # Only the columns 0005 knows (later migrations add others to the order).
    ordered_at, created_at = Order.objects.values_list("ordered_at", "created_at").get(pk=order.pk)
    assert ordered_at == created_at
    registered_at = Customer.objects.values_list("registered_at", flat=True).get(
        pk=order.customer_id
    )
    assert registered_at.year < 9000
    assert Product.objects.get(pk=product.pk).published_at is None


def test_a_date_at_the_edge_is_shown_in_utc_not_a_server_error(store):
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from feeds.builders import local_time

    far = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert local_time(far, ZoneInfo("Africa/Cairo")) == "9999-12-31 23:59:59"


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_figures_are_counted_from_the_existing_orders(store):
    from shop import figures
    from shop.models import OrderFigures, ProductFigures, StatusFigures

    OrderFactory()
    services.order_soft_delete(order=OrderFactory())
    OrderFactory(financial_status="pending", currency="USD")
    models = (OrderFigures, ProductFigures, StatusFigures)
    kept = {model: figures.rows(model) for model in models}
    executor = MigrationExecutor(connection)
    executor.migrate([("shop", "0007_api_sync_indexes")])
    executor = MigrationExecutor(connection)
    executor.migrate([("shop", "0008_dashboard_figures")])

    assert {model: figures.rows(model) for model in models} == kept
    assert sum(orders for (orders,) in kept[StatusFigures].values()) == 2
