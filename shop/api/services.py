"""Writes to API keys: create (returning the key once), revoke, record use."""

import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from shop.credentials import credential_revoke

from .models import KEY_PREFIX, ApiKey, hash_key

# Recording every request's time would be a write per request; once a minute is enough.
LAST_USED_PRECISION = timedelta(minutes=1)


def generate_key() -> tuple[str, str]:
    """Return a new key and its prefix: sk_store_<8 chars>_<43 chars of secret>."""
    public = secrets.token_hex(4)
    raw = f"{KEY_PREFIX}{public}_{secrets.token_urlsafe(32)}"
    return raw, f"{KEY_PREFIX}{public}"


@transaction.atomic
def api_key_create(
    *,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    rate_limit: int | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; return it with the raw key, which is never stored and shown only now."""
    raw, prefix = generate_key()
    api_key = ApiKey(
        name=(name or "").strip(),
        prefix=prefix,
        key_hash=hash_key(raw),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        rate_limit=rate_limit,
    )
    api_key.full_clean()
    api_key.save()
    return api_key, raw


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    return credential_revoke(api_key)


def api_key_record_use(*, api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


API_KEY_FIELDS = frozenset({"name", "scopes", "expires_at", "rate_limit"})


@transaction.atomic
def api_key_update(*, api_key: ApiKey, **data) -> ApiKey:
    unknown = set(data) - API_KEY_FIELDS
    if unknown:
        raise ValueError(f"Cannot set {', '.join(sorted(unknown))} on an API key.")
    for name, value in data.items():
        setattr(api_key, name, sorted(set(value)) if name == "scopes" else value)
    api_key.full_clean()
    api_key.save()
    return api_key
