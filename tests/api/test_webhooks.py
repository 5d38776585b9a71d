"""/api/v1/webhooks: subscriptions under the webhooks.write scope; the secret shown once."""

import pytest

from push.models import WebhookSubscription
from push.webhooks import subscription_secret

URL = "http://127.0.0.1:9/hooks"


@pytest.fixture
def hooks(store, make_client):
    return make_client(["webhooks.write"])


@pytest.mark.django_db
def test_create_answers_the_secret_once(hooks):
    response = hooks.post(
        "/api/v1/webhooks",
        {"url": URL, "topics": ["orders/create", "collections/delete"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    subscription = WebhookSubscription.objects.get()
    assert body["secret"] == subscription_secret(subscription)
    assert body["secret"].startswith("whsec_")
    assert body["topics"] == ["orders/create", "collections/delete"]
    assert body["active"] is True

    listed = hooks.get("/api/v1/webhooks").json()
    assert [item["id"] for item in listed] == [subscription.pk]
    one = hooks.get(f"/api/v1/webhooks/{subscription.pk}").json()
    assert "secret" not in one
    assert "secret" not in listed[0]
    assert body["secret"] not in str(listed) + str(one)


@pytest.mark.django_db
def test_update_and_delete(hooks):
    created = hooks.post(
        "/api/v1/webhooks", {"url": URL, "topics": ["orders/create"]}, format="json"
    ).json()
    path = f"/api/v1/webhooks/{created['id']}"
    changed = hooks.patch(path, {"topics": ["products/update"], "active": False}, format="json")
    assert changed.status_code == 200, changed.content
    assert (changed.json()["topics"], changed.json()["active"]) == (["products/update"], False)
    assert hooks.delete(path).status_code == 204
    assert not WebhookSubscription.objects.exists()
    assert hooks.get(path).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": URL, "topics": ["orders/explode"]}, "topics"),
        ({"url": URL, "topics": []}, "topics"),
        ({"url": "not a url", "topics": ["orders/create"]}, "url"),
        ({"topics": ["orders/create"]}, "url"),
    ],
)
@pytest.mark.django_db
def test_bad_input_is_a_400_in_the_api_shape(hooks, body, field):
    response = hooks.post("/api/v1/webhooks", body, format="json")
    assert response.status_code == 400
    assert field in str(response.json())
    assert not WebhookSubscription.objects.exists()


@pytest.mark.django_db
def test_an_unsafe_target_is_refused_in_production(hooks, settings):
    """A well-formed URL the target rules refuse is a 409 naming `url`, as the API answers
    any request the store refuses."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    for url in ("http://example.com/", "https://10.0.0.1/", "https://localhost/"):
        response = hooks.post(
            "/api/v1/webhooks", {"url": url, "topics": ["orders/create"]}, format="json"
        )
        assert response.status_code == 409, url
        assert list(response.json()["errors"]) == ["url"]
    assert not WebhookSubscription.objects.exists()


@pytest.mark.django_db
def test_keys_without_the_scope_are_refused(store, make_client):
    from tests.api.conftest import ALL_SCOPES

    others = make_client([s for s in ALL_SCOPES if s != "webhooks.write"])
    assert others.get("/api/v1/webhooks").status_code == 403
    response = others.post(
        "/api/v1/webhooks", {"url": URL, "topics": ["orders/create"]}, format="json"
    )
    assert response.status_code == 403
    assert "webhooks.write" in str(response.json())
    assert not WebhookSubscription.objects.exists()


@pytest.mark.django_db
def test_staff_need_the_model_permission(store, staff_client):
    client = staff_client("view_order", "view_webhooksubscription")
    assert client.get("/api/v1/webhooks").status_code == 200
    response = client.post("/api/v1/webhooks", {"url": URL, "topics": ["orders/create"]})
    assert response.status_code == 403


@pytest.mark.django_db
def test_a_retried_subscription_with_its_idempotency_key_is_created_once(hooks):
    body = {"url": URL, "topics": ["orders/create"]}
    headers = {"HTTP_IDEMPOTENCY_KEY": "subscribe-erp-1"}
    first = hooks.post("/api/v1/webhooks", body, format="json", **headers)
    again = hooks.post("/api/v1/webhooks", body, format="json", **headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()  # the secret shown once is the same one
    assert WebhookSubscription.objects.count() == 1
    other = hooks.post(
        "/api/v1/webhooks", {**body, "topics": ["orders/update"]}, format="json", **headers
    )
    assert other.status_code == 422
