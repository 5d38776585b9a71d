"""Deliver waiting push events to converted.in: claim, build, POST, record the answer.

Claims are serialised by a lock on the single PushState row (brief: a few statements), so two
workers never claim events of the same record; each event row is also taken with
`select_for_update(skip_locked=True)`. The HTTP request runs outside any transaction. An event
whose worker died is claimed again when its claim lapses (due_at).

All waiting events of a record go out as one push of the record's item as it is now: the body
is built at delivery time, so no older state can follow a newer one. The latest of them carries
the push; the others point at it (`carried_by`), so the delivery log shows one row a push.

Each push ends by PUSH_DEADLINE_SECONDS whatever the receiver does (push/http.py), and only
starts if that is well inside its claim. Whatever goes wrong building or sending one push is
that push's failure, kept on its events in words and retried; the other pushes go on.
"""

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Concat
from django.utils import timezone

from feeds.builders import record_item
from shop.models import Store

from . import http
from .models import PushEvent, PushState
from .outbox import TOPIC_PREFIX
from .tokens import push_token

logger = logging.getLogger(__name__)
Status = PushEvent.Status

# One session per process: connections to converted.in are kept alive between pushes.
SESSION = http.session()


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


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
        except (TypeError, ValueError):
            return None


def shop_domain(base_url: str) -> str:
    """The store's host as a header carries it: an internationalised name in its IDNA (punycode)
    form, e.g. `متجر.مصر` as `xn--pgbep1f.xn--wgbh1c`."""
    host = urlsplit(base_url).hostname or ""
    if host.isascii():
        return host
    try:
        import idna
    except ImportError:  # the standard library's codec knows IDNA 2003 only
        return host.encode("idna").decode("ascii")
    return idna.encode(host, uts46=True).decode("ascii")


class HeaderError(http.Worded):
    pass


def _headers(token: str, store: Store) -> dict[str, str]:
    try:
        domain = shop_domain(store.base_url)
    except UnicodeError as exc:
        raise HeaderError(
            f"The store's domain in {store.base_url} is not a valid internationalised name"
        ) from exc
    headers = {"Content-Type": "application/json", "token": token, "X-Shop-Domain": domain}
    for name, value in headers.items():
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            # The value is not named: it may be the token.
            raise HeaderError(f"The {name} header cannot carry its value") from None
    return headers


@dataclass
class Outcome:
    """What one push came to: an answer (status), or an error in words."""

    status: int | None = None
    error: str = ""
    error_class: str = ""
    answer: str = ""
    retry_after: float | None = None
    gone: bool = False


def _post(batch: Batch, token: str, store: Store) -> Outcome:
    item = record_item(batch.entity, batch.record_id, store=store)
    if item is None:
        return Outcome(error="The record no longer exists.", gone=True)
    url = settings.CONVERTEDIN_WEBHOOK_URL + batch.topic
    answer = http.post(
        SESSION,
        url,
        data=orjson.dumps(item),
        headers=_headers(token, store),
        deadline=settings.PUSH_DEADLINE_SECONDS,
        connect_timeout=settings.PUSH_CONNECT_TIMEOUT,
        cap=settings.PUSH_ANSWER_BYTES,
    )
    outcome = Outcome(
        status=answer.status,
        answer=answer.body.decode("utf-8", errors="replace"),
        retry_after=_retry_after(answer.retry_after),
    )
    if not 200 <= answer.status < 300:
        host = urlsplit(url).hostname or url
        line = answer.first_line
        outcome.error = http.shorten(
            f"{host} answered HTTP {answer.status}" + (f": {line}" if line else "")
        )
    return outcome


def _failure(exc: Exception) -> Outcome:
    return Outcome(
        status=exc.status if isinstance(exc, http.AnswerTooSlow) else None,
        error=http.describe(
            exc,
            host=urlsplit(settings.CONVERTEDIN_WEBHOOK_URL).hostname or "converted.in",
            connect_timeout=settings.PUSH_CONNECT_TIMEOUT,
        ),
        error_class=type(exc).__name__,
    )


def _storable(text: str) -> str:
    """The text without NUL or lone surrogates, which PostgreSQL refuses."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def _send(batch: Batch, token: str, store: Store) -> None:
    """Push one record; whatever goes wrong is this push's failure, kept on its events."""
    started = time.perf_counter()
    try:
        outcome = _post(batch, token, store)
    except Exception as exc:  # any failure of one push is that push's error
        outcome = _failure(exc)
    # Neither a message nor an echoing receiver's answer may carry the token into the log,
    # nor what a database refuses to store.
    outcome.error = _storable(outcome.error).replace(token, "…")
    outcome.answer = _storable(outcome.answer).replace(token, "…")
    _record(batch, outcome, duration_ms=(time.perf_counter() - started) * 1000)


def tried_fields(outcome: Outcome, *, attempt: int, duration_ms: float | None) -> dict:
    """What every try records on its rows (push events and webhook deliveries alike)."""
    return {
        "attempts": attempt,
        "duration_ms": duration_ms,
        "last_status": outcome.status,
        "last_error": outcome.error,
        "error_class": outcome.error_class,
        "last_answer": outcome.answer,
    }


def settled_fields(outcome: Outcome, now) -> dict | None:
    """Failed for good when the record is gone, delivered on a clean 2xx; else None."""
    code = outcome.status
    if outcome.gone:
        return {"status": Status.FAILED, "finished_at": now, "duration_ms": None}
    if code is not None and 200 <= code < 300 and not outcome.error:
        return {"status": Status.DELIVERED, "finished_at": now}
    return None


def retry_fields(outcome: Outcome, *, attempt: int, now) -> dict:
    """Due again after the retry schedule's next delay, or failed once it is used up."""
    delay = retry_delay(attempt, outcome.retry_after)
    if delay is None:
        return {"status": Status.FAILED, "finished_at": now}
    return {"status": Status.PENDING, "due_at": now + timedelta(seconds=delay)}


def _record(batch: Batch, outcome: Outcome, *, duration_ms: float) -> None:
    now = timezone.now()
    attempt = batch.attempts + 1
    carrier = batch.ids[-1]  # the latest change; the others point at it
    own_topic = Concat(Value(TOPIC_PREFIX[batch.entity] + "/"), F("action"))
    fields: dict = {
        "topic": Case(When(id=carrier, then=Value(batch.topic)), default=own_topic),
        "carried_by": Case(When(id=carrier, then=None), default=Value(carrier)),
        **tried_fields(outcome, attempt=attempt, duration_ms=duration_ms),
    }
    code = outcome.status
    if settled := settled_fields(outcome, now):
        fields.update(settled)
    elif code in (401, 403):
        # Not this event's fault: it waits, untried, until the token is fixed.
        fields.update(status=Status.PENDING, due_at=now, attempts=batch.attempts)
        PushState.objects.filter(pk=1).update(
            paused=PushState.Pause.REFUSED, paused_at=now, paused_detail=f"HTTP {code}"
        )
    elif code is not None and code != 429 and code < 500 and not outcome.error_class:
        fields.update(status=Status.FAILED, finished_at=now)  # refused: trying again won't help
    else:
        fields.update(retry_fields(outcome, attempt=attempt, now=now))
    if outcome.error:
        logger.warning(
            "Push %s of %s #%s failed (attempt %s): %s",
            batch.topic,
            batch.entity,
            batch.record_id,
            attempt,
            outcome.error,
        )
    PushEvent.objects.filter(id__in=batch.ids).update(**fields)


def _release(batches: list[Batch]) -> None:
    """Hand claimed records back, unsent, for the next claim."""
    ids = [pk for batch in batches for pk in batch.ids]
    PushEvent.objects.filter(id__in=ids, status=Status.SENDING).update(
        status=Status.PENDING, due_at=timezone.now()
    )


def deliver_due(*, limit: int = 100) -> int:
    """Send every claimable record's push once; return how many pushes were tried.

    A push starts only if it ends, by its deadline, well inside the claim's lease (a tenth of
    the lease to spare); the records left are handed back for the next claim."""
    claimed = time.monotonic()
    batches, token, store = _claim(limit)
    last_start = claimed + settings.PUSH_CLAIM_SECONDS * 0.9 - settings.PUSH_DEADLINE_SECONDS
    for n, batch in enumerate(batches):
        if time.monotonic() > last_start:
            _release(batches[n:])
            return n
        assert token is not None
        assert store is not None
        _send(batch, token, store)
    return len(batches)


def prune() -> int:
    """Delete delivered events older than PUSH_KEEP_DAYS, like the feed's request log."""
    cutoff = timezone.now() - timedelta(days=settings.PUSH_KEEP_DAYS)
    deleted, _ = PushEvent.objects.filter(status=Status.DELIVERED, finished_at__lt=cutoff).delete()
    return deleted
