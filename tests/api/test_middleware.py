import pytest
from django.utils.cache import get_max_age
from rest_framework.test import APIClient

from tests.factories import CustomerFactory


def directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",")}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/v1/customers", 200),
        ("get", "/api/v1/customers/{pk}", 200),
        ("patch", "/api/v1/customers/{pk}", 200),
        ("get", "/api/v1/customers?per_page=0", 400),
        ("get", "/api/v1/customers?query=a%00b", 400),
        ("get", "/api/v1/customers/424242", 404),
        ("get", "/api/v1/nothing", 404),
        ("delete", "/api/v1/customers", 405),
        ("get", "/api/schema/", 200),
    ],
)
def test_every_api_answer_is_no_store(api, method, path, status):
    customer = CustomerFactory()
    body = {"first_name": "Changed"} if method == "patch" else None
    response = getattr(api, method)(path.format(pk=customer.pk), body, format="json")
    assert response.status_code == status
    assert "no-store" in directives(response)
    assert get_max_age(response) in (None, 0)


def test_refusals_before_any_view_are_no_store_too(store):
    response = APIClient().get("/api/v1/customers")
    assert response.status_code == 401
    assert "no-store" in directives(response)


def test_pages_outside_the_api_keep_their_own_caching(client, db):
    assert "no-store" not in directives(client.get("/robots.txt"))
