from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone
from rest_framework.test import APIClient

from feeds.tokens import feed_token_create
from shop.api.models import SCOPE_NAMES, ApiKey, hash_key
from shop.api.services import api_key_create, api_key_revoke
from shop.api.throttling import ApiKeyRateThrottle
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, ProductFactory

RESOURCES = {
    "customers": ("customers", CustomerFactory),
    "orders": ("orders", OrderFactory),
    "products": ("products", ProductFactory),
    "categories": ("products", CategoryFactory),
}
OPERATIONS = [
    ("list", "get"),
    ("list", "post"),
    ("detail", "get"),
    ("detail", "put"),
    ("detail", "patch"),
    ("detail", "delete"),
    ("restore", "post"),
]
ENDPOINTS = [(resource, route, method) for resource in RESOURCES for route, method in OPERATIONS]


def url_of(resource: str, route: str, pk: int) -> str:
    return {
        "list": f"/api/v1/{resource}",
        "detail": f"/api/v1/{resource}/{pk}",
        "restore": f"/api/v1/{resource}/{pk}/restore",
    }[route]


def needed_scope(resource: str, method: str) -> str:
    return f"{RESOURCES[resource][0]}.{'read' if method == 'get' else 'write'}"


@pytest.mark.parametrize(("resource", "route", "method"), ENDPOINTS)
@pytest.mark.parametrize("scope", sorted(SCOPE_NAMES))
def test_scope_matrix(store, make_client, resource, route, method, scope):
    record = RESOURCES[resource][1]()
    client = make_client([scope])

    response = getattr(client, method)(url_of(resource, route, record.pk), {}, format="json")

    if scope == needed_scope(resource, method):
        assert response.status_code not in (401, 403, 500)
    else:
        assert response.status_code == 403
        assert response.json() == {
            "status": 403,
            "code": "permission_denied",
            "message": f"This API key lacks the {needed_scope(resource, method)} scope.",
            "errors": {},
        }


@pytest.mark.parametrize(("resource", "route", "method"), ENDPOINTS)
def test_every_endpoint_needs_a_key_or_a_session(store, resource, route, method):
    response = getattr(APIClient(), method)(url_of(resource, route, 1), {}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer sk_store_00000000_not-a-real-key",
        "Bearer nonsense",
        "Bearer",
        "Bearer two parts",
        "bearer sk_store_\u00e9",
    ],
)
def test_a_bad_key_is_a_401(store, header):
    response = APIClient().get("/api/v1/customers", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_revoked_and_expired_keys_are_a_401(store):
    revoked, revoked_raw = api_key_create(name="Old", scopes=["customers.read"])
    api_key_revoke(api_key=revoked)
    _, expired_raw = api_key_create(
        name="Temp", scopes=["customers.read"], expires_at=timezone.now() - timedelta(seconds=1)
    )
    _, valid_raw = api_key_create(
        name="Temp", scopes=["customers.read"], expires_at=timezone.now() + timedelta(days=1)
    )
    for raw, expected in ((revoked_raw, 401), (expired_raw, 401), (valid_raw, 200)):
        response = APIClient().get("/api/v1/customers", HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert response.status_code == expected


def test_a_feed_token_is_not_an_api_key(store):
    tokens = ["convertedin-feed-token-1234", "sk_store_abcdef12_feed-token-look-alike"]
    for token in tokens:
        feed_token_create(name="converted.in", token=token)
        response = APIClient().get("/api/v1/customers", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 401


def test_a_key_is_stored_only_as_a_hash_with_a_recognisable_prefix(db):
    api_key, raw = api_key_create(name="ERP", scopes=["orders.read", "customers.read"])
    assert raw.startswith("sk_store_")
    assert raw.startswith(api_key.prefix)
    assert len(raw) > 40
    stored = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert raw not in {str(value) for value in stored.values()}
    assert stored["key_hash"] == hash_key(raw)
    assert stored["scopes"] == ["customers.read", "orders.read"]


def test_unknown_scopes_are_refused(db):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        api_key_create(name="ERP", scopes=["customers.read", "admin.write"])


def test_use_of_a_key_records_its_last_use(store):
    api_key, raw = api_key_create(name="ERP", scopes=["customers.read"])
    assert api_key.last_used_at is None
    APIClient().get("/api/v1/customers", HTTP_AUTHORIZATION=f"Bearer {raw}")
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


def test_each_key_has_its_own_rate_limit_with_retry_after(store, make_client):
    limited = make_client(rate_limit=2)
    other = make_client()
    assert limited.get("/api/v1/customers").status_code == 200
    assert limited.get("/api/v1/customers").status_code == 200

    response = limited.get("/api/v1/customers")

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    body = response.json()
    assert (body["status"], body["code"], body["errors"]) == (429, "throttled", {})
    assert other.get("/api/v1/customers").status_code == 200


def test_keys_without_their_own_limit_get_the_default(store, make_client, monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api": "1/min"})
    client = make_client()
    assert client.get("/api/v1/customers").status_code == 200
    assert client.get("/api/v1/customers").status_code == 429


# Staff sessions -------------------------------------------------------------------------


def staff_client(*permissions: str, is_staff=True) -> APIClient:
    user = User.objects.create_user("clerk", password="pw", is_staff=is_staff)
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = APIClient()
    client.force_login(user)
    return client


def test_staff_browse_with_their_model_permissions(store):
    customer = CustomerFactory()
    client = staff_client("view_customer", "change_customer")
    assert client.get("/api/v1/customers").status_code == 200
    assert client.patch(
        f"/api/v1/customers/{customer.pk}", {"first_name": "X"}, format="json"
    ).status_code == (200)
    denied = client.post("/api/v1/customers", {}, format="json")
    assert denied.status_code == 403
    assert denied.json()["message"] == "You lack the permission to add customers."
    assert client.delete(f"/api/v1/customers/{customer.pk}").status_code == 403
    assert client.post(f"/api/v1/customers/{customer.pk}/restore").status_code == 403
    assert client.get("/api/v1/orders").status_code == 403


def test_restore_needs_the_delete_permission(store):
    customer = CustomerFactory(deleted_at=timezone.now())
    client = staff_client("delete_customer")
    assert client.post(f"/api/v1/customers/{customer.pk}/restore").status_code == 200


def test_a_logged_in_user_who_is_not_staff_is_refused(store):
    client = staff_client("view_customer", is_staff=False)
    response = client.get("/api/v1/customers")
    assert response.status_code == 403


def test_staff_see_the_browsable_api(store, admin_client):
    order = OrderFactory()
    for url in (
        "/api/v1/customers",
        f"/api/v1/customers/{order.customer_id}",
        "/api/v1/orders",
        f"/api/v1/orders/{order.pk}",
        "/api/v1/products",
        "/api/v1/categories",
    ):
        response = admin_client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("text/html")
        # Staff sign in at the admin's throttled login; the API offers no login of its own.
        assert "/api/auth/" not in response.content.decode()


@pytest.mark.parametrize("path", ["/api/auth/login/", "/api/auth/logout/"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_the_api_has_no_login_door_of_its_own(store, method, path):
    User.objects.create_user("clerk", password="pw", is_staff=True)
    response = getattr(APIClient(), method)(path, {"username": "clerk", "password": "pw"})
    assert response.status_code == 404
    assert response.json() == {
        "status": 404,
        "code": "not_found",
        "message": "No such endpoint.",
        "errors": {},
    }
    assert "sessionid" not in response.cookies


def test_staff_session_writes_need_a_csrf_token(store, admin_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(
        "/api/v1/customers",
        {"email": "a@example.com", "first_name": "A", "last_name": "B"},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
