"""The database refuses what the store's rules forbid, whatever door the data comes through."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from django.db.models import ProtectedError

from shop.models import Customer, LineItem, Order, Product, Store
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db

# The database names the constraint a row breaks (SQLite: "CHECK constraint failed: <name>",
# PostgreSQL: 'violates check constraint "<name>"'); a value too long for the column never
# reaches the check on PostgreSQL, which refuses it first ("value too long for type ...").
CURRENCY_REFUSED = "customer_currency_iso|value too long"
COUNTRY_REFUSED = "order_country_iso|value too long"


def test_negative_product_price_is_refused_by_the_database():
    product = ProductFactory()
    with pytest.raises(IntegrityError, match="product_price_gte_0"), transaction.atomic():
        Product.objects.filter(pk=product.pk).update(price=Decimal("-1.00"))


def test_negative_order_total_is_refused_by_the_database():
    order = OrderFactory()
    with pytest.raises(IntegrityError, match="order_amounts_gte_0"), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(total_price=Decimal("-0.01"))


def test_zero_quantity_line_item_is_refused_by_the_database():
    order = OrderFactory(items=1)
    with pytest.raises(IntegrityError, match="lineitem_quantity_gte_1"), transaction.atomic():
        LineItem.objects.filter(order=order).update(quantity=0)


def test_negative_line_item_price_is_refused_by_the_database():
    order = OrderFactory(items=1)
    with pytest.raises(IntegrityError, match="lineitem_price_gte_0"), transaction.atomic():
        LineItem.objects.filter(order=order).update(price=Decimal("-5"))


def test_duplicate_email_in_other_case_is_refused_by_the_database():
    CustomerFactory(email="Salma@Example.com")
    with pytest.raises(IntegrityError, match="customer_email_ci_unique"), transaction.atomic():
        Customer.objects.create(
            email="salma@example.COM", first_name="S", last_name="A", currency="EGP"
        )


@pytest.mark.parametrize("currency", ["egp", "EURO", "E1P", ""])
def test_malformed_currency_is_refused_by_the_database(currency):
    customer = CustomerFactory()
    with pytest.raises((IntegrityError, DataError), match=CURRENCY_REFUSED), transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(currency=currency)


def test_unknown_currency_code_fails_validation():
    customer = CustomerFactory.build(currency="XYZ")
    with pytest.raises(ValidationError) as exc:
        customer.full_clean()
    assert "currency" in exc.value.message_dict


@pytest.mark.parametrize("country", ["eg", "EGY", "1A", ""])
def test_malformed_country_code_is_refused_by_the_database(country):
    order = OrderFactory()
    with pytest.raises((IntegrityError, DataError), match=COUNTRY_REFUSED), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(country_code=country)


def test_unknown_country_code_fails_validation():
    order = OrderFactory()
    order.country_code = "QQ"
    with pytest.raises(ValidationError) as exc:
        order.full_clean()
    assert "country_code" in exc.value.message_dict


def test_unknown_financial_status_is_refused_by_the_database():
    order = OrderFactory()
    with pytest.raises(IntegrityError, match="order_financial_status"), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(financial_status="paid")


def test_customer_without_last_name_is_refused_by_the_database():
    customer = CustomerFactory()
    with pytest.raises(IntegrityError, match="customer_name_required"), transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(last_name="")


def test_order_without_contact_email_is_refused_by_the_database():
    order = OrderFactory()
    with pytest.raises(IntegrityError, match="order_email_required"), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(contact_email="")


def test_a_second_store_row_is_refused_by_the_database():
    Store.load()
    with pytest.raises(IntegrityError, match="store_single_row"), transaction.atomic():
        Store.objects.create(pk=2, name="Other")


def test_invalid_time_zone_fails_validation():
    store = Store.load()
    store.time_zone = "Mars/Olympus"
    with pytest.raises(ValidationError) as exc:
        store.full_clean()
    assert "time_zone" in exc.value.message_dict


def test_category_cannot_be_its_own_ancestor():
    parent = CategoryFactory()
    child = CategoryFactory(parent=parent)
    parent.parent = child
    with pytest.raises(ValidationError) as exc:
        parent.full_clean()
    assert "parent" in exc.value.message_dict


def test_deleting_a_customer_with_orders_is_protected():
    order = OrderFactory()
    with pytest.raises(ProtectedError, match="Order.customer"), transaction.atomic():
        Customer.objects.filter(pk=order.customer_id).delete()


def test_every_model_has_an_explicit_default_ordering():
    from django.apps import apps

    for model in apps.get_app_config("shop").get_models():
        assert model._meta.ordering, model.__name__


def test_order_stats_count_only_live_successful_orders():
    customer = CustomerFactory()
    OrderFactory(customer=customer, items=1, item_price=Decimal("10.10"))
    OrderFactory(customer=customer, items=2, item_price=Decimal("5.05"))
    OrderFactory(customer=customer, financial_status="canceled")
    deleted = OrderFactory(customer=customer)
    deleted.deleted_at = deleted.created_at
    deleted.save()

    row = Customer.objects.with_order_stats().get(pk=customer.pk)

    assert row.orders_count == 2
    assert Decimal(row.total_spent).quantize(Decimal("0.01")) == Decimal("20.20")


def test_order_stats_for_a_customer_without_orders_are_zero():
    customer = CustomerFactory()
    row = Customer.objects.with_order_stats().get(pk=customer.pk)
    assert (row.orders_count, row.total_spent, row.last_order_at) == (0, 0, None)


def test_order_stats_can_be_scoped_to_one_currency():
    customer = CustomerFactory()
    OrderFactory(customer=customer, items=1, item_price=Decimal("10"))
    OrderFactory(customer=customer, items=1, item_price=Decimal("7"), currency="USD")
    row = Customer.objects.with_order_stats(currency="USD").get(pk=customer.pk)
    assert row.orders_count == 1
    assert Decimal(row.total_spent) == Decimal("7")
