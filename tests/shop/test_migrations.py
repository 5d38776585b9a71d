"""Data migrations do what they say on a database that needs them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from shop import services
from shop.models import Customer
from tests.factories import CustomerFactory, OrderFactory


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
    assert Customer.objects.get(pk=kept.pk).deleted_at is None
