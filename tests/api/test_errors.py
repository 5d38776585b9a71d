import pytest
from rest_framework.test import APIClient
from rest_framework.validators import UniqueValidator

from shop.api import views
from shop.models import Customer, Product
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory


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


def test_a_handle_taken_by_a_concurrent_write_is_a_409_on_handle(api, monkeypatch):
    ProductFactory(handle="lamp")
    # As if a concurrent request created the same handle after validation passed.
    monkeypatch.setattr(UniqueValidator, "__call__", lambda self, *args, **kwargs: None)
    monkeypatch.setattr(Product, "full_clean", lambda self, *args, **kwargs: None)
    response = api.post("/api/v1/products", {"title": "Lamp", "handle": "lamp"}, format="json")
    assert response.status_code == 409
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


def test_a_duplicate_email_that_races_past_validation_is_still_a_409_on_email(api, monkeypatch):
    CustomerFactory(email="taken@example.com")
    monkeypatch.setattr(Customer, "full_clean", lambda self, *args, **kwargs: None)
    response = api.post(
        "/api/v1/customers",
        {"email": "TAKEN@example.com", "first_name": "A", "last_name": "B"},
        format="json",
    )
    assert response.status_code == 409
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


# The schema says what validation enforces -------------------------------------------------


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        # A JSON type other than the schema's is refused, not coerced.
        ("/api/v1/customers", {"first_name": 123}, "first_name"),
        ("/api/v1/customers", {"accepts_marketing": 0}, "accepts_marketing"),
        ("/api/v1/customers", {"accepts_marketing": "true"}, "accepts_marketing"),
        ("/api/v1/products", {"quantity": "5"}, "quantity"),
        ("/api/v1/products", {"quantity": 5.0}, "quantity"),
        ("/api/v1/products", {"quantity": True}, "quantity"),
        ("/api/v1/products", {"price": True}, "price"),
        ("/api/v1/products", {"category": "1"}, "category"),
        ("/api/v1/products", {"category": True}, "category"),
        ("/api/v1/products", {"content": 0}, "content"),
        ("/api/v1/products", {"compare_at_price": ""}, "compare_at_price"),
        ("/api/v1/products", {"category": ""}, "category"),
        # Amounts: a number, or a string of digits with up to two decimals.
        ("/api/v1/products", {"price": "1e3"}, "price"),
        ("/api/v1/products", {"price": " 5"}, "price"),
        ("/api/v1/products", {"price": "٥"}, "price"),
        ("/api/v1/products", {"price": 0.001}, "price"),
        # Text: no NUL, no blank required text, maxLength as sent.
        ("/api/v1/customers", {"first_name": "A\x00B"}, "first_name"),
        ("/api/v1/customers", {"first_name": " \u3000\x1c "}, "first_name"),
        ("/api/v1/customers", {"first_name": "A" + " " * 150}, "first_name"),
        ("/api/v1/products", {"sku": "\x00"}, "sku"),
        # Formats checked as sent.
        ("/api/v1/customers", {"email": " a@example.com"}, "email"),
        ("/api/v1/customers", {"phone": "+201000000000\n"}, "phone"),
        ("/api/v1/orders", {"customer_locale": "en\n"}, "customer_locale"),
        ("/api/v1/products", {"handle": "lamp\n"}, "handle"),
        ("/api/v1/products", {"url": "mailto:a@example.com"}, "url"),
        ("/api/v1/products", {"url": " https://example.com"}, "url"),
        # Date-times: RFC 3339 with an offset, in the years a store can show.
        ("/api/v1/customers", {"registered_at": "2025-01-01"}, "registered_at"),
        ("/api/v1/customers", {"registered_at": "2025-01-01T00:00:00"}, "registered_at"),
        ("/api/v1/customers", {"registered_at": "2025-01-01 00:00:00Z"}, "registered_at"),
        ("/api/v1/customers", {"registered_at": "1899-12-31T00:00:00Z"}, "registered_at"),
        ("/api/v1/products", {"published_at": "9000-01-01T00:00:00Z"}, "published_at"),
        # Ids: integers from 1.
        ("/api/v1/orders", {"customer": 0}, "customer"),
        ("/api/v1/orders", {"customer": 2**63}, "customer"),
        ("/api/v1/orders", {"line_items": []}, "line_items"),
    ],
)
def test_a_value_the_schema_forbids_is_a_400_naming_its_field(api, url, body, field):
    response = api.post(url, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_values_the_schema_allows_are_taken_as_sent(api):
    category = CategoryFactory()
    body = {
        "title": " Lamp ",
        "handle": "مصباح_1",
        "price": 19.99,
        "compare_at_price": "25",
        "quantity": 3,
        "category": category.pk,
        "url": "HTTPS://shop.example.com/lamp?x=1",
        "published_at": "2025-01-01t10:00:00.1234567+02:00",
        "sku": "   ",
    }
    response = api.post("/api/v1/products", body, format="json")
    assert response.status_code == 201, response.json()
    product = response.json()
    assert (product["title"], product["handle"], product["price"]) == ("Lamp", "مصباح_1", 19.99)
    assert product["compare_at_price"] == 25.0
    assert product["published_at"] == "2025-01-01T08:00:00.123456Z"
    assert product["sku"] == ""


def test_a_well_formed_request_the_stored_data_refuses_is_a_409_naming_its_fields(api):
    customer = CustomerFactory()
    gone = ProductFactory(deleted_at="2025-01-01T00:00:00Z")
    response = api.post(
        "/api/v1/orders",
        {"customer": customer.pk + 1000, "line_items": [{"product": gone.pk, "quantity": 1}]},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert set(response.json()["errors"]) == {"customer", "line_items"}

    future = api.patch(
        f"/api/v1/customers/{customer.pk}",
        {"registered_at": "2999-01-01T00:00:00Z"},
        format="json",
    )
    assert future.status_code == 409
    assert future.json()["errors"] == {"registered_at": ["This date is in the future."]}


def test_a_request_both_malformed_and_conflicting_is_a_400_naming_both(api):
    response = api.post("/api/v1/orders", {"customer": 424242, "line_items": "none"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"customer", "line_items"}


# Bad input: a key no header can carry is a wrong key -------------------------------------

WRONG_KEY = {
    "status": 401,
    "code": "authentication_failed",
    "message": "Invalid, expired or revoked API key.",
    "errors": {},
}


@pytest.mark.parametrize(
    "header",
    [
        # What a WSGI server passes for raw bytes that are not ASCII: Latin-1 text.
        "Bearer sk_store_\xff\xfe\x80",
        "Bearer sk_store_\xe9t\xe9",
        # Text no HTTP header holds, from an in-process caller: a lone surrogate, a euro sign.
        "Bearer sk_store_\ud800",
        "Bearer sk_store_\u20ac",
    ],
)
def test_an_api_key_that_cannot_be_read_is_a_wrong_key(store, header, caplog):
    response = APIClient().get("/api/v1/customers", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == WRONG_KEY
    assert [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []


def test_a_database_busy_past_its_timeout_is_a_json_503_to_retry(api, monkeypatch):
    from django.db import OperationalError

    from shop.api import selectors

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(selectors, "orders_for_api", locked)
    response = api.get("/api/v1/orders")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "unavailable"
