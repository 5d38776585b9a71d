from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from shop.demo import ROWS, seed
from shop.models import Category, Customer, LineItem, Order, Product, QualityRun
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _rows(model, *related):
    """Every column of the model's rows; categories by handle (their ids come from the
    services and grow from one seed to the next)."""
    by_handle = {name.split("__")[0] for name in related}
    columns = [f.attname for f in model._meta.concrete_fields if f.name not in by_handle]
    return list(model.objects.order_by("pk").values_list(*columns, *related))


def _snapshot():
    categories = Category.objects.order_by("handle").values_list(
        "handle", "title", "parent__handle", "available", "published_at"
    )
    return (
        list(categories),
        _rows(Product, "category__handle"),
        _rows(Customer),
        _rows(Order),
        _rows(LineItem),
    )


def _wipe():
    LineItem.objects.all().delete()
    Order.objects.all().delete()
    Customer.objects.all().delete()
    Product.objects.all().delete()
    Category.objects.filter(parent__isnull=False).delete()
    Category.objects.all().delete()


def test_seed_demo_is_reproducible_with_a_seed(store):
    seed(customers=30, orders=120, seed=7, now=NOW)
    first = _snapshot()
    _wipe()
    seed(customers=30, orders=120, seed=7, now=NOW)
    assert _snapshot() == first
    _wipe()
    seed(customers=30, orders=120, seed=8, now=NOW)
    assert _snapshot() != first


def test_seed_demo_writes_valid_orders_with_one_to_five_line_items(store):
    result = seed(customers=20, orders=100, seed=1, now=NOW)
    assert Order.objects.count() == 100
    assert result.line_items == LineItem.objects.count()
    for order in Order.objects.prefetch_related("line_items"):
        assert 1 <= len(order.line_items.all()) <= 5
        subtotal = sum(li.price * li.quantity for li in order.line_items.all())
        assert order.subtotal_price == subtotal
        order.full_clean()
    currencies = set(Customer.objects.values_list("currency", flat=True))
    assert len(currencies) >= 3
    assert Customer.objects.filter(first_name__regex="[ء-ي]").exists()
    assert Customer.objects.filter(first_name__regex=r"^[A-Za-z]").exists()


def test_seed_demo_command_adds_to_an_existing_store(store, capsys):
    call_command("seed_demo", customers=5, orders=10, no_progress=True)
    call_command("seed_demo", customers=5, orders=10, no_progress=True, seed=2)
    assert Customer.objects.count() == 10
    assert Order.objects.count() == 20
    assert "Seeded 5 customers" in capsys.readouterr().out


def test_seed_demo_counts_the_data_quality_report_for_the_new_data(store):
    call_command("seed_demo", customers=5, orders=10, no_progress=True)

    run = QualityRun.objects.get()
    assert run.computed_at is not None
    assert run.counts["order"]["live"] == 10


@pytest.mark.parametrize("model", list(ROWS), ids=lambda m: m.__name__)
def test_seed_demo_rows_name_every_column_of_their_table(model):
    columns = [f.column for f in model._meta.concrete_fields]
    assert sorted(ROWS[model]._fields) == sorted(columns)


def test_seed_demo_leaves_the_next_ids_to_the_services(store):
    seed(customers=5, orders=10, seed=3, now=NOW)
    order = OrderFactory(items=1)
    assert (order.pk, order.customer_id) == (11, 6)
    assert order.line_items.get().pk == LineItem.objects.count()
