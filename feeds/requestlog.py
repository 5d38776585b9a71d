"""The feed's request log: one row per request, bounded in age and size.

Pruning runs in the database, by a trigger on every PRUNE_EVERY-th row (by id)
(feeds/migrations/0003_request_log_triggers.py): whichever process writes that row prunes, and
no request pays an extra statement for it. `feed_requests_prune` does the same on demand.
"""

import logging
from datetime import timedelta

from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone

from .models import FeedRequest

logger = logging.getLogger(__name__)

KEEP_DAYS = 30
KEEP_ROWS = 100_000
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
        return FeedRequest.objects.create(
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


def feed_requests_prune(*, now=None) -> int:
    """Delete rows older than KEEP_DAYS and all but the newest KEEP_ROWS; return how many."""
    now = now or timezone.now()
    newest = FeedRequest.objects.order_by("-id").values_list("id", flat=True).first() or 0
    expired = Q(created_at__lt=now - timedelta(days=KEEP_DAYS)) | Q(id__lte=newest - KEEP_ROWS)
    deleted, _ = FeedRequest.objects.filter(expired).delete()
    return deleted
