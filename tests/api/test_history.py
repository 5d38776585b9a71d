"""The REST API as a door of the history (its key or staff user), and a record's history at
GET /api/v1/<resource>/<id>/history in cursor pages."""

import pytest
from rest_framework.test import APIClient

from shop import history, services
from shop.api.models import ApiKey
from shop.models import Customer, HistoryEntry
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db

Door, Kind = HistoryEntry.Door, HistoryEntry.ActorKind


def entries(model, pk) -> list[HistoryEntry]:
    return list(HistoryEntry.objects.filter(entity=model, record_id=pk).order_by("-id"))


def who(entry) -> tuple:
    return (entry.actor_kind, entry.actor_id, entry.actor_label, entry.door)


def test_rest_writes_are_recorded_as_the_api_keys(api, store):
    key = ApiKey.objects.get()
    created = api.post(
        "/api/v1/customers",
        {"email": "nour@example.com", "first_name": "Nour", "last_name": "Ali"},
        format="json",
    )
    pk = created.json()["id"]
    api.patch(f"/api/v1/customers/{pk}", {"first_name": "Noura"}, format="json")
    api.delete(f"/api/v1/customers/{pk}")
    api.post(f"/api/v1/customers/{pk}/restore")

    restore, delete, update, create = entries("customer", pk)
    assert [e.action for e in (create, update, delete, restore)] == [
        "create",
        "update",
        "delete",
        "restore",
    ]
    assert {who(e) for e in (create, update, delete, restore)} == {
        (Kind.API_KEY, key.pk, "Test key", Door.API)
    }
    assert update.changes == {"first_name": ["Nour", "Noura"]}
    # The door closes with the request: a later service call is the system's again.
    assert history.current() == history.SYSTEM


def test_a_staff_users_api_writes_are_recorded_as_theirs(admin_client, admin_user, store):
    product = ProductFactory(title="Old")
    response = admin_client.patch(
        f"/api/v1/products/{product.pk}", {"title": "New"}, content_type="application/json"
    )
    assert response.status_code == 200
    (entry,) = entries("product", product.pk)
    assert who(entry) == (Kind.USER, admin_user.pk, admin_user.username, Door.API)
    assert entry.changes == {"title": ["Old", "New"]}


def test_bulk_api_writes_are_recorded_through_the_bulk_door(api, store):
    key = ApiKey.objects.get()
    response = api.post(
        "/api/v1/customers/bulk",
        {"records": [{"email": "a@example.com", "first_name": "A", "last_name": "B"}]},
        format="json",
    )
    pk = response.json()["results"][0]["id"]
    (entry,) = entries("customer", pk)
    assert who(entry) == (Kind.API_KEY, key.pk, "Test key", Door.BULK_API)


def test_a_records_history_comes_newest_first_in_cursor_pages(api, store):
    customer = services.customer_create(email="n@example.com", first_name="N0", last_name="L")
    for n in range(1, 5):
        services.customer_update(customer=customer, first_name=f"N{n}")
    newest = entries("customer", customer.pk)
    url = f"/api/v1/customers/{customer.pk}/history"

    first = api.get(url, {"per_page": 2})
    body = first.json()

    assert first.status_code == 200
    assert body["data"][0] == {
        "id": newest[0].pk,
        "at": newest[0].at.isoformat().replace("+00:00", "Z"),
        "action": "update",
        "door": "service",
        "actor": {"kind": "system", "id": None, "name": "system"},
        "changes": {"first_name": ["N3", "N4"]},
    }
    assert body["meta"] == {"per_page": 2, "next_cursor": f"i{newest[1].pk}"}
    second = api.get(body["links"]["next"]).json()
    third = api.get(second["links"]["next"]).json()
    listed = [e["id"] for page in (body, second, third) for e in page["data"]]
    assert listed == [e.pk for e in newest]
    assert third["links"]["next"] is None
    assert third["data"][0]["action"] == "create"


@pytest.mark.parametrize(
    ("resource", "make"),
    [
        ("orders", lambda: OrderFactory(items=1)),
        ("products", ProductFactory),
        ("categories", CategoryFactory),
    ],
)
def test_every_resource_has_its_history_route(api, store, resource, make):
    record = make()
    response = api.get(f"/api/v1/{resource}/{record.pk}/history")
    assert response.status_code == 200
    expected = 1 if resource == "orders" else 0  # the order factory writes through services
    assert len(response.json()["data"]) == expected


def test_history_of_an_unknown_record_is_a_json_404(api, store):
    response = api.get("/api/v1/customers/999999/history")
    assert response.status_code == 404
    assert response.json()["message"]


def test_history_of_a_soft_deleted_record_is_still_shown(api, store):
    customer = Customer.objects.get(pk=CustomerFactory().pk)
    services.customer_soft_delete(customer=customer)
    response = api.get(f"/api/v1/customers/{customer.pk}/history")
    assert [e["action"] for e in response.json()["data"]] == ["delete"]


def test_history_needs_the_read_scope(make_client, store):
    customer = CustomerFactory()
    client = make_client(["orders.read"])
    response = client.get(f"/api/v1/customers/{customer.pk}/history")
    assert response.status_code == 403
    assert APIClient().get(f"/api/v1/customers/{customer.pk}/history").status_code == 401


@pytest.mark.parametrize(
    "query",
    [{"cursor": "x1"}, {"cursor": "i-1"}, {"per_page": "0"}, {"per_page": "251"}, {"page": "2"}],
)
def test_bad_history_parameters_are_a_400(api, store, query):
    customer = CustomerFactory()
    response = api.get(f"/api/v1/customers/{customer.pk}/history", query)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == set(query)


def test_a_history_page_costs_the_same_queries_however_long_the_history(
    api, store, django_assert_num_queries
):
    customer = services.customer_create(email="n@example.com", first_name="N0", last_name="L")
    for n in range(30):
        services.customer_update(customer=customer, first_name=f"N{n + 1}")
    api.get("/api/v1/customers")  # the key's last use is recorded once a minute

    with django_assert_num_queries(4):  # the key, the rate limit, the record, the page
        response = api.get(f"/api/v1/customers/{customer.pk}/history", {"per_page": 10})
    assert len(response.json()["data"]) == 10
