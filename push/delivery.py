"""Deliver waiting push events to converted.in: claim, build, POST, record the answer.

Claims are serialised by a lock on the single PushState row (brief: a few statements), so two
workers never claim events of the same record; each event row is also taken with
`select_for_update(skip_locked=True)`. The HTTP request runs outside any transaction. An event
whose worker died is claimed again when its claim lapses (due_at).

All waiting events of a record go out as one push of the record's item as it is now: the body
is built at delivery time, so no older state can follow a newer one.
"""

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import orjson
import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from feeds.builders import record_item
from shop.models import Store

from .models import PushEvent, PushState
from .outbox import TOPIC_PREFIX
from .tokens import push_token

logger = logging.getLogger(__name__)
Status = PushEvent.Status

# One session per process: connections to converted.in are kept alive between pushes.
SESSION = requests.Session()


@dataclass
class Batch:
    """The waiting events of one record, sent as one push."""

    entity: str
    record_id: int
    ids: list[int] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    attempts: int = 0

    @property
    def action(self) -> str:
        last = self.actions[-1]
        return "create" if last == "update" and "create" in self.actions else last

    @property
    def topic(self) -> str:
        return f"{TOPIC_PREFIX[self.entity]}/{self.action}"


def _claim(limit: int) -> tuple[list[Batch], str | None, Store | None]:
    now = timezone.now()
    waiting = PushEvent.objects.filter(status__in=[Status.PENDING, Status.SENDING], due_at__lte=now)
    if not waiting.exists():
        # Idle: a plain read, so polling takes no write lock (SQLite begins IMMEDIATE).
        return [], None, None
    with transaction.atomic():
        PushState.load()
        state = PushState.objects.select_for_update().get(pk=1)
        token = push_token(state)
        if state.paused or token is None:
            return [], None, None
        due = (
            PushEvent.objects.select_for_update(skip_locked=True)
            .filter(status__in=[Status.PENDING, Status.SENDING], due_at__lte=now)
            .order_by("id")
            .values_list("entity", "record_id")[:limit]
        )
        records = list(dict.fromkeys(due))
        if not records:
            return [], token, None
        wanted = Q()
        for entity, record_id in records:
            wanted |= Q(entity=entity, record_id=record_id)
        rows = list(
            PushEvent.objects.select_for_update(skip_locked=True)
            .filter(wanted, status__in=[Status.PENDING, Status.SENDING])
            .order_by("id")
            .values_list("id", "entity", "record_id", "action", "status", "due_at", "attempts")
        )
        batches: dict[tuple[str, int], Batch] = {}
        busy = set()
        for pk, entity, record_id, action, status, due_at, attempts in rows:
            key = (entity, record_id)
            if status == Status.SENDING and due_at > now:
                busy.add(key)  # another worker is sending this record now
            batch = batches.setdefault(key, Batch(entity, record_id))
            batch.ids.append(pk)
            batch.actions.append(action)
            batch.attempts = max(batch.attempts, attempts)
        chosen = [batch for key, batch in batches.items() if key not in busy]
        lease = now + timedelta(seconds=settings.PUSH_CLAIM_SECONDS)
        PushEvent.objects.filter(id__in=[pk for b in chosen for pk in b.ids]).update(
            status=Status.SENDING, due_at=lease
        )
    return chosen, token, Store.load()


def retry_delay(attempt: int, retry_after: float | None) -> float | None:
    """Seconds before try `attempt + 1`, with jitter; None once the delays are used up."""
    delays = settings.CONVERTEDIN_PUSH_RETRY_DELAYS
    if attempt > len(delays):
        return None
    delay = delays[attempt - 1] * random.uniform(0.8, 1.2)  # noqa: S311
    return max(delay, retry_after or 0)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
        except (TypeError, ValueError):
            return None


def _send(batch: Batch, token: str, store: Store) -> None:
    events = PushEvent.objects.filter(id__in=batch.ids)
    item = record_item(batch.entity, batch.record_id, store=store)
    if item is None:
        events.update(
            status=Status.FAILED,
            topic=batch.topic,
            last_error="The record no longer exists.",
            finished_at=timezone.now(),
        )
        return
    url = settings.CONVERTEDIN_WEBHOOK_URL + batch.topic
    headers = {
        "Content-Type": "application/json",
        "token": token,
        "X-Shop-Domain": urlsplit(store.base_url).hostname or "",
    }
    attempt = batch.attempts + 1
    started = time.perf_counter()
    response = None
    error = ""
    try:
        response = SESSION.post(
            url,
            data=orjson.dumps(item),
            headers=headers,
            timeout=(settings.PUSH_CONNECT_TIMEOUT, settings.PUSH_READ_TIMEOUT),
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000].replace(token, "…")
    duration = (time.perf_counter() - started) * 1000
    now = timezone.now()
    common = {"topic": batch.topic, "attempts": attempt, "duration_ms": duration}
    if response is not None:
        common["last_status"] = response.status_code
        code = response.status_code
        if 200 <= code < 300:
            events.update(status=Status.DELIVERED, last_error="", finished_at=now, **common)
            return
        error = response.text[:2000]
        if code in (401, 403):
            # Not this event's fault: it waits, untried, until the token is fixed.
            events.update(status=Status.PENDING, due_at=now, last_error=error, **common)
            events.update(attempts=batch.attempts)
            PushState.objects.filter(pk=1).update(
                paused=PushState.Pause.REFUSED, paused_at=now, paused_detail=f"HTTP {code}"
            )
            return
        if code != 429 and code < 500:
            events.update(status=Status.FAILED, last_error=error, finished_at=now, **common)
            return
    delay = retry_delay(attempt, _retry_after(response) if response is not None else None)
    if delay is None:
        events.update(status=Status.FAILED, last_error=error, finished_at=now, **common)
    else:
        events.update(
            status=Status.PENDING,
            due_at=now + timedelta(seconds=delay),
            last_error=error,
            **common,
        )


def deliver_due(*, limit: int = 100) -> int:
    """Send every claimable record's push once; return how many pushes were tried."""
    batches, token, store = _claim(limit)
    for batch in batches:
        assert token is not None
        assert store is not None
        _send(batch, token, store)
    return len(batches)


def prune() -> int:
    """Delete delivered events older than PUSH_KEEP_DAYS, like the feed's request log."""
    cutoff = timezone.now() - timedelta(days=settings.PUSH_KEEP_DAYS)
    deleted, _ = PushEvent.objects.filter(status=Status.DELIVERED, finished_at__lt=cutoff).delete()
    return deleted
