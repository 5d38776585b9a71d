"""What the feed's tokens and the REST API's keys share: a named secret, stored only as a keyed
hash, revoked rather than deleted, its last use noted."""

from typing import TypeVar

from django.db import models
from django.utils import timezone


class Credential(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True
        ordering = ["id"]


C = TypeVar("C", bound=Credential)


def credential_revoke(credential: C) -> C:
    """Revoke a token or key; it is refused from now on. A no-op when already revoked."""
    if credential.revoked_at is None:
        credential.revoked_at = timezone.now()
        credential.save(update_fields=["revoked_at"])
    return credential
