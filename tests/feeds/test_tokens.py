"""Feed tokens: keyed hashes, hints, rotation, revocation, last use, the shell command."""

import hashlib
import io
import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from feeds.authentication import FeedTokenAuthentication
from feeds.models import FeedToken
from feeds.parsers import (
    FeedContentNegotiation,
    FeedFormParser,
    FeedJSONParser,
    FeedMultiPartParser,
)
from feeds.tokens import feed_token_create, feed_token_match, hash_token

from .conftest import TOKEN

pytestmark = pytest.mark.django_db


def test_a_token_is_stored_as_a_keyed_hash_with_a_four_character_hint(db):
    row = feed_token_create(name="converted.in", token=f"  {TOKEN} ")
    assert row.hint == TOKEN[-4:]
    assert row.digest == hash_token(TOKEN)
    assert row.digest != hashlib.sha256(TOKEN.encode()).hexdigest()


def test_a_database_dump_reveals_no_usable_token(db):
    feed_token_create(name="converted.in", token=TOKEN)
    Client().post("/convertedin/storeinfo", {"token": TOKEN})
    out = io.StringIO()
    call_command("dumpdata", "feeds", stdout=out)
    dump = out.getvalue()
    assert TOKEN not in dump
    assert TOKEN[:-4] not in dump
    assert hashlib.sha256(TOKEN.encode()).hexdigest() not in dump
    assert json.loads(dump)  # the rows are there, only the token is not


def test_the_same_digest_needs_the_same_key(db):
    with override_settings(FEED_TOKEN_HASH_KEY="another-key"):
        other = hash_token(TOKEN)
    assert other != hash_token(TOKEN)


@pytest.mark.parametrize("token", ["", "short", "has space in it 12345", "x" * 513])
def test_unfit_tokens_are_refused(db, token):
    with pytest.raises(ValidationError):
        feed_token_create(name="x", token=token)


def test_a_token_that_is_not_valid_text_is_refused_and_never_matches(db):
    with pytest.raises(ValidationError, match="not valid text"):
        feed_token_create(name="x", token="cvin-\ud800-0123456789")
    assert FeedToken.objects.count() == 0
    feed_token_create(name="a", token=TOKEN)
    assert feed_token_match(TOKEN + "\udfff") is None


def test_a_token_can_be_registered_once(db):
    feed_token_create(name="a", token=TOKEN)
    with pytest.raises(ValidationError, match="already registered"):
        feed_token_create(name="b", token=TOKEN)


def test_last_used_at_is_written_at_most_once_a_minute(feed, django_assert_num_queries):
    touch_every = timedelta(seconds=settings.FEED_TOKEN_TOUCH_SECONDS)
    assert touch_every == timedelta(minutes=1)
    assert FeedToken.objects.get().last_used_at is None
    with django_assert_num_queries(3):  # token, page, log row (which touches the token)
        feed.post("orders")
    first = FeedToken.objects.get().last_used_at
    assert first is not None
    feed.post("orders")
    assert FeedToken.objects.get().last_used_at == first
    FeedToken.objects.update(last_used_at=timezone.now() - touch_every - timedelta(seconds=1))
    stale = FeedToken.objects.get().last_used_at
    with django_assert_num_queries(3):
        feed.post("orders")
    assert FeedToken.objects.get().last_used_at > stale
    FeedToken.objects.update(last_used_at=timezone.now() - touch_every + timedelta(seconds=5))
    recent = FeedToken.objects.get().last_used_at
    feed.post("orders")
    assert FeedToken.objects.get().last_used_at == recent


def test_a_failed_request_does_not_touch_any_token(feed):
    feed.post("orders", token="wrong-token-123456789")
    assert FeedToken.objects.get().last_used_at is None


@override_settings(FEED_TOKEN_TOUCH_SECONDS=3600)
def test_last_used_at_follows_the_touch_setting(feed):
    an_hour_ago = timezone.now() - timedelta(minutes=59)
    FeedToken.objects.update(last_used_at=an_hour_ago)
    feed.post("orders")
    assert FeedToken.objects.get().last_used_at == an_hour_ago
    FeedToken.objects.update(last_used_at=an_hour_ago - timedelta(minutes=2))
    feed.post("orders")
    assert FeedToken.objects.get().last_used_at > an_hour_ago


def _request(data: dict, format: str = "multipart") -> Request:
    """A DRF request for the feed, parsed as the feed's views parse it."""
    django_request = APIRequestFactory().post("/convertedin/orders", data, format=format)
    parsers = [FeedJSONParser(), FeedFormParser(), FeedMultiPartParser()]
    return Request(django_request, parsers=parsers, negotiator=FeedContentNegotiation())


def test_checking_a_token_is_one_read(feed_token, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert feed_token_match(TOKEN) == feed_token.pk


def test_a_wrong_token_costs_one_query_like_a_right_one(feed_token, django_assert_num_queries):
    for token in (None, "", "wrong-token-value-123", 42):
        with django_assert_num_queries(1):
            assert feed_token_match(token) is None


def test_the_authentication_class_reads_the_token_from_the_body(feed_token):
    auth = FeedTokenAuthentication()
    client, token_id = auth.authenticate(_request({"token": TOKEN}, "json"))
    assert token_id == feed_token.pk
    assert str(client) == f"feed token {feed_token.pk}"
    assert client.is_authenticated
    assert auth.authenticate(_request({"token": "wrong-token-value-123"})) is None
    assert auth.authenticate_header(_request({})) == 'Token realm="convertedin"'


def test_feed_token_command_adds_lists_and_revokes(db):
    out = io.StringIO()
    call_command("feed_token", "add", "--name", "converted.in", "--token", TOKEN, stdout=out)
    row = FeedToken.objects.get()
    assert f"…{TOKEN[-4:]}" in out.getvalue()
    call_command("feed_token", "list", stdout=out)
    assert TOKEN not in out.getvalue()
    assert "active" in out.getvalue()
    call_command("feed_token", "revoke", str(row.pk), stdout=out)
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert Client().post("/convertedin/storeinfo", {"token": TOKEN}).status_code == 401


def test_feed_token_command_reports_bad_input(db):
    with pytest.raises(CommandError, match="at least"):
        call_command("feed_token", "add", "--name", "x", "--token", "short")
    with pytest.raises(CommandError, match="No token"):
        call_command("feed_token", "revoke", "999")
