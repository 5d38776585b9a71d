"""Feed tokens: kept as HMAC-SHA256 under settings.FEED_TOKEN_HASH_KEY, checked in constant time.

A token's last_used_at is a hint for the admin, not an audit trail: it is written at most every
settings.FEED_TOKEN_TOUCH_SECONDS, by a trigger when the request log records a request the
token authenticated (see feeds/requestlog.py), so it costs a feed request no query.
"""

import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError, transaction

from shop.credentials import credential_revoke

from .models import FeedToken

MIN_LENGTH = 12
MAX_LENGTH = 512


def hash_token(token: str) -> str:
    """Return the keyed hash under which a token is stored."""
    key = settings.FEED_TOKEN_HASH_KEY
    if not key:
        raise ImproperlyConfigured("Set FEED_TOKEN_HASH_KEY to store or check feed tokens.")
    return hmac.new(key.encode(), token.encode(), hashlib.sha256).hexdigest()


def _storable(token: str) -> bool:
    """False for text that has no UTF-8 form (a lone surrogate from a JSON `\\ud800`)."""
    try:
        token.encode()
    except UnicodeEncodeError:
        return False
    return True


def feed_token_check(token: str) -> str:
    """Return the token stripped; raise ValidationError if unfit or already registered."""
    token = (token or "").strip()
    if not _storable(token):
        raise ValidationError(
            {"token": "The token holds a character that is not valid text."}, code="unencodable"
        )
    if len(token) < MIN_LENGTH:
        raise ValidationError(
            {"token": f"A token has at least {MIN_LENGTH} characters."}, code="too_short"
        )
    if len(token) > MAX_LENGTH:
        raise ValidationError(
            {"token": f"A token has at most {MAX_LENGTH} characters."}, code="too_long"
        )
    if any(ch.isspace() for ch in token):
        raise ValidationError({"token": "A token has no spaces."}, code="space")
    if FeedToken.objects.filter(digest=hash_token(token)).exists():
        raise ValidationError({"token": "This token is already registered."}, code="unique")
    return token


@transaction.atomic
def feed_token_create(*, name: str, token: str) -> FeedToken:
    """Store a token converted.in gave the merchant, as a keyed hash and a 4-character hint."""
    token = feed_token_check(token)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the token a name."}, code="required")
    row = FeedToken(name=name[:100], digest=hash_token(token), hint=token[-4:])
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError as exc:
        raise ValidationError({"token": "This token is already registered."}) from exc
    return row


def feed_token_revoke(*, token: FeedToken) -> FeedToken:
    """Revoke a token; its requests are refused from now on. A no-op when already revoked."""
    return credential_revoke(token)


def feed_token_match(token) -> int | None:
    """Return the id of the active token equal to `token`, or None (also for a value that is
    not text, or text no token can be).

    Every active token is compared in constant time, so neither a wrong token nor a revoked
    one answers faster than a right one. One query, whatever the token.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_LENGTH or not _storable(token):
        # Still one query, so a missing or unreadable token costs what a wrong one costs.
        list(FeedToken.objects.filter(revoked_at__isnull=True).values_list("id"))
        return None
    digest = hash_token(token.strip())
    found = None
    rows = FeedToken.objects.filter(revoked_at__isnull=True).values_list("id", "digest")
    for token_id, stored in rows:
        if hmac.compare_digest(stored, digest) and found is None:
            found = token_id
    return found
