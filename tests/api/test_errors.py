import pytest
from rest_framework.validators import UniqueValidator

from shop.api import views
from shop.models import Customer, Product
from tests.factories import CustomerFactory, ProductFactory


def test_a_400_names_each_field(api):
    response = api.post("/api/v1/customers", {"email": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "code": "invalid",
        "message": "The request has invalid values.",
        "errors": {
            "email": ["Enter a valid email address."],
            "first_name": ["This field is required."],
            "last_name": ["This field is required."],
        },
    }


def test_a_missing_record_is_a_json_404(api):
    response = api.get("/api/v1/customers/424242")
    assert response.status_code == 404
    assert response.json() == {
        "status": 404,
        "code": "not_found",
        "message": "No customer with id 424242.",
        "errors": {},
    }


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nothing",
        "/api/v1/customers/abc",
        "/api/v1/customers/",
        "/api/v2/customers",
        "/api/v1/customers/1%0A2",
    ],
)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_api_path_is_a_json_404(api, path, method):
    response = getattr(api, method)(path)
    assert response.status_code == 404
    assert response.json() == {
        "status": 404,
        "code": "not_found",
        "message": "No such endpoint.",
        "errors": {},
    }


def test_an_unsupported_method_is_a_json_405(api):
    response = api.delete("/api/v1/customers")
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST, HEAD, OPTIONS"
    assert response.json() == {
        "status": 405,
        "code": "method_not_allowed",
        "message": 'Method "DELETE" not allowed.',
        "errors": {},
    }


def test_an_unacceptable_format_is_a_json_406(api):
    response = api.get("/api/v1/customers", HTTP_ACCEPT="application/xml")
    assert response.status_code == 406
    assert response.json()["code"] == "not_acceptable"


def test_a_handle_taken_by_a_concurrent_write_is_a_400_on_handle(api, monkeypatch):
    ProductFactory(handle="lamp")
    # As if a concurrent request created the same handle after validation passed.
    monkeypatch.setattr(UniqueValidator, "__call__", lambda self, *args, **kwargs: None)
    monkeypatch.setattr(Product, "full_clean", lambda self, *args, **kwargs: None)
    response = api.post("/api/v1/products", {"title": "Lamp", "handle": "lamp"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["handle"]
    assert Product.objects.count() == 1


def test_a_write_refused_by_the_database_for_another_reason_is_a_409(api, monkeypatch):
    from django.db import IntegrityError

    def refuse(self, *args, **kwargs):
        raise IntegrityError("could not serialize access due to concurrent update")

    monkeypatch.setattr(Product, "save", refuse)
    response = api.post("/api/v1/products", {"title": "Lamp", "handle": "lamp"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "code": "conflict",
        "message": "The request conflicts with the current state of the data.",
        "errors": {},
    }
    assert Product.objects.count() == 0


def test_a_duplicate_email_that_races_past_validation_is_still_a_400_on_email(api, monkeypatch):
    CustomerFactory(email="taken@example.com")
    monkeypatch.setattr(Customer, "full_clean", lambda self, *args, **kwargs: None)
    response = api.post(
        "/api/v1/customers",
        {"email": "TAKEN@example.com", "first_name": "A", "last_name": "B"},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["email"]
    assert Customer.objects.count() == 1


def test_a_body_over_the_upload_limit_is_a_json_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    body = {"email": "a@example.com", "first_name": "A" * 2_000, "last_name": "B"}
    response = api.post("/api/v1/customers", body, format="json")
    assert response.status_code == 413
    assert response.json() == {
        "status": 413,
        "code": "request_too_large",
        "message": "The request body is too large.",
        "errors": {},
    }
    assert not Customer.objects.exists()


def test_a_body_that_is_not_json_is_a_json_415(api):
    response = api.post("/api/v1/customers", {"email": "a@example.com"}, format="multipart")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "body",
    [
        "{",
        '{"email": NaN}',
        '{"first_name": "\\ud800"}',
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_malformed_json_is_a_json_400(api, body):
    response = api.generic("POST", "/api/v1/customers", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_a_body_that_is_not_an_object_is_a_400(api):
    response = api.post("/api/v1/customers", [1, 2], format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["non_field_errors"]


def test_an_unexpected_failure_is_a_json_500(api, monkeypatch):
    def broken(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.CustomerViewSet, "get_queryset", broken)
    response = api.get("/api/v1/customers")
    assert response.status_code == 500
    assert response.json() == {
        "status": 500,
        "code": "server_error",
        "message": "The server failed to handle the request.",
        "errors": {},
    }
