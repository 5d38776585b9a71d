"""The converted.in token pushes carry, kept encrypted at rest (Fernet, rotatable keys).

The feed keeps only a keyed hash of each token; pushing needs the token itself, so the newest
active token is also kept here, encrypted under settings.PUSH_TOKEN_KEYS (the first key
encrypts, every key decrypts: add a new key first, run `push_token rotate`, drop the old).
It is never shown again and never logged.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from feeds.models import FeedToken
from feeds.tokens import feed_token_create, hash_token

from .models import PushState, WebhookSubscription


def _fernet() -> MultiFernet:
    keys = list(settings.PUSH_TOKEN_KEYS)
    if not keys:
        # Without keys (like FEED_TOKEN_HASH_KEY in production): one derived from SECRET_KEY.
        digest = hashlib.sha256(settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key) for key in keys])


@transaction.atomic
def push_token_store(*, token_row: FeedToken, token: str) -> None:
    """Keep `token` (the one `token_row` stores as a hash) as the token pushes carry."""
    if hash_token(token.strip()) != token_row.digest:
        raise ValidationError({"token": "This is not the token registered."}, code="mismatch")
    state = PushState.objects.select_for_update().get(pk=PushState.load().pk)
    state.token = token_row
    state.token_ciphertext = _fernet().encrypt(token.strip().encode()).decode()
    if state.paused == PushState.Pause.REFUSED:
        state.paused, state.paused_at, state.paused_detail = "", None, ""
    state.save()


@transaction.atomic
def convertedin_token_add(*, name: str, token: str) -> FeedToken:
    """Register a token converted.in gave the merchant: the feed's keyed hash and the copy
    pushes carry, both or neither. Every door that adds a token calls this."""
    row = feed_token_create(name=name, token=token)
    push_token_store(token_row=row, token=token)
    return row


def push_token_paste(*, token: str) -> FeedToken:
    """Keep a token pasted again: it must be the newest active feed token."""
    newest = FeedToken.objects.filter(revoked_at__isnull=True).order_by("-created_at", "-id")
    row = newest.first()
    if row is None:
        raise ValidationError({"token": "Add a token first."}, code="none")
    push_token_store(token_row=row, token=token)
    return row


def push_token(state: PushState) -> str | None:
    """Return the token to push with, or None: none kept, or its feed token is revoked."""
    if not state.token_ciphertext or state.token_id is None:
        return None
    if not FeedToken.objects.filter(pk=state.token_id, revoked_at__isnull=True).exists():
        return None
    try:
        return _fernet().decrypt(state.token_ciphertext.encode()).decode()
    except InvalidToken:
        return None


def push_token_missing() -> bool:
    """True when an active feed token exists but pushes have no usable copy of the newest."""
    newest = FeedToken.objects.filter(revoked_at__isnull=True).order_by("-created_at", "-id")
    row = newest.first()
    if row is None:
        return False
    state = PushState.load()
    return state.token_id != row.pk or not state.token_ciphertext


def push_token_rotate() -> None:
    """Encrypt the kept token, and the webhook subscriptions' secrets, again under the first
    key of PUSH_TOKEN_KEYS."""
    state = PushState.load()
    if state.token_ciphertext:
        state.token_ciphertext = _fernet().rotate(state.token_ciphertext.encode()).decode()
        state.save(update_fields=["token_ciphertext"])
    for subscription in WebhookSubscription.objects.order_by("id"):
        subscription.secret_ciphertext = (
            _fernet().rotate(subscription.secret_ciphertext.encode()).decode()
        )
        subscription.save(update_fields=["secret_ciphertext"])
