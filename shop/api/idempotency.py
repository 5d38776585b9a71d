"""Idempotency-Key on the API's writes, with Stripe's semantics.

A POST, PUT, PATCH or DELETE under /api/v1/ may carry `Idempotency-Key: <1-255 visible ASCII
characters>`. Per key and sender (API key or staff user), for 24 hours:
- the first request claims the key by INSERTing its row (unique on sender and key) before it
  runs, so two requests with one key never both run; its answer is then stored (in the
  write's own transaction when it succeeds);
- the same key with the same method, path and body replays the stored answer, with
  `Idempotent-Replayed: true`;
- the same key with another request is a 422; while the first still runs, a 409.
A request that fails with a 5xx releases its key, so a retry runs again. A claim whose
request died without an answer (its write rolled back) is taken over after CLAIM_LAPSES.

Stored answers may hold personal data: claims prune rows past 24 hours (at most once a
minute per process), and `forget()` erases a sender's rows or those holding a text.
"""

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import exceptions, status

from .models import ApiKey, IdempotentRequest

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_FOR = timedelta(hours=24)
CLAIM_LAPSES = timedelta(minutes=5)
PATTERN = r"^[!-~]{1,255}$"
PRUNE_EVERY_SECONDS = 60.0
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_last_prune = [0.0]


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = (
        "This Idempotency-Key was sent with another request (method, path or body) in the "
        "last 24 hours: send a new key for a new request."
    )

    def __init__(self):
        super().__init__()
        self.errors = {HEADER: [str(self.detail)]}


class KeyInUse(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_use"
    default_detail = (
        "A request with this Idempotency-Key is still running: retry once it has answered."
    )

    def __init__(self):
        super().__init__()
        self.errors = {HEADER: [str(self.detail)]}


class Replay(Exception):
    """The stored answer of an earlier request with the same key and body."""

    def __init__(self, row: IdempotentRequest):
        super().__init__(row.key)
        self.row = row


def header_key(request) -> str | None:
    """The request's Idempotency-Key, None without one; a 400 naming it if malformed."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    if not 1 <= len(value) <= 255 or not all("!" <= c <= "~" for c in value):
        raise exceptions.ValidationError(
            {HEADER: ["Send 1 to 255 visible ASCII characters, e.g. a UUID."]}
        )
    return value


def principal_of(request) -> str:
    if isinstance(request.auth, ApiKey):
        return f"key:{request.auth.pk}"
    return f"user:{request.user.pk}"


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass
class Claim:
    row: IdempotentRequest


def claim(*, principal: str, key: str, fingerprint: str) -> Claim:
    """Claim the key for this request, or raise Replay, KeyReused or KeyInUse."""
    _prune_now_and_then()
    for _ in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                claimed = IdempotentRequest.objects.create(
                    principal=principal, key=key, fingerprint=fingerprint, created_at=now
                )
            return Claim(claimed)
        except IntegrityError:
            pass
        row = IdempotentRequest.objects.filter(principal=principal, key=key).first()
        if row is None:
            continue  # pruned or released meanwhile: claim again
        if row.created_at <= now - KEPT_FOR:
            IdempotentRequest.objects.filter(pk=row.pk, created_at=row.created_at).delete()
            continue
        if row.fingerprint != fingerprint:
            raise KeyReused()
        if row.status_code is not None:
            raise Replay(row)
        # A claim without an answer whose request died: its write rolled back with it.
        lapsed = IdempotentRequest.objects.filter(
            pk=row.pk, status_code__isnull=True, created_at__lte=now - CLAIM_LAPSES
        ).update(created_at=now)
        if lapsed:
            row.created_at = now
            return Claim(row)
        raise KeyInUse()
    raise KeyInUse()


def answer(claim: Claim, *, status_code: int, content_type: str, body: str) -> None:
    """Store the claimed request's answer."""
    IdempotentRequest.objects.filter(pk=claim.row.pk).update(
        status_code=status_code, content_type=content_type, body=body
    )


def release(claim: Claim) -> None:
    """Give the key back (the request failed): a retry runs again."""
    IdempotentRequest.objects.filter(pk=claim.row.pk, status_code__isnull=True).delete()


def prune(*, now=None) -> int:
    """Delete the answers past 24 hours; return how many."""
    before = (now or timezone.now()) - KEPT_FOR
    deleted, _ = IdempotentRequest.objects.filter(created_at__lte=before).delete()
    return deleted


def _prune_now_and_then() -> None:
    if time.monotonic() - _last_prune[0] >= PRUNE_EVERY_SECONDS:
        _last_prune[0] = time.monotonic()
        prune()


def forget(*, principal: str | None = None, containing: str | Iterable[str] | None = None) -> int:
    """Erase stored answers: a sender's ("key:<id>", "user:<id>"), or, of every sender, those
    whose answer holds any of the texts, in any letter case (a customer's email or phone, or
    `"customer":42` as answers are written). Return how many."""
    texts = [containing] if isinstance(containing, str) else [t for t in containing or () if t]
    if principal is None and not texts:
        raise ValueError("Name a principal or a text to erase.")
    rows = IdempotentRequest.objects.all()
    if principal is not None:
        rows = rows.filter(principal=principal)
    if texts:
        holding = Q(pk__in=[])
        for text in texts:
            holding |= Q(body__icontains=text)
        rows = rows.filter(holding)
    deleted, _ = rows.delete()
    return deleted


def forget_erased(sender, *, strong, **kwargs) -> None:
    """An erased customer's emails and phones leave every stored answer (shop/erasure.py)."""
    if strong:
        forget(containing=strong)
