"""Idempotency-Key on the API's writes: one run per key, its answer replayed for 24 hours."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from shop.api import idempotency
from shop.api.models import ApiKey, IdempotentRequest
from shop.models import Customer, Order
from tests.factories import CustomerFactory, ProductFactory


def new_customer(email="ann@example.com"):
    return {"email": email, "first_name": "Ann", "last_name": "Lee"}


def post(client, path, body, key):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_retry_with_the_same_key_and_body_replays_the_answer_without_writing_again(api):
    first = post(api, "/api/v1/customers", new_customer(), "k-1")
    again = post(api, "/api/v1/customers", new_customer(), "k-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Customer.objects.count() == 1


def test_the_same_key_with_another_body_is_a_422_naming_the_header(api):
    post(api, "/api/v1/customers", new_customer(), "k-1")

    response = post(api, "/api/v1/customers", new_customer("bob@example.com"), "k-1")

    assert response.status_code == 422
    assert response.json() == {
        "status": 422,
        "code": "idempotency_key_reused",
        "message": str(idempotency.KeyReused.default_detail),
        "errors": {"Idempotency-Key": [str(idempotency.KeyReused.default_detail)]},
    }
    assert Customer.objects.count() == 1


def test_a_key_is_the_senders_own(api, make_client):
    other = make_client()
    post(api, "/api/v1/customers", new_customer(), "k-1")

    response = post(other, "/api/v1/customers", new_customer("bob@example.com"), "k-1")

    assert response.status_code == 201
    assert Customer.objects.count() == 2


def test_a_key_still_claimed_is_a_409(api):
    body = new_customer()
    # The claim of a request that is running: no answer yet.
    IdempotentRequest.objects.create(
        principal=f"key:{ApiKey.objects.get().pk}",
        key="k-1",
        fingerprint=idempotency.fingerprint("POST", "/api/v1/customers", _json_bytes(api, body)),
    )

    response = post(api, "/api/v1/customers", body, "k-1")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_use"
    assert Customer.objects.count() == 0


def _json_bytes(api, body) -> bytes:
    """The body as the test client sends it (DRF's JSON renderer)."""
    return JSONRenderer().render(body)


def test_a_store_refusal_is_kept_and_replayed_too(api):
    CustomerFactory(email="ann@example.com")

    first = post(api, "/api/v1/customers", new_customer(), "k-1")
    again = post(api, "/api/v1/customers", new_customer(), "k-1")

    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"


def test_a_key_older_than_24_hours_runs_again(api):
    post(api, "/api/v1/customers", new_customer(), "k-1")
    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    Customer.objects.all().delete()

    response = post(api, "/api/v1/customers", new_customer(), "k-1")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Customer.objects.count() == 1


@pytest.mark.parametrize("key", ["", "a b", "é", "x" * 256])
def test_a_malformed_key_is_a_400_naming_the_header(api, key):
    response = post(api, "/api/v1/customers", new_customer(), key)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["Idempotency-Key"]
    assert Customer.objects.count() == 0


def test_updates_deletes_and_restores_take_keys(api):
    customer = CustomerFactory()
    url = f"/api/v1/customers/{customer.pk}"

    patched = api.patch(url, {"first_name": "Zed"}, format="json", HTTP_IDEMPOTENCY_KEY="p")
    replay = api.patch(url, {"first_name": "Zed"}, format="json", HTTP_IDEMPOTENCY_KEY="p")
    deleted = api.delete(url, HTTP_IDEMPOTENCY_KEY="d")
    deleted_again = api.delete(url, HTTP_IDEMPOTENCY_KEY="d")

    assert (patched.status_code, replay.status_code) == (200, 200)
    assert replay["Idempotent-Replayed"] == "true"
    assert (deleted.status_code, deleted_again.status_code) == (204, 204)
    assert deleted_again["Idempotent-Replayed"] == "true"


def test_a_retried_bulk_request_does_not_duplicate(api):
    customer = CustomerFactory()
    product = ProductFactory(price=Decimal("5.00"))
    records = [
        {"customer": customer.pk, "line_items": [{"product": product.pk, "quantity": 1}]}
        for _ in range(5)
    ]
    body = {"records": records}

    first = post(api, "/api/v1/orders/bulk", body, "b-1")
    again = post(api, "/api/v1/orders/bulk", body, "b-1")

    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 5


def test_requests_without_a_key_are_not_stored(api):
    api.post("/api/v1/customers", new_customer(), format="json")
    assert not IdempotentRequest.objects.exists()


def test_prune_drops_answers_past_24_hours_and_forget_erases_on_demand(api, make_client):
    post(api, "/api/v1/customers", new_customer(), "old")
    post(api, "/api/v1/customers", new_customer("bob@example.com"), "new")
    IdempotentRequest.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=25)
    )

    assert idempotency.prune() == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]
    assert idempotency.forget(containing="bob@example.com") == 1
    assert not IdempotentRequest.objects.exists()
