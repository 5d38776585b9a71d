"""The feed's page reads: each named field of a row holds the column of that name."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from feeds import selectors
from feeds.builders import local_time
from shop import services
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

NOON_UTC = datetime(2024, 3, 5, 12, 30, 45, tzinfo=UTC)


MONEY = {"total_price", "subtotal_price", "total_tax", "total_discounts", "total_spent", "price"}
TIMES = {"ordered_at", "registered_at"}


def _named(row) -> dict:
    """A row's fields by name, as both databases agree on them: money as Decimal cents (SQLite
    gives floats), times as UTC text (SQLite gives naive datetimes)."""
    named = row._asdict()
    for field, value in named.items():
        if field in MONEY:
            named[field] = Decimal(str(value)).quantize(Decimal("0.01"))
        elif field in TIMES:
            named[field] = local_time(value, UTC)
        elif field == "line_items":
            named[field] = [_named(item) for item in value]
    return named


def test_an_orders_row_names_each_column_it_holds(store):
    customer = CustomerFactory(currency="EGP", phone="+201000000007", email="nour@example.com")
    first, second = ProductFactory(price=Decimal("12.50")), ProductFactory()
    order = services.order_create(
        customer=customer,
        line_items=[
            services.LineItemInput(product=first, quantity=3),
            services.LineItemInput(product=second, quantity=1, price=Decimal("7.25")),
        ],
        financial_status="refunded",
        ordered_at=NOON_UTC,
        country_code="SA",
        total_tax=Decimal("4.10"),
        taxes_included=True,
        total_discounts=Decimal("1.05"),
        customer_locale="ar",
    )
    [row] = selectors.orders_page(offset=0, limit=10).rows
    assert _named(row) == {
        "id": order.pk,
        "ordered_at": "2024-03-05 12:30:45",
        "total_price": order.total_price,
        "subtotal_price": Decimal("44.75"),
        "total_tax": Decimal("4.10"),
        "taxes_included": 1,
        "currency": "EGP",
        "country_code": "SA",
        "financial_status": "refunded",
        "total_discounts": Decimal("1.05"),
        "phone": "+201000000007",
        "customer_locale": "ar",
        "contact_email": "nour@example.com",
        "customer_id": customer.pk,
        "line_items": [
            {"product_id": first.pk, "quantity": 3, "price": Decimal("12.50")},
            {"product_id": second.pk, "quantity": 1, "price": Decimal("7.25")},
        ],
    }


def test_a_customers_row_names_each_column_it_holds(store):
    customer = CustomerFactory(
        email="salma@example.com",
        first_name="Salma",
        last_name="Adel",
        phone="+201000000008",
        gender="female",
        currency="EGP",
        registered_at=NOON_UTC,
    )
    services.order_create(
        customer=customer,
        line_items=[services.LineItemInput(product=ProductFactory(), quantity=2)],
        financial_status="successful",
    )
    [row] = selectors.customers_page(offset=0, limit=10).rows
    assert _named(row) == {
        "id": customer.pk,
        "email": "salma@example.com",
        "first_name": "Salma",
        "last_name": "Adel",
        "phone": "+201000000008",
        "gender": "female",
        "currency": "EGP",
        "registered_at": "2024-03-05 12:30:45",
        "orders_count": 1,
        "total_spent": Decimal("100.00"),
    }
