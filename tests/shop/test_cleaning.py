from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django_countries.fields import CountryField

from shop.cleaning import full_clean
from shop.models import Customer, LineItem, Order, Store
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _errors(clean) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        clean()
    return caught.value.message_dict


def _bad_order(customer) -> Order:
    return Order(
        customer=customer,
        currency="egp",
        country_code="EG",
        financial_status="successful",
        subtotal_price=Decimal("-1.00"),
        total_tax=Decimal("0.00"),
        total_discounts=Decimal("0.00"),
        total_price=Decimal("10.00"),
        phone="",
        contact_email="",
    )


def test_full_clean_refuses_what_djangos_refuses_with_the_same_messages(store):
    order = _bad_order(CustomerFactory())

    assert _errors(lambda: full_clean(order)) == _errors(order.full_clean)


@pytest.mark.parametrize("exclude", [["phone"], ["total_price"], ["phone", "currency"]])
def test_full_clean_skips_the_constraints_of_excluded_fields_as_django_does(store, exclude):
    order = _bad_order(CustomerFactory())

    ours = _errors(lambda: full_clean(order, exclude=exclude))

    assert ours == _errors(lambda: order.full_clean(exclude=exclude))


def test_full_clean_checks_the_constraints_of_a_record_in_one_query(
    store, django_assert_num_queries
):
    item = LineItem(product=ProductFactory(), quantity=2, price=Decimal("5.00"))

    # That the product exists, then both check constraints in one query (in a savepoint).
    with django_assert_num_queries(4):
        full_clean(item, exclude=["order"])


def test_full_clean_still_refuses_a_duplicate_email_in_any_case(store):
    CustomerFactory(email="ada@example.com")
    twin = Customer(email="ADA@example.com", first_name="A", last_name="L", currency="EGP")

    assert _errors(lambda: full_clean(twin)) == _errors(twin.full_clean)


def _refusal(check) -> list[str] | None:
    try:
        check()
    except ValidationError as exc:
        return exc.messages
    return None


@pytest.mark.parametrize(
    ("code", "refused"),
    [("EG", False), ("FR", False), ("ZZ", True), ("eg", True), ("", True), (None, True)],
)
@pytest.mark.parametrize(("model", "name"), [(Order, "country_code"), (Store, "country")])
def test_a_country_is_checked_against_the_country_table_as_the_stock_field_does(
    model, name, code, refused
):
    field = model._meta.get_field(name)

    ours = _refusal(lambda: field.validate(code, None))

    assert ours == _refusal(lambda: CountryField.validate(field, code, None))
    assert (ours is not None) == refused
