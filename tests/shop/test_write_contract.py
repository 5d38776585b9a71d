"""The services own each entity's write contract: every door shows the same defaults and the
same errors, on the field they name."""

from decimal import Decimal

import pytest
import tablib
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from shop import services
from shop.api.services import api_key_create
from shop.models import Category, Customer, Order
from shop.resources import CustomerResource, OrderResource
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(store):
    _, key = api_key_create(name="ERP", scopes=["customers.write", "orders.write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def _admin_order(customer, product, **fields):
    data = {
        "customer": customer.pk,
        "ordered_at_0": "2026-01-05",
        "ordered_at_1": "10:00:00",
        "financial_status": "successful",
        "currency": "",
        "country_code": "",
        "total_tax": "0",
        "taxes_included": "",
        "total_discounts": "0",
        "phone": "",
        "contact_email": "",
        "customer_locale": "",
        "line_items-TOTAL_FORMS": "1",
        "line_items-INITIAL_FORMS": "0",
        "line_items-MIN_NUM_FORMS": "1",
        "line_items-MAX_NUM_FORMS": "1000",
        "line_items-0-product": product.pk,
        "line_items-0-quantity": "1",
        "line_items-0-price": "",
    }
    return {**data, **fields}


def _import_order(customer, product, **cells):
    row = {"customer_email": customer.email, "line_items": f"{product.handle} x 1", **cells}
    data = tablib.Dataset(headers=list(row))
    data.append(list(row.values()))
    result = OrderResource().import_data(data, dry_run=True)
    return {n: r.error_dict for n, r in ((r.number, r) for r in result.invalid_rows)}


def test_every_door_takes_an_orders_currency_phone_and_email_from_its_customer(
    admin_client, api, store
):
    customer = CustomerFactory(currency="SAR", phone="+966500000001", email="sara@example.com")
    product = ProductFactory(price=Decimal("10.00"))

    admin_client.post(reverse("admin:shop_order_add"), _admin_order(customer, product))
    api.post(
        "/api/v1/orders",
        {"customer": customer.pk, "line_items": [{"product": product.pk, "quantity": 1}]},
        format="json",
    )
    OrderResource().import_data(
        tablib.Dataset(
            ["sara@example.com", f"{product.handle} x 1"], headers=["customer_email", "line_items"]
        ),
        dry_run=False,
    )

    rows = Order.objects.values_list("currency", "phone", "contact_email", "country_code")
    assert list(rows) == [("SAR", "+966500000001", "sara@example.com", "EG")] * 3


def test_an_order_for_a_customer_without_phone_needs_one_at_every_door(admin_client, api, store):
    customer = CustomerFactory(phone="")
    product = ProductFactory()
    message = "The customer has no phone: enter one for this order."

    with pytest.raises(ValidationError) as exc:
        services.order_create(customer=customer, line_items=[{"product": product, "quantity": 1}])
    response = admin_client.post(reverse("admin:shop_order_add"), _admin_order(customer, product))
    answer = api.post(
        "/api/v1/orders",
        {"customer": customer.pk, "line_items": [{"product": product.pk, "quantity": 1}]},
        format="json",
    )

    assert exc.value.message_dict == {"phone": [message]}
    assert response.context["adminform"].form.errors == {"phone": [message]}
    # The body is well-formed; the stored customer is what refuses it: the API's 409.
    assert answer.status_code == 409
    assert answer.json()["errors"] == {"phone": [message]}
    assert _import_order(customer, product) == {1: {"phone": [message]}}
    assert Order.objects.count() == 0


def test_discounts_above_the_total_are_refused_on_the_discounts_field(admin_client, store):
    customer = CustomerFactory()
    product = ProductFactory(price=Decimal("1.00"))
    message = "Discounts cannot exceed the subtotal plus tax."

    with pytest.raises(ValidationError) as exc:
        services.order_create(
            customer=customer,
            line_items=[{"product": product, "quantity": 1}],
            total_discounts=Decimal("5.00"),
        )
    response = admin_client.post(
        reverse("admin:shop_order_add"), _admin_order(customer, product, total_discounts="5.00")
    )

    assert exc.value.message_dict == {"total_discounts": [message]}
    assert response.context["inline_admin_formsets"][0].formset.non_form_errors() == [message]
    assert _import_order(customer, product, total_discounts="5.00") == {
        1: {"total_discounts": [message]}
    }
    assert Order.objects.count() == 0


def test_a_duplicate_email_is_refused_on_the_email_field_at_every_door(admin_client, api, store):
    CustomerFactory(email="taken@example.com")
    message = "A customer with this email already exists."

    with pytest.raises(ValidationError) as exc:
        services.customer_create(email="TAKEN@example.com", first_name="A", last_name="B")
    response = admin_client.post(
        reverse("admin:shop_customer_add"),
        {
            "email": "Taken@Example.com",
            "first_name": "A",
            "last_name": "B",
            "gender": "",
            "currency": "",
            "registered_at_0": "",
            "registered_at_1": "",
        },
    )
    answer = api.post(
        "/api/v1/customers",
        {"email": "taken@EXAMPLE.com", "first_name": "A", "last_name": "B"},
        format="json",
    )

    assert exc.value.message_dict == {"email": [message]}
    assert response.context["adminform"].form.errors == {"email": [message]}
    assert answer.json()["errors"] == {"email": [message]}
    assert Customer.objects.count() == 1


def test_blank_optional_fields_take_the_specs_defaults_on_create(store):
    customer = services.customer_create(
        email=" nour@example.com ", first_name="Nour", last_name="H", gender="", currency=None
    )
    assert (customer.email, customer.gender, customer.currency) == (
        "nour@example.com",
        "unknown",
        "EGP",
    )
    services.customer_update(customer=customer, currency="", gender="female")
    customer.refresh_from_db()
    assert (customer.gender, customer.currency) == ("female", "EGP")  # blank keeps on update


FAR_FUTURE = "9999-12-31T23:59:59Z"


def test_dates_a_store_cannot_show_are_refused_on_their_field_at_every_door(api, store):
    customer = CustomerFactory()
    product = ProductFactory()
    order = services.order_create(
        customer=customer, line_items=[{"product": product, "quantity": 1}]
    )
    _, key = api_key_create(name="Catalogue", scopes=["products.write"])
    catalogue = APIClient()
    catalogue.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    answers = {
        "registered_at": api.patch(
            f"/api/v1/customers/{customer.pk}", {"registered_at": FAR_FUTURE}, format="json"
        ),
        "ordered_at": api.patch(
            f"/api/v1/orders/{order.pk}", {"ordered_at": FAR_FUTURE}, format="json"
        ),
        "published_at": catalogue.patch(
            f"/api/v1/products/{product.pk}", {"published_at": FAR_FUTURE}, format="json"
        ),
    }
    data = tablib.Dataset(
        ["late@example.com", "L", "M", "9999-12-31 23:59:59"],
        headers=["email", "first_name", "last_name", "registered_at"],
    )
    imported = CustomerResource().import_data(data, dry_run=True)

    for field, answer in answers.items():
        assert answer.status_code == 400, field
        assert list(answer.json()["errors"]) == [field]
    assert imported.invalid_rows[0].error_dict == {
        "registered_at": ["Enter a date between 1900 and 8999."]
    }


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("1899-12-31T23:59:59Z", "Enter a date between 1900 and 8999."),
        ("1900-01-01T00:00:00Z", None),
        ("2030-01-01T00:00:00Z", "This date is in the future."),
    ],
)
def test_an_orders_date_is_a_past_date_a_store_can_show(store, value, error):
    customer = CustomerFactory()
    product = ProductFactory()
    try:
        services.order_create(
            customer=customer,
            line_items=[{"product": product, "quantity": 1}],
            ordered_at=parse_datetime(value),
        )
        found = None
    except ValidationError as exc:
        found = exc.message_dict["ordered_at"][0]
    assert found == error


def test_quantities_have_the_same_bounds_on_every_database(store):
    product = ProductFactory()
    with pytest.raises(ValidationError) as on_item:
        services.order_create(
            customer=CustomerFactory(), line_items=[{"product": product, "quantity": 2**31}]
        )
    with pytest.raises(ValidationError) as on_stock:
        services.product_update(product=product, quantity=2**31)
    assert "line_items[0]" in on_item.value.message_dict
    assert "quantity" in on_stock.value.message_dict


def test_a_customer_with_live_orders_cannot_be_deleted_at_any_door(admin_client, api, store):
    order = services.order_create(
        customer=CustomerFactory(), line_items=[{"product": ProductFactory(), "quantity": 1}]
    )
    customer = order.customer
    message = f"This customer has live orders: delete them first (#{order.pk})."

    answer = api.delete(f"/api/v1/customers/{customer.pk}")
    response = admin_client.post(
        reverse("admin:shop_customer_changelist"),
        {"action": "soft_delete_selected", "_selected_action": [customer.pk]},
        follow=True,
    )

    assert answer.status_code == 409  # the data refuses a well-formed request
    assert answer.json()["errors"] == {"orders": [message]}
    assert message in response.content.decode()
    customer.refresh_from_db()
    assert customer.deleted_at is None
    services.order_soft_delete(order=order)
    services.customer_soft_delete(customer=customer)
    assert Customer.objects.get(pk=customer.pk).deleted_at is not None


def test_an_order_of_a_deleted_customer_cannot_be_restored(store):
    order = services.order_create(
        customer=CustomerFactory(), line_items=[{"product": ProductFactory(), "quantity": 1}]
    )
    services.order_soft_delete(order=order)
    services.customer_soft_delete(customer=order.customer)
    with pytest.raises(ValidationError) as exc:
        services.order_restore(order=order)
    assert exc.value.message_dict == {
        "customer": ["This order's customer is deleted: restore the customer first."]
    }


def test_a_category_with_live_subcategories_or_products_cannot_be_deleted(store):
    parent = CategoryFactory()
    child = CategoryFactory(parent=parent)
    product = ProductFactory(category=child)
    with pytest.raises(ValidationError) as with_child:
        services.category_soft_delete(category=parent)
    with pytest.raises(ValidationError) as with_product:
        services.category_soft_delete(category=child)
    services.product_soft_delete(product=product)
    services.category_soft_delete(category=child)
    services.category_soft_delete(category=parent)

    assert list(with_child.value.message_dict) == ["subcategories"]
    assert list(with_product.value.message_dict) == ["products"]
    assert not Category.objects.alive().filter(pk__in=[parent.pk, child.pk]).exists()


def test_a_deleted_customers_email_is_refused_alike_at_every_door(api, store):
    gone = CustomerFactory(email="gone@example.com")
    services.customer_soft_delete(customer=gone)
    message = "A customer with this email already exists."
    record = {"email": "GONE@example.com", "first_name": "A", "last_name": "B"}

    single = api.post("/api/v1/customers", record, format="json")
    bulk = api.post("/api/v1/customers/bulk", {"records": [record]}, format="json")
    rows = tablib.Dataset(headers=["email", "first_name", "last_name"])
    rows.append(list(record.values()))
    by_email = CustomerResource().import_data(rows, dry_run=True).invalid_rows
    rows = tablib.Dataset(headers=["id", "email", "first_name", "last_name"])
    rows.append([gone.pk, *record.values()])
    by_id = CustomerResource().import_data(rows, dry_run=True).invalid_rows

    assert single.json()["errors"] == {"email": [message]}
    assert bulk.json()["results"][0]["errors"] == {"email": [message]}
    assert by_email[0].error_dict == {"email": [message]}
    assert by_id[0].error_dict == {
        "id": [f"The customer with id {gone.pk} is deleted: restore it first."]
    }
    gone.refresh_from_db()
    assert (gone.email, gone.first_name, gone.deleted_at is not None) == (
        "gone@example.com",
        gone.first_name,
        True,
    )
