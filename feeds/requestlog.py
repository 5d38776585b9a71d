"""The feed's request log: one row per request, bounded in age and size, pruned as it grows."""

import logging
from datetime import timedelta

from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone

from .models import FeedRequest

logger = logging.getLogger(__name__)

KEEP_DAYS = 30
KEEP_ROWS = 100_000
# Pruning runs on every PRUNE_EVERY-th row (by id), so whichever process writes that row
# prunes, and requests in between pay nothing for it.
PRUNE_EVERY = 500


def feed_request_log(
    *,
    endpoint: str,
    status: int,
    duration_ms: float,
    page: int | None = None,
    per_page: int | None = None,
    rows: int = 0,
    client_address: str | None = None,
    token_id: int | None = None,
) -> FeedRequest | None:
    """Record one feed request; a failure to log never fails the request."""
    try:
        entry = FeedRequest.objects.create(
            endpoint=endpoint[:32],
            page=page,
            per_page=per_page,
            status=status,
            duration_ms=round(duration_ms, 3),
            rows=rows,
            client_address=client_address,
            token_id=token_id,
            created_at=timezone.now(),
        )
    except DatabaseError:
        logger.warning("Could not record a feed request to %s.", endpoint, exc_info=True)
        return None
    if entry.pk % PRUNE_EVERY == 0:
        feed_requests_prune(newest_id=entry.pk)
    return entry


def feed_requests_prune(*, newest_id: int | None = None, now=None) -> int:
    """Delete rows older than KEEP_DAYS and all but the newest KEEP_ROWS; return how many."""
    now = now or timezone.now()
    if newest_id is None:
        newest_id = FeedRequest.objects.order_by("-id").values_list("id", flat=True).first() or 0
    expired = Q(created_at__lt=now - timedelta(days=KEEP_DAYS)) | Q(id__lte=newest_id - KEEP_ROWS)
    deleted, _ = FeedRequest.objects.filter(expired).delete()
    return deleted
