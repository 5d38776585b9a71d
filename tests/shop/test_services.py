"""Writes go through the services: totals, defaults, validation, atomicity, soft delete."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from shop import services
from shop.models import Customer, LineItem, Order
from tests.factories import CustomerFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_order_totals_add_tax_and_subtract_discounts():
    totals = services.order_totals(
        line_items=[(2, Decimal("10.25")), (1, Decimal("5.00"))],
        total_tax=Decimal("3.50"),
        total_discounts=Decimal("2.00"),
    )
    assert totals.subtotal_price == Decimal("25.50")
    assert totals.total_price == Decimal("27.00")


def test_order_totals_leave_out_tax_already_included_in_prices():
    totals = services.order_totals(
        line_items=[(1, Decimal("114.00"))], total_tax=Decimal("14.00"), taxes_included=True
    )
    assert totals.total_price == Decimal("114.00")


def test_order_create_computes_totals_and_copies_product_title_and_sku(store):
    customer = CustomerFactory(currency="SAR")
    shirt = ProductFactory(title="Shirt", sku="SH-1", price=Decimal("99.99"))
    mug = ProductFactory(price=Decimal("20.00"))

    order = services.order_create(
        customer=customer,
        line_items=[
            services.LineItemInput(product=shirt, quantity=2),
            {"product": mug, "quantity": 1, "price": Decimal("15.00")},
        ],
        total_tax=Decimal("10.00"),
        total_discounts=Decimal("5.00"),
    )

    assert order.subtotal_price == Decimal("214.98")
    assert order.total_price == Decimal("219.98")
    assert order.currency == "SAR"
    assert order.country_code == "EG"
    assert order.contact_email == customer.email
    assert order.phone == customer.phone
    first = order.line_items.order_by("id").first()
    assert (first.title, first.sku, first.price) == ("Shirt", "SH-1", Decimal("99.99"))


def test_order_create_keeps_totals_that_are_given(store):
    order = services.order_create(
        customer=CustomerFactory(),
        line_items=[{"product": ProductFactory(price=Decimal("10")), "quantity": 1}],
        subtotal_price=Decimal("12.00"),
        total_price=Decimal("13.00"),
    )
    assert (order.subtotal_price, order.total_price) == (Decimal("12.00"), Decimal("13.00"))


def test_a_failing_line_item_leaves_no_order_behind(store):
    customer = CustomerFactory()
    good = ProductFactory()
    with pytest.raises(ValidationError) as exc:
        services.order_create(
            customer=customer,
            line_items=[{"product": good, "quantity": 1}, {"product": good, "quantity": 0}],
        )
    assert "line_items[1]" in exc.value.message_dict
    assert Order.objects.count() == 0
    assert LineItem.objects.count() == 0


def test_an_order_needs_a_line_item(store):
    with pytest.raises(ValidationError) as exc:
        services.order_create(customer=CustomerFactory(), line_items=[])
    assert "line_items" in exc.value.message_dict


def test_discounts_above_subtotal_are_refused(store):
    with pytest.raises(ValidationError) as exc:
        services.order_create(
            customer=CustomerFactory(),
            line_items=[{"product": ProductFactory(price=Decimal("10")), "quantity": 1}],
            total_discounts=Decimal("11"),
        )
    assert "total_discounts" in exc.value.message_dict
    assert Order.objects.count() == 0


def test_order_without_a_phone_is_refused(store):
    customer = CustomerFactory(phone="")
    with pytest.raises(ValidationError) as exc:
        services.order_create(
            customer=customer, line_items=[{"product": ProductFactory(), "quantity": 1}]
        )
    assert "phone" in exc.value.message_dict


def test_order_update_replaces_line_items_and_recomputes_totals(store):
    order = OrderFactory(items=2, item_price=Decimal("10"))
    product = ProductFactory(price=Decimal("7.50"))
    services.order_update(
        order=order, line_items=[{"product": product, "quantity": 4}], financial_status="refunded"
    )
    order.refresh_from_db()
    assert order.line_items.count() == 1
    assert order.total_price == Decimal("30.00")
    assert order.financial_status == "refunded"


def test_order_update_recomputes_total_when_discount_changes(store):
    order = OrderFactory(items=1, item_price=Decimal("100"))
    services.order_update(order=order, total_discounts=Decimal("25"))
    order.refresh_from_db()
    assert order.total_price == Decimal("75.00")


def test_customer_create_defaults_currency_to_the_stores(store):
    customer = services.customer_create(email="a@example.com", first_name="A", last_name="B")
    assert customer.currency == "EGP"
    assert customer.gender == "unknown"


def test_customer_email_is_unique_in_any_letter_case(store):
    services.customer_create(email="Mona@Example.com", first_name="Mona", last_name="Ali")
    with pytest.raises(ValidationError) as exc:
        services.customer_create(email="mona@example.COM", first_name="M", last_name="A")
    assert "email" in exc.value.message_dict
    assert Customer.objects.count() == 1


def test_customer_update_refuses_unknown_fields(store):
    customer = CustomerFactory()
    with pytest.raises(ValidationError) as exc:
        services.customer_update(customer=customer, orders_count=5)
    assert "orders_count" in exc.value.message_dict


def test_customer_create_refuses_a_bad_phone(store):
    with pytest.raises(ValidationError) as exc:
        services.customer_create(
            email="x@example.com", first_name="X", last_name="Y", phone="call me"
        )
    assert "phone" in exc.value.message_dict


def test_soft_delete_and_restore_round_trip(store):
    order = OrderFactory()
    services.order_soft_delete(order=order)
    assert Order.objects.alive().filter(pk=order.pk).count() == 0
    first_deleted_at = Order.objects.get(pk=order.pk).deleted_at
    services.order_soft_delete(order=order)
    assert Order.objects.get(pk=order.pk).deleted_at == first_deleted_at
    services.order_restore(order=order)
    assert Order.objects.alive().filter(pk=order.pk).count() == 1


def test_a_duplicate_email_that_races_past_validation_names_the_email_field(store, monkeypatch):
    CustomerFactory(email="race@example.com")
    monkeypatch.setattr(services, "validate", lambda instance, **kwargs: None)
    with pytest.raises(ValidationError) as exc:
        services.customer_create(email="RACE@example.com", first_name="R", last_name="C")
    assert exc.value.message_dict["email"] == ["A customer with this email already exists."]


def test_a_duplicate_product_handle_names_the_handle_field(store):
    ProductFactory(handle="lamp")
    with pytest.raises(ValidationError) as exc:
        services.product_create(title="Lamp", handle="lamp", price=Decimal("1"))
    assert "handle" in exc.value.message_dict


def test_no_new_order_for_a_deleted_customer(store):
    customer = CustomerFactory()
    services.customer_soft_delete(customer=customer)
    with pytest.raises(ValidationError) as exc:
        services.order_create(
            customer=customer, line_items=[{"product": ProductFactory(), "quantity": 1}]
        )
    assert "customer" in exc.value.message_dict
    assert Order.objects.count() == 0


def test_no_new_line_item_for_a_deleted_product(store):
    product = ProductFactory()
    services.product_soft_delete(product=product)
    with pytest.raises(ValidationError) as exc:
        services.order_create(
            customer=CustomerFactory(), line_items=[{"product": product, "quantity": 1}]
        )
    assert "line_items[0]" in exc.value.message_dict


def test_an_order_keeps_its_line_items_when_their_product_is_deleted_later(store):
    order = OrderFactory(items=1)
    services.product_soft_delete(product=order.line_items.get().product)
    services.order_update(order=order, financial_status="refunded")
    order.refresh_from_db()
    assert order.financial_status == "refunded"
