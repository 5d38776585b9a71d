"""The feed's request log and the token-free page rendering staff tools use."""

from datetime import timedelta

import orjson
import pytest
from django.utils import timezone

from feeds import requestlog
from feeds.builders import build_payload, render_endpoint
from feeds.models import FeedRequest
from tests.factories import CustomerFactory, OrderFactory

from .conftest import TOKEN

pytestmark = pytest.mark.django_db


def test_each_feed_request_is_logged_without_the_token(feed, feed_token):
    CustomerFactory.create_batch(3)
    feed.page("customers", page=1, per_page=2)
    feed.post("orders", token="wrong-token-123456789")
    feed.post("customers", {"page": "zero"})
    feed.client.get("/convertedin/storeinfo")
    rows = list(
        FeedRequest.objects.order_by("id").values(
            "endpoint", "page", "per_page", "status", "rows", "client_address", "token_id"
        )
    )
    assert rows == [
        {
            "endpoint": "customers",
            "page": 1,
            "per_page": 2,
            "status": 200,
            "rows": 2,
            "client_address": "127.0.0.1",
            "token_id": feed_token.pk,
        },
        {
            "endpoint": "orders",
            "page": None,
            "per_page": None,
            "status": 401,
            "rows": 0,
            "client_address": "127.0.0.1",
            "token_id": None,
        },
        {
            "endpoint": "customers",
            "page": None,
            "per_page": None,
            "status": 422,
            "rows": 0,
            "client_address": "127.0.0.1",
            "token_id": feed_token.pk,
        },
        {
            "endpoint": "storeinfo",
            "page": None,
            "per_page": None,
            "status": 405,
            "rows": 0,
            "client_address": "127.0.0.1",
            "token_id": None,
        },
    ]
    assert all(r.duration_ms >= 0 and r.created_at for r in FeedRequest.objects.all())
    assert TOKEN not in str(list(FeedRequest.objects.values()))


def test_the_log_is_pruned_by_age_and_size_as_it_grows(db, monkeypatch):
    monkeypatch.setattr(requestlog, "PRUNE_EVERY", 5)
    monkeypatch.setattr(requestlog, "KEEP_ROWS", 3)
    old = requestlog.feed_request_log(endpoint="orders", status=200, duration_ms=1)
    FeedRequest.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=requestlog.KEEP_DAYS + 1)
    )
    for _ in range(12):
        requestlog.feed_request_log(endpoint="orders", status=200, duration_ms=1)
    assert FeedRequest.objects.count() <= 3 + 4
    assert not FeedRequest.objects.filter(pk=old.pk).exists()


def test_pruning_keeps_recent_rows(db):
    for _ in range(3):
        requestlog.feed_request_log(endpoint="orders", status=200, duration_ms=1)
    assert requestlog.feed_requests_prune() == 0
    assert FeedRequest.objects.count() == 3


def test_render_endpoint_gives_the_bytes_the_feed_answers(feed):
    customer = CustomerFactory()
    OrderFactory(customer=customer)
    for endpoint in ("storeinfo", "categories", "products", "customers", "orders"):
        over_http = feed.post(endpoint, {"per_page": "5"}).content
        assert render_endpoint(endpoint, per_page=5) == over_http
        assert build_payload(endpoint, per_page=5) == orjson.loads(over_http)


def test_render_endpoint_needs_no_token_and_writes_no_log(db, django_assert_num_queries):
    CustomerFactory()
    with django_assert_num_queries(1):
        payload = build_payload("customers")
    assert payload["total"] == 1
    assert not FeedRequest.objects.exists()


def test_build_payload_refuses_unknown_endpoints_and_pages_below_one(db):
    with pytest.raises(KeyError):
        build_payload("invoices")
    with pytest.raises(ValueError, match="start at 1"):
        build_payload("orders", page=0)
    assert build_payload("orders", per_page=5000)["per_page"] == 1000
