"""The batch check of shop.cleaning: a batch's check constraints in one query a model, with
the verdict Django gives each record."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import CheckConstraint

from shop import cleaning
from shop.models import Customer, LineItem, Order
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _order(customer, **fields) -> Order:
    values = {
        "customer": customer,
        "currency": "EGP",
        "country_code": "EG",
        "financial_status": "successful",
        "subtotal_price": Decimal("10.00"),
        "total_tax": Decimal("0.00"),
        "total_discounts": Decimal("0.00"),
        "total_price": Decimal("10.00"),
        "phone": "+201000000000",
        "contact_email": "a@example.com",
        "reference": None,
    }
    return Order(**{**values, **fields})


def _djangos_failing(instance, exclude) -> list[str]:
    """The check constraints Django's own validate_constraints refuses."""
    failing = []
    for constraint in type(instance)._meta.constraints:
        if not isinstance(constraint, CheckConstraint):
            continue
        try:
            constraint.validate(type(instance), instance, exclude=exclude)
        except ValidationError:
            failing.append(constraint.name)
    return failing


def test_a_batch_is_checked_in_one_query_a_model_as_django_checks_each_record(
    store, django_assert_num_queries
):
    customer = CustomerFactory()
    product = ProductFactory()
    records = [
        (_order(customer), set()),
        (_order(customer, currency="egp"), set()),
        (_order(customer, country_code="eg", total_price=Decimal("-1")), set()),
        (_order(customer, financial_status="lost", phone=""), set()),
        (_order(customer, phone="", contact_email=""), {"phone"}),
        (_order(customer, total_tax=None), set()),
        (LineItem(product=product, quantity=0, price=Decimal("-1.00")), set()),
        (LineItem(product=product, quantity=3, price=Decimal("1.00")), set()),
        (Customer(email="", first_name="", last_name="x", currency="EGP"), set()),
    ]

    with django_assert_num_queries(3):
        failing = cleaning.failing_checks_of_batch(records)

    for instance, exclude in records:
        ours = sorted(c.name for c in failing.get(id(instance), []))
        assert ours == sorted(_djangos_failing(instance, exclude)), instance


def test_a_batch_larger_than_the_parameter_limit_is_checked_in_parts(store):
    customer = CustomerFactory()
    records = [(_order(customer, currency="usd" if n % 7 else "USD"), set()) for n in range(300)]

    failing = cleaning.failing_checks_of_batch(records, max_params=500)

    assert sorted(id(o) for o, _ in records if o.currency == "usd") == sorted(failing)


def _field_errors(instances) -> list[dict]:
    """Each instance's field errors, as full_clean gives them inside a batch's check."""
    found = []
    for instance in instances:
        try:
            cleaning.full_clean(instance, exclude=["order", "product"])
        except ValidationError as exc:
            found.append(exc.message_dict)
        else:
            found.append({})
    return found


def test_a_batch_checks_a_value_once_and_gives_every_record_djangos_verdict(store):
    values = [
        (1, Decimal("1.00"), "Tee"),
        (1, Decimal("1.000"), "Tee"),  # equal to 1.00, but three decimal places
        (0, Decimal("1.00"), "x" * 256),
        (0, Decimal("1.00"), "x" * 256),  # refused again, not remembered as passed
        (True, Decimal("1.00"), "Tee"),
        (1, Decimal("1.00"), "Tee"),
    ]

    def rows():
        return [LineItem(quantity=q, price=p, title=t, sku="S") for q, p, t in values]

    alone = _field_errors(rows())
    with cleaning.deferred():
        batched = _field_errors(rows())

    assert batched == alone
    assert [sorted(errors) for errors in batched] == [
        [],
        ["price"],
        ["quantity", "title"],
        ["quantity", "title"],
        [],
        [],
    ]
