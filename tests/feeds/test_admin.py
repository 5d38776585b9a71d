"""The admin for feed tokens and the request log."""

import pytest
from django.urls import reverse

from feeds.models import FeedRequest, FeedToken
from feeds.tokens import hash_token

from .conftest import TOKEN

pytestmark = pytest.mark.django_db


def test_adding_a_token_in_the_admin_stores_only_its_hash_and_hint(admin_client, store):
    response = admin_client.post(
        reverse("admin:feeds_feedtoken_add"), {"name": "converted.in", "token": f" {TOKEN} "}
    )
    assert response.status_code == 302
    row = FeedToken.objects.get()
    assert (row.name, row.hint, row.digest) == ("converted.in", TOKEN[-4:], hash_token(TOKEN))
    assert admin_client.post("/convertedin/storeinfo", {"token": TOKEN}).status_code == 200


def test_the_admin_refuses_a_short_or_repeated_token(admin_client, feed_token):
    url = reverse("admin:feeds_feedtoken_add")
    short = admin_client.post(url, {"name": "x", "token": "short"})
    again = admin_client.post(url, {"name": "x", "token": TOKEN})
    assert short.status_code == again.status_code == 200
    assert "at least" in short.content.decode()
    assert "already registered" in again.content.decode()
    assert FeedToken.objects.count() == 1


def test_the_admin_never_shows_the_token(admin_client, feed_token):
    admin_client.post("/convertedin/storeinfo", {"token": TOKEN})
    pages = [
        admin_client.get(reverse("admin:feeds_feedtoken_changelist")),
        admin_client.get(reverse("admin:feeds_feedtoken_change", args=[feed_token.pk])),
        admin_client.get(reverse("admin:feeds_feedtoken_add")),
        admin_client.get(reverse("admin:feeds_feedrequest_changelist")),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert TOKEN not in html
        assert feed_token.digest not in html
    listing = pages[0].content.decode()
    assert f"…{TOKEN[-4:]}" in listing
    assert "active" in listing


def test_the_revoke_action_revokes_and_the_feed_then_refuses_the_token(admin_client, feed_token):
    response = admin_client.post(
        reverse("admin:feeds_feedtoken_changelist"),
        {"action": "revoke_selected", "_selected_action": [feed_token.pk]},
        follow=True,
    )
    assert "Revoked 1 token." in response.content.decode()
    feed_token.refresh_from_db()
    assert feed_token.revoked_at is not None
    assert admin_client.post("/convertedin/storeinfo", {"token": TOKEN}).status_code == 401


def test_tokens_cannot_be_deleted_and_the_log_is_read_only(admin_client, feed_token):
    delete = reverse("admin:feeds_feedtoken_delete", args=[feed_token.pk])
    assert admin_client.get(delete).status_code == 403
    assert admin_client.get(reverse("admin:feeds_feedrequest_add")).status_code == 403
    admin_client.post("/convertedin/storeinfo", {"token": TOKEN})
    entry = FeedRequest.objects.get()
    page = admin_client.get(reverse("admin:feeds_feedrequest_change", args=[entry.pk]))
    assert page.status_code == 200
