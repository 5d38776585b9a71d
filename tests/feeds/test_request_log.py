"""The feed's request log and the token-free page rendering staff tools use."""

from datetime import timedelta

import orjson
import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from feeds import requestlog
from feeds.builders import build_payload, render_endpoint
from feeds.models import FeedRequest, RequestLogPolicy
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


def _entry(**fields) -> FeedRequest:
    return FeedRequest.objects.create(
        endpoint="orders", status=200, duration_ms=1, created_at=timezone.now(), **fields
    )


def test_every_500th_row_prunes_rows_past_the_age_limit(db):
    old = _entry(id=1)
    FeedRequest.objects.filter(pk=1).update(
        created_at=timezone.now() - timedelta(days=settings.FEED_REQUEST_LOG_KEEP_DAYS, minutes=1)
    )
    recent = _entry(id=2)
    _entry(id=settings.FEED_REQUEST_LOG_PRUNE_EVERY - 1)
    assert FeedRequest.objects.filter(pk=old.pk).exists()
    _entry(id=settings.FEED_REQUEST_LOG_PRUNE_EVERY)
    assert not FeedRequest.objects.filter(pk=old.pk).exists()
    assert FeedRequest.objects.filter(pk=recent.pk).exists()


def test_every_500th_row_prunes_all_but_the_newest_rows(db):
    newest = settings.FEED_REQUEST_LOG_KEEP_ROWS + 3 * settings.FEED_REQUEST_LOG_PRUNE_EVERY
    for entry_id in (
        1,
        newest - settings.FEED_REQUEST_LOG_KEEP_ROWS,
        newest - settings.FEED_REQUEST_LOG_KEEP_ROWS + 1,
    ):
        _entry(id=entry_id)
    _entry(id=newest)
    assert sorted(FeedRequest.objects.values_list("id", flat=True)) == [
        newest - settings.FEED_REQUEST_LOG_KEEP_ROWS + 1,
        newest,
    ]


def test_the_database_holds_the_limits_the_settings_give(db):
    policy = RequestLogPolicy.objects.get()
    assert (policy.keep_days, policy.keep_rows, policy.prune_every, policy.touch_seconds) == (
        settings.FEED_REQUEST_LOG_KEEP_DAYS,
        settings.FEED_REQUEST_LOG_KEEP_ROWS,
        settings.FEED_REQUEST_LOG_PRUNE_EVERY,
        settings.FEED_TOKEN_TOUCH_SECONDS,
    )


@override_settings(FEED_REQUEST_LOG_PRUNE_EVERY=5, FEED_REQUEST_LOG_KEEP_ROWS=3)
def test_pruning_follows_the_size_settings(db):
    for entry_id in range(1, 5):
        _entry(id=entry_id)
    assert FeedRequest.objects.count() == 4
    _entry(id=5)
    assert sorted(FeedRequest.objects.values_list("id", flat=True)) == [3, 4, 5]


@override_settings(FEED_REQUEST_LOG_PRUNE_EVERY=2, FEED_REQUEST_LOG_KEEP_DAYS=2)
def test_pruning_follows_the_age_setting(db):
    now = timezone.now()
    _entry(id=1)
    FeedRequest.objects.filter(pk=1).update(created_at=now - timedelta(days=2, minutes=1))
    _entry(id=3)
    FeedRequest.objects.filter(pk=3).update(created_at=now - timedelta(days=1, hours=23))
    _entry(id=4)
    assert sorted(FeedRequest.objects.values_list("id", flat=True)) == [3, 4]


def test_a_process_writes_its_own_limits_with_its_first_log_row(db, monkeypatch):
    # As after a restart with a changed environment and no migrate: the row is stale.
    RequestLogPolicy.objects.update(keep_rows=7, prune_every=9)
    monkeypatch.setattr(requestlog, "_written", None)
    requestlog.feed_request_log(endpoint="orders", status=200, duration_ms=1)
    policy = RequestLogPolicy.objects.get()
    assert (policy.keep_rows, policy.prune_every) == (
        settings.FEED_REQUEST_LOG_KEEP_ROWS,
        settings.FEED_REQUEST_LOG_PRUNE_EVERY,
    )


def test_pruning_on_demand_keeps_recent_rows_and_drops_old_ones(db):
    for _ in range(3):
        requestlog.feed_request_log(endpoint="orders", status=200, duration_ms=1)
    assert requestlog.feed_requests_prune() == 0
    later = timezone.now() + timedelta(days=settings.FEED_REQUEST_LOG_KEEP_DAYS + 1)
    assert requestlog.feed_requests_prune(now=later) == 3


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
