"""Every door writes through the services, so every door pushes: the admin's forms, actions
and inlines, the REST API, imports; seed_demo does not."""

import pytest
import tablib
from django.urls import reverse
from rest_framework.test import APIClient

from push.models import PushEvent
from shop.api.services import api_key_create
from shop.demo import seed
from shop.resources import CustomerResource
from tests.factories import CustomerFactory, ProductFactory
from tests.shop.test_write_contract import _admin_order

pytestmark = pytest.mark.django_db


def events():
    return list(PushEvent.objects.order_by("id").values_list("entity", "record_id", "action"))


@pytest.fixture
def api(store):
    _, key = api_key_create(name="ERP", scopes=["customers.write", "orders.write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_admin_form_with_line_item_inline_pushes_the_order_and_its_customer(admin_client, store):
    customer = CustomerFactory()
    product = ProductFactory()
    response = admin_client.post(
        reverse("admin:shop_order_add"), _admin_order(customer, product), follow=True
    )
    assert response.status_code == 200
    order = customer.orders.get()
    assert events() == [("orders", order.pk, "create"), ("customers", customer.pk, "update")]


def test_admin_actions_push_a_delete_and_a_restore(admin_client, store):
    customer = CustomerFactory()
    url = reverse("admin:shop_customer_changelist")
    admin_client.post(url, {"action": "soft_delete_selected", "_selected_action": [customer.pk]})
    admin_client.post(
        url + "?deleted=yes",
        {"action": "restore_selected", "_selected_action": [customer.pk]},
    )
    assert events()[:1] == [("customers", customer.pk, "delete")]
    assert ("customers", customer.pk, "create") in events()


def test_the_rest_api_pushes(api):
    answer = api.post(
        "/api/v1/customers",
        {"email": "api@example.com", "first_name": "A", "last_name": "B"},
        format="json",
    )
    pk = answer.json()["id"]
    api.patch(f"/api/v1/customers/{pk}", {"first_name": "C"}, format="json")
    api.delete(f"/api/v1/customers/{pk}")
    api.post(f"/api/v1/customers/{pk}/restore")
    assert events() == [
        ("customers", pk, "create"),
        ("customers", pk, "update"),
        ("customers", pk, "delete"),
        ("customers", pk, "create"),
    ]


def test_an_import_pushes_each_row_it_writes(store):
    data = tablib.Dataset(
        ["one@example.com", "O", "N"],
        ["two@example.com", "T", "W"],
        headers=["email", "first_name", "last_name"],
    )
    result = CustomerResource().import_data(data, dry_run=False)
    assert not result.has_errors()
    assert [e[0] for e in events()] == ["customers", "customers"]
    assert {e[2] for e in events()} == {"create"}


def test_a_dry_run_import_pushes_nothing(store):
    data = tablib.Dataset(
        ["one@example.com", "O", "N"], headers=["email", "first_name", "last_name"]
    )
    CustomerResource().import_data(data, dry_run=True)
    assert events() == []


def test_seed_demo_does_not_push(store):
    seed(customers=20, orders=30)
    assert events() == []
