"""The feed's request log: one row per request, bounded in age and size by settings.

The upkeep rides on each row's INSERT, so a feed request still costs three statements: database
triggers (feeds/migrations/0005_request_log_policy.py) write the token's last_used_at at most
every FEED_TOKEN_TOUCH_SECONDS, and on every FEED_REQUEST_LOG_PRUNE_EVERY-th row (by id) delete
rows older than FEED_REQUEST_LOG_KEEP_DAYS and all but the newest FEED_REQUEST_LOG_KEEP_ROWS.

The settings are the one home of those numbers. The triggers read them from the single row of
RequestLogPolicy, which the app writes from its settings after `migrate` (and `flush`), when a
test changes one, and on a process's first log row when its settings differ from what it last
wrote (a restart with a new environment and no migrate). Triggers rather than Python, because
SQLite runs one statement at a time: only a trigger prunes or touches inside the INSERT. A row
rather than numbers in the trigger's SQL, because then a change of setting needs no migration.
`feed_requests_prune` prunes by the same settings on demand.
"""

import logging
from datetime import timedelta

from django.apps import apps as global_apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection
from django.db.models import Q
from django.utils import timezone

from .models import FeedRequest, RequestLogPolicy

logger = logging.getLogger(__name__)

POLICY_SETTINGS = {
    "keep_days": "FEED_REQUEST_LOG_KEEP_DAYS",
    "keep_rows": "FEED_REQUEST_LOG_KEEP_ROWS",
    "prune_every": "FEED_REQUEST_LOG_PRUNE_EVERY",
    "touch_seconds": "FEED_TOKEN_TOUCH_SECONDS",
}
# The policy this process last wrote to the database.
_written: dict | None = None


def request_log_policy() -> dict:
    """Return the request log's limits as the settings give them."""
    return {field: getattr(settings, name) for field, name in POLICY_SETTINGS.items()}


def request_log_policy_save(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """Write the settings' limits into the row the triggers read, in one statement."""
    global _written
    policy = request_log_policy()
    RequestLogPolicy.objects.using(using).bulk_create(
        [RequestLogPolicy(id=1, **policy)],
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=list(policy),
    )
    _written = policy


def policy_after_migrate(sender, *, using: str, apps=global_apps, **kwargs) -> None:
    """Write the limits after `migrate` (and `flush`), unless migrated back before them."""
    try:
        apps.get_model("feeds", "RequestLogPolicy")
    except LookupError:
        return
    request_log_policy_save(using=using)


def policy_after_setting_changed(sender, *, setting: str, **kwargs) -> None:
    if setting in POLICY_SETTINGS.values():
        request_log_policy_save()


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
        if _written != request_log_policy():
            request_log_policy_save()
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
    """Delete rows past the age and size limits; return how many."""
    now = now or timezone.now()
    newest = FeedRequest.objects.order_by("-id").values_list("id", flat=True).first() or 0
    expired = Q(created_at__lt=now - timedelta(days=settings.FEED_REQUEST_LOG_KEEP_DAYS)) | Q(
        id__lte=newest - settings.FEED_REQUEST_LOG_KEEP_ROWS
    )
    deleted, _ = FeedRequest.objects.filter(expired).delete()
    return deleted
