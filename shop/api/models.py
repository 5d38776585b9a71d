"""API keys: how the store's own programs (ERP, scripts, apps) call the REST API."""

import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from shop.credentials import Credential

KEY_PREFIX = "sk_store_"
SCOPES = (
    ("customers.read", "Read customers"),
    ("customers.write", "Create, change, delete and restore customers"),
    ("customers.export", "Export a customer's data with their orders"),
    ("customers.erase", "Erase a customer's personal data (irreversible)"),
    ("orders.read", "Read orders"),
    ("orders.write", "Create, change, delete and restore orders"),
    ("products.read", "Read products and categories"),
    ("products.write", "Create, change, delete and restore products and categories"),
    ("webhooks.write", "List, add, change and delete webhook subscriptions"),
)
SCOPE_NAMES = frozenset(name for name, _ in SCOPES)


def validate_scopes(value) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("Give the scopes as a list of names.", code="invalid_scopes")
    unknown = sorted(set(value) - SCOPE_NAMES)
    if unknown:
        raise ValidationError(
            "Unknown scopes: %(names)s.",
            code="invalid_scopes",
            params={"names": ", ".join(unknown)},
        )


def hash_key(raw: str) -> str:
    """Return the HMAC-SHA256 of a key under API_KEY_HASH_KEY, as stored in key_hash."""
    secret = settings.API_KEY_HASH_KEY
    if not secret:
        raise RuntimeError("Set API_KEY_HASH_KEY to use API keys.")
    return hmac.new(secret.encode(), raw.encode(), hashlib.sha256).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def usable(self):
        """Keys that are neither revoked nor expired."""
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiKey(Credential):
    name = models.CharField(max_length=100, help_text="Who uses the key, e.g. “ERP sync”.")
    prefix = models.CharField(
        max_length=32,
        unique=True,
        editable=False,
        help_text="The key's first characters, to recognise it; the rest is never stored.",
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(
        default=list, validators=[validate_scopes], help_text="Scopes such as customers.read."
    )
    rate_limit = models.PositiveIntegerField(
        "rate limit",
        null=True,
        blank=True,
        help_text="Requests per minute; empty means the default.",
    )
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty means never.")

    objects = ApiKeyQuerySet.as_manager()

    class Meta(Credential.Meta):
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes or ())

    @property
    def is_usable(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class IdempotentRequest(models.Model):
    """A write sent with an Idempotency-Key: claimed before it runs, then its answer, kept
    24 hours so a retry with the same key gets the same answer (shop/api/idempotency.py).

    The answer may hold personal data: rows are pruned after 24 hours and erased on demand.
    """

    # Who sent it: "key:<API key id>" or "user:<staff user id>"; keys are theirs alone.
    principal = models.CharField(max_length=32)
    key = models.CharField(max_length=255)
    # SHA-256 of the method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    # Empty while the request runs.
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True, default="")
    body = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        verbose_name = "idempotent request"
        indexes = [models.Index(fields=["created_at"], name="idempotent_created")]
        constraints = [
            models.UniqueConstraint(fields=["principal", "key"], name="idempotent_principal_key")
        ]

    def __str__(self) -> str:
        return f"{self.principal} {self.key}"
