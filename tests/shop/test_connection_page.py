"""The converted.in connection page in the admin: base URL and steps, tokens (add, revoke,
hint, created, last used), the request log and crawl summary, and the feed preview."""

from datetime import timedelta

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice.connection import last_crawls
from feeds.builders import render_endpoint
from feeds.models import FeedRequest, FeedToken
from feeds.tokens import feed_token_create, hash_token
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

PAGE = "feeds-connection:page"
SECRET = "cv-token-0123456789-wxyz"


def _log(endpoint, page=None, per_page=None, status=200, rows=0, minutes_ago=0):
    return FeedRequest.objects.create(
        endpoint=endpoint,
        page=page,
        per_page=per_page,
        status=status,
        duration_ms=12.5,
        rows=rows,
        client_address="203.0.113.9",
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_page_shows_the_base_url_and_the_steps(admin_client, store):
    response = admin_client.get(reverse(PAGE))

    html = response.content.decode()
    assert response.status_code == 200
    assert '<code class="paste" id="base-url">http://testserver/</code>' in html
    assert "http://testserver/convertedin/orders" in html
    assert "No token yet" in html


def test_pasting_a_token_stores_only_its_hash_and_shows_its_hint(admin_client, store):
    response = admin_client.post(
        reverse("feeds-connection:token-add"),
        {"token-name": "converted.in", "token-token": f"  {SECRET} "},
        follow=True,
    )

    token = FeedToken.objects.get()
    assert (token.name, token.hint, token.digest) == ("converted.in", "wxyz", hash_token(SECRET))
    html = response.content.decode()
    assert "…wxyz" in html
    assert SECRET not in html
    assert "is active" in html


def test_a_short_or_repeated_token_is_refused_with_a_message(admin_client, store):
    feed_token_create(name="first", token=SECRET)
    for token, message in [("short", "at least"), (SECRET, "already registered")]:
        response = admin_client.post(
            reverse("feeds-connection:token-add"),
            {"token-name": "again", "token-token": token},
            follow=True,
        )
        assert message in response.content.decode()
    assert FeedToken.objects.count() == 1


def test_revoking_a_token_keeps_it_listed_as_revoked(admin_client, store):
    token = feed_token_create(name="old", token=SECRET)

    response = admin_client.post(
        reverse("feeds-connection:token-revoke", args=[token.pk]), follow=True
    )

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "revoked" in response.content.decode()


def test_token_actions_need_their_permissions(staff_client, store):
    client = staff_client("view_feedtoken")
    token = feed_token_create(name="kept", token=SECRET)

    page = client.get(reverse(PAGE)).content.decode()
    added = client.post(
        reverse("feeds-connection:token-add"), {"token-name": "x", "token-token": SECRET + "9"}
    )
    revoked = client.post(reverse("feeds-connection:token-revoke", args=[token.pk]))

    assert "Save token" not in page
    assert "Revoke</button>" not in page
    assert (added.status_code, revoked.status_code) == (403, 403)
    assert FeedToken.objects.count() == 1


def test_staff_without_feed_permissions_are_refused(staff_client, store):
    assert staff_client().get(reverse(PAGE)).status_code == 403


def test_the_page_needs_a_staff_login(client, store):
    response = client.get(reverse(PAGE))
    assert response.status_code == 302
    assert reverse("admin:login") in response.url


def test_recent_requests_are_listed_newest_first_without_any_token(admin_client, store):
    token = feed_token_create(name="cv", token=SECRET)
    entry = _log("orders", page=3, per_page=100, rows=100)
    entry.token = token
    entry.save()
    _log("customers", status=401, minutes_ago=0)

    response = admin_client.get(reverse(PAGE))

    recent = response.context["recent"]
    assert [r.endpoint for r in recent] == ["customers", "orders"]
    html = response.content.decode()
    assert "203.0.113.9" in html
    assert "cv …wxyz" in html
    assert SECRET not in html


def test_a_crawl_is_summarised_from_its_first_page_to_its_short_last_page(store):
    # An older complete crawl of orders, then one under way.
    _log("orders", page=1, per_page=100, rows=100, minutes_ago=60)
    _log("orders", page=2, per_page=100, rows=100, minutes_ago=59)
    _log("orders", page=2, per_page=100, status=500, minutes_ago=59)
    _log("orders", page=3, per_page=100, rows=42, minutes_ago=58)
    _log("orders", page=1, per_page=100, rows=100, minutes_ago=5)
    _log("orders", page=2, per_page=100, rows=100, minutes_ago=4)
    _log("storeinfo", rows=1, minutes_ago=1)

    crawls = last_crawls()

    done = crawls["orders"]["complete"]
    assert (done.pages, done.rows, done.errors, done.requests) == (3, 242, 1, 4)
    assert crawls["orders"]["current"].pages == 2
    assert crawls["storeinfo"]["complete"].rows == 1
    assert crawls["customers"] == {"complete": None, "current": None}


def test_a_crawl_whose_last_page_is_full_is_complete_when_it_brought_every_row(store):
    OrderFactory()
    OrderFactory()
    _log("orders", page=1, per_page=1, rows=1)
    _log("orders", page=2, per_page=1, rows=1)

    crawl = last_crawls()["orders"]["complete"]

    assert (crawl.pages, crawl.rows) == (2, 2)


def test_calls_per_hour_chart_counts_calls_and_failures(admin_client, store):
    _log("orders", page=1, per_page=100, rows=3)
    _log("orders", status=401)
    _log("orders", page=1, per_page=100, rows=3, minutes_ago=60 * 50)  # Outside 48 hours.

    chart = admin_client.get(reverse(PAGE)).context["chart"]

    assert len(chart.bars) == 48
    assert chart.bars[-1].title.endswith("2 calls, 1 failed")


def test_preview_shows_page_one_of_an_endpoint_as_the_crawler_gets_it(admin_client, store):
    order = OrderFactory(items=2)

    response = admin_client.get(reverse(PAGE), {"preview": "orders"})

    shown = orjson.loads(response.context["preview_json"])
    assert shown == orjson.loads(render_endpoint("orders"))
    assert shown["data"][0]["id"] == order.pk
    assert len(shown["data"][0]["line_items"]) == 2
    assert FeedRequest.objects.count() == 0  # A preview is not a feed call.


def test_preview_raw_bytes_are_the_feed_answer(admin_client, store):
    OrderFactory()
    response = admin_client.get(reverse("feeds-connection:preview", args=["customers"]))
    assert response["Content-Type"] == "application/json"
    assert response.content == render_endpoint("customers")


def test_preview_needs_the_permission_to_view_those_records(staff_client, store):
    client = staff_client("view_feedrequest")

    page = client.get(reverse(PAGE), {"preview": "customers"})
    raw = client.get(reverse("feeds-connection:preview", args=["customers"]))

    assert "preview_json" not in page.context
    assert raw.status_code == 403


def test_dashboard_links_to_the_connection_page(admin_client, store):
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse(PAGE)}"' in html


def test_page_queries_do_not_grow_with_the_log(admin_client, store, django_assert_num_queries):
    feed_token_create(name="cv", token=SECRET)
    for endpoint in ("storeinfo", "categories", "products", "customers", "orders"):
        _log(endpoint, page=None if endpoint == "storeinfo" else 1, per_page=100, rows=1)
    admin_client.get(reverse(PAGE))
    with CaptureQueriesContext(connection) as few:
        admin_client.get(reverse(PAGE))
    for number in range(2, 80):
        _log("orders", page=number, per_page=100, rows=100)
    _log("orders", page=80, per_page=100, rows=7)

    with django_assert_num_queries(len(few.captured_queries)):
        response = admin_client.get(reverse(PAGE))
    assert response.context["crawls"]["orders"]["complete"].pages == 80
