"""POST /api/v1/customers/{id}/erase and GET /api/v1/customers/{id}/export: their scopes and
permissions, answers and errors."""

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from push.models import PushEvent
from shop.api.models import SCOPE_NAMES
from shop.models import Customer
from tests.factories import CustomerFactory, OrderFactory

ROUTES = {
    "erase": ("post", "customers.erase"),
    "export": ("get", "customers.export"),
}


@pytest.fixture
def customer(store):
    customer = CustomerFactory(email="salma@example.com", first_name="Salma", phone="+2010777")
    OrderFactory(customer=customer)
    OrderFactory(customer=customer, contact_email="salma.office@example.com")
    return customer


def call(client, route: str, pk: int):
    method, _ = ROUTES[route]
    return getattr(client, method)(f"/api/v1/customers/{pk}/{route}", format="json")


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("scope", sorted(SCOPE_NAMES))
def test_each_route_takes_its_own_scope_alone(customer, make_client, route, scope):
    needed = ROUTES[route][1]
    response = call(make_client([scope]), route, customer.pk)

    if scope == needed:
        assert response.status_code == 200
    else:
        assert response.status_code == 403
        assert response.json() == {
            "status": 403,
            "code": "permission_denied",
            "message": f"This API key lacks the {needed} scope.",
            "errors": {},
        }
        customer.refresh_from_db()
        assert customer.erased_at is None


def test_erase_answers_what_it_did_and_a_second_call_nothing(customer, make_client):
    client = make_client(["customers.erase"])

    first = call(client, "erase", customer.pk)
    second = call(client, "erase", customer.pk)

    customer.refresh_from_db()
    erased_at = customer.erased_at.isoformat().replace("+00:00", "Z")
    assert first.json() == {
        "id": customer.pk,
        "erased_at": erased_at,
        "changed": True,
        "orders_erased": 2,
    }
    assert second.json() == {
        "id": customer.pk,
        "erased_at": erased_at,
        "changed": False,
        "orders_erased": 0,
    }
    assert customer.email == f"erased-{customer.pk}@erased.invalid"
    assert PushEvent.objects.filter(entity="customers", action="delete").count() == 1


def test_a_deleted_customer_can_be_erased_and_exported(store, make_client):
    customer = CustomerFactory(deleted_at="2026-01-01T00:00:00Z")
    client = make_client(["customers.erase", "customers.export"])
    assert call(client, "export", customer.pk).json()["customer"]["email"] == customer.email
    assert call(client, "erase", customer.pk).status_code == 200
    assert Customer.objects.get(pk=customer.pk).erased_at is not None


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("pk", [999999, 0, 99999999999999])
def test_an_unknown_customer_is_a_json_404(store, make_client, route, pk):
    response = call(make_client(["customers.erase", "customers.export"]), route, pk)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_export_answers_the_document(customer, make_client):
    response = call(make_client(["customers.export"]), "export", customer.pk)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    document = response.json()
    assert set(document) == {"exported_at", "customer", "orders", "history"}
    assert document["customer"]["email"] == "salma@example.com"
    assert [o["contact_email"] for o in document["orders"]] == [
        "salma@example.com",
        "salma.office@example.com",
    ]
    assert all(len(o["line_items"]) == 2 for o in document["orders"])
    assert {(e["entity"], e["action"]) for e in document["history"]} == {("order", "create")}
    assert sorted(e["record_id"] for e in document["history"]) == [
        o["id"] for o in document["orders"]
    ]


def staff_client(*codenames: str) -> APIClient:
    user = User.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.add(*(Permission.objects.get(codename=c) for c in codenames))
    client = APIClient()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("route", "codenames", "allowed"),
    [
        ("erase", ("erase_customer",), True),
        ("erase", ("view_customer", "change_customer", "delete_customer"), False),
        ("export", ("view_customer", "view_order"), True),
        ("export", ("view_customer",), False),
        ("export", ("view_order",), False),
    ],
)
def test_staff_need_the_routes_permissions(customer, route, codenames, allowed):
    response = call(staff_client(*codenames), route, customer.pk)
    if allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert Customer.objects.get(pk=customer.pk).erased_at is None


def test_without_credentials_both_routes_are_401(customer):
    for route in ROUTES:
        assert call(APIClient(), route, customer.pk).status_code == 401


def test_the_schema_declares_both_routes(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    erase = schema["paths"]["/api/v1/customers/{id}/erase"]["post"]
    export = schema["paths"]["/api/v1/customers/{id}/export"]["get"]
    assert (erase["operationId"], export["operationId"]) == ("customers_erase", "customers_export")
    assert set(erase["responses"]) >= {"200", "401", "403", "404"}
    assert set(export["responses"]) >= {"200", "401", "403", "404"}
