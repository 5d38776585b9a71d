"""How the feed answers requests: methods, bodies, tokens, paging fields, errors."""

import json
import logging

import pytest
from django.test import Client, override_settings

from feeds import builders
from feeds.models import FeedToken
from feeds.tokens import feed_token_create, feed_token_revoke
from tests.factories import CustomerFactory

from .conftest import TOKEN, check_body

pytestmark = pytest.mark.django_db

ENDPOINTS = ["storeinfo", "categories", "products", "customers", "orders"]
UNAUTHENTICATED = {"message": "Unauthenticated."}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "head", "options"])
def test_methods_other_than_post_get_405_with_allow_post(feed_token, endpoint, method):
    response = getattr(Client(), method)(f"/convertedin/{endpoint}")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    if method != "head":
        check_body(endpoint, response)


@pytest.mark.parametrize("path", ["", "nope", "orders/1", "customers/extra/"])
def test_unknown_paths_under_the_feed_get_a_json_404(db, path):
    response = Client().post(f"/convertedin/{path}")
    assert response.status_code == 404
    assert response.json() == {"message": "Not found."}


def test_a_trailing_slash_is_accepted(feed):
    assert feed.client.post("/convertedin/orders/", {"token": TOKEN}).status_code == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_endpoint_accepts_multipart_urlencoded_and_json_bodies(feed, endpoint):
    client = feed.client
    multipart = client.post(f"/convertedin/{endpoint}", {"token": TOKEN, "page": "1"})
    urlencoded = client.post(
        f"/convertedin/{endpoint}",
        f"token={TOKEN}&page=1&per_page=5",
        content_type="application/x-www-form-urlencoded",
    )
    as_json = client.post(
        f"/convertedin/{endpoint}",
        {"token": TOKEN, "page": 1, "per_page": 5},
        content_type="application/json",
    )
    for response in (multipart, urlencoded, as_json):
        assert response.status_code == 200
        check_body(endpoint, response)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_missing_wrong_and_revoked_tokens_get_the_same_401(feed_token, endpoint):
    revoked = feed_token_create(name="old", token="revoked-token-0000000")
    feed_token_revoke(token=revoked)
    client = Client()
    answers = [
        client.post(f"/convertedin/{endpoint}", {}),
        client.post(f"/convertedin/{endpoint}", {"token": ""}),
        client.post(f"/convertedin/{endpoint}", {"token": TOKEN + "x"}),
        client.post(f"/convertedin/{endpoint}", {"token": "revoked-token-0000000"}),
        client.post(f"/convertedin/{endpoint}", {"token": 12345}, content_type="application/json"),
    ]
    for response in answers:
        assert response.status_code == 401
        assert response.json() == UNAUTHENTICATED
        assert response["WWW-Authenticate"]
        check_body(endpoint, response)


def test_any_active_token_is_accepted_while_rotating(feed):
    feed_token_create(name="next", token="next-token-abcdefghijk")
    client = Client()
    for token in (TOKEN, "next-token-abcdefghijk"):
        assert client.post("/convertedin/storeinfo", {"token": token}).status_code == 200


def test_a_token_in_the_query_string_is_refused_even_with_one_in_the_body(feed):
    response = feed.client.post(f"/convertedin/orders?token={TOKEN}", {"token": TOKEN})
    assert response.status_code == 400
    check_body("orders", response)
    assert "body" in response.json()["message"]


def test_no_log_line_ever_contains_the_token(feed, caplog):
    caplog.set_level(logging.DEBUG)
    feed.client.post(f"/convertedin/orders?token={TOKEN}", {"token": TOKEN})
    feed.client.post("/convertedin/orders", {"token": TOKEN, "page": "x"})
    feed.client.post("/convertedin/orders", {"token": TOKEN + "bad"})
    feed.client.get(f"/convertedin/orders?token={TOKEN}")
    feed.client.post("/convertedin/orders", {"token": TOKEN})
    assert caplog.records
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in str(record.args)


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"page": "0"}, {"page": ["The page must be a positive integer."]}),
        ({"page": "-1"}, {"page": ["The page must be a positive integer."]}),
        ({"page": "abc"}, {"page": ["The page must be a positive integer."]}),
        ({"page": "1.5"}, {"page": ["The page must be a positive integer."]}),
        ({"per_page": "0"}, {"per_page": ["The per_page must be a positive integer."]}),
        ({"per_page": "ten"}, {"per_page": ["The per_page must be a positive integer."]}),
        ({"par_page": "-5"}, {"par_page": ["The par_page must be a positive integer."]}),
        (
            {"page": "0", "per_page": "x"},
            {
                "page": ["The page must be a positive integer."],
                "per_page": ["The per_page must be a positive integer."],
            },
        ),
        ({"page": "1000000001"}, {"page": ["The page must not be greater than 1000000000."]}),
        ({"page": "9" * 400}, {"page": ["The page must not be greater than 1000000000."]}),
    ],
)
def test_bad_page_or_per_page_gets_422_with_field_errors(feed, data, errors):
    response = feed.post("customers", data)
    assert response.status_code == 422
    assert response.json() == {"message": "The given data was invalid.", "errors": errors}


@pytest.mark.parametrize(
    "body", [{"page": True}, {"page": 1.5}, {"page": [1]}, {"per_page": -3}, {"page": 10**40}]
)
def test_bad_json_paging_values_get_422(feed, body):
    response = feed.client.post(
        "/convertedin/orders", {"token": TOKEN, **body}, content_type="application/json"
    )
    assert response.status_code == 422
    check_body("orders", response)


def test_per_page_above_1000_is_clamped_and_the_envelope_says_so(feed):
    CustomerFactory.create_batch(3)
    for size in ("1001", "5000", "9" * 50):
        body = feed.page("customers", per_page=size)
        assert (body["per_page"], body["last_page"], len(body["data"])) == (1000, 1, 3)


def test_par_page_is_an_alias_of_per_page_and_per_page_wins(feed):
    CustomerFactory.create_batch(5)
    assert feed.page("customers", par_page=2)["per_page"] == 2
    assert feed.page("customers", par_page=2, per_page=3)["per_page"] == 3


def test_defaults_are_page_1_and_100_per_page(feed):
    CustomerFactory.create_batch(2)
    body = feed.page("customers")
    assert (body["current_page"], body["per_page"], body["from"], body["to"]) == (1, 100, 1, 2)


def test_a_page_past_the_last_is_empty_with_null_from_and_to(feed):
    CustomerFactory.create_batch(3)
    assert feed.page("customers", page=3, per_page=2) == {
        "current_page": 3,
        "data": [],
        "from": None,
        "last_page": 2,
        "per_page": 2,
        "to": None,
        "total": 3,
    }
    assert feed.page("orders", page=1_000_000_000, per_page=1000)["data"] == []


def test_an_empty_store_has_one_empty_page(feed):
    assert feed.page("orders") == {
        "current_page": 1,
        "data": [],
        "from": None,
        "last_page": 1,
        "per_page": 100,
        "to": None,
        "total": 0,
    }


@pytest.mark.parametrize(
    "raw", [b"{not json", b'{"token": "abc"', b"[1, 2]", b'"token"', b"\xff\xfe\x00{}"]
)
def test_malformed_or_non_object_json_gets_400(feed, raw):
    response = feed.client.post("/convertedin/orders", raw, content_type="application/json")
    assert response.status_code == 400
    check_body("orders", response)


def test_a_non_utf8_json_body_gets_400(feed):
    raw = '{"token": "caf\u00e9"}'.encode("latin-1")
    response = feed.client.post("/convertedin/orders", raw, content_type="application/json")
    assert response.status_code == 400
    check_body("orders", response)


def test_a_non_utf8_form_body_is_answered_in_json(feed):
    response = feed.client.post(
        "/convertedin/orders",
        b"token=\xff\xfe&page=\xff",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 401
    check_body("orders", response)


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("multipart/form-data", 400),  # no boundary
        ("multipart/form-data; boundary=", 400),
        ("multipart/form-data; boundary=xyz", 401),  # readable, holds no token
    ],
)
def test_a_broken_multipart_body_gets_a_json_4xx(feed, content_type, status):
    response = feed.client.post(
        "/convertedin/orders", b"--xyz\r\nnot a part", content_type=content_type
    )
    assert response.status_code == status
    check_body("orders", response)


@override_settings(DATA_UPLOAD_MAX_NUMBER_FIELDS=5)
def test_too_many_fields_get_400(feed):
    body = "&".join(f"f{i}=1" for i in range(20)) + f"&token={TOKEN}"
    response = feed.client.post(
        "/convertedin/orders", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    check_body("orders", response)


def test_an_unknown_content_type_gets_415(feed):
    response = feed.client.post("/convertedin/orders", b"token=x", content_type="text/plain")
    assert response.status_code == 415
    check_body("orders", response)


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
@pytest.mark.parametrize(
    "content_type", ["application/json", "application/x-www-form-urlencoded", None]
)
def test_a_body_over_the_upload_limit_gets_413(feed, content_type):
    if content_type == "application/json":
        body = b'{"token": "' + b"a" * 2000 + b'"}'
        response = feed.client.post("/convertedin/orders", body, content_type=content_type)
    elif content_type:
        body = b"token=" + b"a" * 2000
        response = feed.client.post("/convertedin/orders", body, content_type=content_type)
    else:
        response = feed.client.post("/convertedin/orders", {"token": TOKEN, "pad": "a" * 2000})
    assert response.status_code == 413
    check_body("orders", response)


def test_a_server_error_is_answered_in_json_without_the_token(feed, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setitem(builders.PAGES, "orders", broken)
    response = feed.client.post("/convertedin/orders", {"token": TOKEN})
    assert response.status_code == 500
    assert response.json() == {"message": "Server Error."}
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


def test_responses_are_not_cached(feed):
    assert feed.post("orders")["Cache-Control"] == "no-store"


def test_the_token_model_never_holds_the_token(feed_token):
    row = FeedToken.objects.get()
    assert TOKEN not in str(row.__dict__)


@pytest.mark.parametrize(
    "value", [10**30, str(10**30), "1_0", "\u0661", "1.0", 1.5, " 7 ", "7\u00a0"]
)
def test_page_sizes_read_the_same_as_json_numbers_and_as_digits(feed, value):
    """ASCII digits (or a JSON integer) only, whatever the body's format."""
    as_json = feed.client.post(
        "/convertedin/customers",
        json.dumps({"token": feed.token, "per_page": value}),
        content_type="application/json",
    )
    expected = 200 if str(value) == str(10**30) else 422
    assert as_json.status_code == expected, as_json.content
    if not isinstance(value, float):
        as_form = feed.post("customers", {"per_page": value})
        assert as_form.status_code == expected
