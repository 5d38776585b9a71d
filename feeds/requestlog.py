"""The feed's request log: one row per request, bounded in age and size.

Pruning runs in the database, by a trigger on every PRUNE_EVERY-th row (by id)
(feeds/migrations/0003_request_log_triggers.py): whichever process writes that row prunes, and
no request pays an extra statement for it. `feed_requests_prune` does the same on demand.
"""

import logging
from datetime import timedelta

from django.db import DatabaseError, connection
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
    entry = FeedRequest(
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
    try:
        if connection.vendor == "postgresql":
            entry.pk = _insert_without_waiting_for_disk(entry)
        else:
            entry.save(force_insert=True)
    except DatabaseError:
        logger.warning("Could not record a feed request to %s.", endpoint, exc_info=True)
        return None
    return entry


def _insert_without_waiting_for_disk(entry: FeedRequest) -> int:
    """INSERT the row in a transaction that commits without waiting for the WAL flush.

    A log row is not worth an fsync on every feed request: after a crash PostgreSQL may lose
    the last few rows, never corrupt anything. set_config(..., true) is local to the
    statement's own transaction, so other writes keep synchronous commits. One statement.
    """
    fields = [f for f in FeedRequest._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = [f.get_db_prep_save(getattr(entry, f.attname), connection) for f in fields]
    marks = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(FeedRequest._meta.db_table)} ({columns}) "
            f"SELECT {marks} FROM (SELECT set_config('synchronous_commit', 'off', true)) AS s "
            "RETURNING id",
            values,
        )
        return cursor.fetchone()[0]


def feed_requests_prune(*, now=None) -> int:
    """Delete rows older than KEEP_DAYS and all but the newest KEEP_ROWS; return how many."""
    now = now or timezone.now()
    newest = FeedRequest.objects.order_by("-id").values_list("id", flat=True).first() or 0
    expired = Q(created_at__lt=now - timedelta(days=KEEP_DAYS)) | Q(id__lte=newest - KEEP_ROWS)
    deleted, _ = FeedRequest.objects.filter(expired).delete()
    return deleted
