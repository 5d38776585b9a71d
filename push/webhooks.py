"""Webhooks for the store's own systems, signed per the Standard Webhooks specification.

They ride the push's outbox: each outbox change is copied once (`fan_out`) into one delivery
row per active subscription of its topic, and those rows are claimed, sent, retried and logged
one by one, apart from the push to converted.in and from each other. Rows are fanned out by the
worker, not by the write, so a write keeps its single INSERT.

A worker sends through a `Sender`: each subscriber's claimed rows go out in a thread of their
own (a flight), at most WEBHOOK_THREADS subscribers at once, and the sender never waits for a
flight. Its `step` records the flights that came back, then claims rows for subscribers with
nothing in flight and starts them; the pump (push/tasks.py) calls it between its pushes to
converted.in. So a subscriber that hangs holds one thread for at most PUSH_DEADLINE_SECONDS a
try, never the pump (nor the push) and never another subscriber, whose next rows are claimed as
soon as its own flight is back. After a failure a flight stops, and the rest of its rows wait
with the failed one for its retry. Only when every thread is held by a hanging subscriber does
another wait, for a free thread.

The threads only send: they touch no database. Claims, rendering (one query per entity, with
the API's output serializer, deleted records included) and outcomes all run on the caller's
thread and connection, so no thread holds a connection of its own, and the in-memory SQLite of
the tests serves them as any database does. We chose this over a second chain of pump tasks for
webhooks: a worker (`db_worker`, `rqworker`) runs one task at a time, so on a single worker two
chains would take turns of PUSH_PUMP_SECONDS and the push would wait for the webhooks' turn.
"""

import base64
import hashlib
import hmac
import ipaddress
import logging
import secrets
import socket
import threading
import time
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Case, F, Min, Q, Value, When
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from . import http
from .delivery import (
    Outcome,
    _retry_after,
    _storable,
    retry_fields,
    settled_fields,
    tried_fields,
)
from .models import ACTIONS, PushEvent, PushState, WebhookDelivery, WebhookSubscription
from .outbox import TOPIC_PREFIX
from .tokens import _fernet

logger = logging.getLogger(__name__)
Status = WebhookDelivery.Status

TOPICS = tuple(f"{prefix}/{action}" for prefix in TOPIC_PREFIX.values() for action in ACTIONS)
SECRET_PREFIX = "whsec_"
# Cloud metadata endpoints besides the link-local range (AWS IPv6, Alibaba).
METADATA = {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}
SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, not the internet


# Secrets ------------------------------------------------------------------------------------


def _secret_new() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def subscription_secret(subscription: WebhookSubscription) -> str:
    return _fernet().decrypt(subscription.secret_ciphertext.encode()).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header: `v1,` and the base64 HMAC-SHA256 of id.timestamp.body."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


# Targets ------------------------------------------------------------------------------------


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (
        address in METADATA
        or address in SHARED
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def target_addresses(url: str) -> list[str]:
    """Check a target and return the addresses to connect to (empty: let the system resolve).

    Unless WEBHOOK_ALLOW_PRIVATE_TARGETS (local and test settings), a target must be https and
    every address its name resolves to must be public: no loopback, private, link-local or
    metadata address. Raises ValidationError in words."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationError("Give an http(s) URL with a host.", code="invalid_url")
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return []
    if parts.scheme != "https":
        raise ValidationError("The target URL must use https.", code="not_https")
    try:
        port = parts.port or 443
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:
        raise ValidationError(f"{host} does not resolve.", code="unresolved") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    for address in addresses:
        if _refused(ipaddress.ip_address(address.split("%")[0])):
            raise ValidationError(
                f"{host} resolves to {address}, a private or reserved address.",
                code="private_target",
            )
    return addresses


def _check_topics(topics) -> list[str]:
    if not isinstance(topics, list) or not topics or not all(isinstance(t, str) for t in topics):
        raise ValidationError({"topics": "Give at least one topic."}, code="invalid_topics")
    unknown = sorted(set(topics) - set(TOPICS))
    if unknown:
        raise ValidationError(
            {"topics": f"Unknown topics: {', '.join(unknown)}."}, code="invalid_topics"
        )
    return [t for t in TOPICS if t in topics]


def _check_url(url: str) -> str:
    try:
        target_addresses(url)
    except ValidationError as exc:
        raise ValidationError({"url": exc.messages}, code=exc.code) from exc
    return url


# Services -----------------------------------------------------------------------------------


def webhook_subscription_create(
    *, url: str, topics: list[str], active: bool = True
) -> tuple[WebhookSubscription, str]:
    """Add a subscription; return it and its secret, which is never shown again."""
    secret = _secret_new()
    subscription = WebhookSubscription.objects.create(
        url=_check_url(url),
        topics=_check_topics(topics),
        active=active,
        secret_ciphertext=_fernet().encrypt(secret.encode()).decode(),
    )
    return subscription, secret


def webhook_subscription_update(
    *,
    subscription: WebhookSubscription,
    url: str | None = None,
    topics: list[str] | None = None,
    active: bool | None = None,
) -> WebhookSubscription:
    """Change a subscription; turning it on again clears why it was disabled."""
    if url is not None:
        subscription.url = _check_url(url)
    if topics is not None:
        subscription.topics = _check_topics(topics)
    if active is not None:
        if active:  # on again: it starts with a clean slate
            subscription.failing_since = None
            subscription.disabled_at = None
            subscription.disabled_reason = ""
        subscription.active = active
    subscription.save()
    return subscription


def webhook_subscription_delete(*, subscription: WebhookSubscription) -> None:
    subscription.delete()


# Bodies -------------------------------------------------------------------------------------


# Each kind's REST API viewset, set by the API when it loads (shop/api/apps.py): a webhook
# carries what the API answers, and push sits below the API, so it does not import it.
RECORD_VIEWSETS: dict[str, Any] = {}


def render_records(entity: str, ids: list[int]) -> dict[int, dict]:
    """What `GET /api/v1/<entity>/<id>` answers for each record, deleted ones too (with
    deleted_at): the API viewset's detail queryset and output serializer, one query a kind."""
    view = RECORD_VIEWSETS[entity]()
    view.action = "render"  # no request: no query parameters such as a customer's currency
    records = view.detail_queryset().filter(pk__in=ids)
    output: Any = view.serializer_class
    return {record.pk: dict(output(record).data) for record in records}


def _body(delivery: WebhookDelivery, data: dict) -> bytes:
    occurred = delivery.occurred_at.isoformat().replace("+00:00", "Z")
    # The API's own renderer: money and dates written as GET writes them.
    return JSONRenderer().render({"type": delivery.topic, "timestamp": occurred, "data": data})


# Sending ------------------------------------------------------------------------------------


_pinned = threading.local()


class _PinnedMixin:
    """Connect to the address checked for this request, not to a second resolution."""

    def _new_conn(self):
        address = getattr(_pinned, "address", None)
        if address:
            self._dns_host = address
        return super()._new_conn()


class _PinnedHTTP(_PinnedMixin, http._HTTPConnection):
    pass


class _PinnedHTTPS(_PinnedMixin, http._HTTPSConnection):
    pass


class _PinnedHTTPPool(http._HTTPPool):
    ConnectionCls = _PinnedHTTP


class _PinnedHTTPSPool(http._HTTPSPool):
    ConnectionCls = _PinnedHTTPS


class _PinnedAdapter(http._Adapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PinnedHTTPPool,
            "https": _PinnedHTTPSPool,
        }


def _session():
    """A session that connects only to checked addresses. A kept-alive connection was made to
    an address checked then, so reusing it is safe; a new one goes to the address checked for
    its own request."""
    s = http.session()
    s.trust_env = False  # no proxy from the environment: it would connect on our behalf
    s.mount("http://", _PinnedAdapter())
    s.mount("https://", _PinnedAdapter())
    return s


_sessions = threading.local()


def _thread_session():
    if getattr(_sessions, "session", None) is None:
        _sessions.session = _session()
    return _sessions.session


@dataclass
class Job:
    delivery: WebhookDelivery
    body: bytes | None  # None: the record is gone altogether
    outcome: Outcome | None = None
    duration_ms: float | None = None


def _post(job: Job, url: str, secret: str) -> Outcome:
    if job.body is None:
        return Outcome(error="The record no longer exists.", gone=True)
    addresses = target_addresses(url)  # again at send time: DNS may have changed
    msg_id = job.delivery.message_id
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, job.body),
    }
    _pinned.address = addresses[0] if addresses else None
    try:
        answer = http.post(
            _thread_session(),
            url,
            data=job.body,
            headers=headers,
            deadline=settings.PUSH_DEADLINE_SECONDS,
            connect_timeout=settings.PUSH_CONNECT_TIMEOUT,
            cap=settings.PUSH_ANSWER_BYTES,
        )
    finally:
        _pinned.address = None
    outcome = Outcome(
        status=answer.status,
        answer=answer.body.decode("utf-8", errors="replace"),
        retry_after=_retry_after(answer.retry_after),
    )
    if not 200 <= answer.status < 300:
        line = answer.first_line
        outcome.error = http.shorten(
            f"{urlsplit(url).hostname} answered HTTP {answer.status}"
            + (f": {line}" if line else "")
        )
    return outcome


def _send_all(
    jobs: list[Job], url: str, secret: str, last_start: float, stop: threading.Event
) -> None:
    """Send one subscriber's jobs in turn; stop at its first failure, at `last_start` or once
    `stop` is set (a job under way ends by its deadline)."""
    for job in jobs:
        if time.monotonic() > last_start or stop.is_set():
            return
        started = time.perf_counter()
        try:
            outcome = _post(job, url, secret)
        except Exception as exc:  # any failure of one delivery is that delivery's error
            outcome = Outcome(
                status=exc.status if isinstance(exc, http.AnswerTooSlow) else None,
                error=http.shorten(exc.messages[0])
                if isinstance(exc, ValidationError)
                else http.describe(
                    exc,
                    host=urlsplit(url).hostname or url,
                    connect_timeout=settings.PUSH_CONNECT_TIMEOUT,
                ),
                error_class=type(exc).__name__,
            )
        outcome.error = _storable(outcome.error)
        outcome.answer = _storable(outcome.answer)
        job.outcome = outcome
        job.duration_ms = (time.perf_counter() - started) * 1000
        if outcome.error and not outcome.gone:
            return  # the rest wait for this subscriber's retry


def fan_out(*, limit: int = 1000) -> int:
    """Copy outbox changes into one delivery per active subscription of their topic."""
    with transaction.atomic():
        events = list(
            PushEvent.objects.select_for_update(skip_locked=True)
            .filter(fanned_out=False)
            .order_by("id")
            .values_list("id", "entity", "record_id", "action", "created_at")[:limit]
        )
        if not events:
            return 0
        subscriptions = list(
            WebhookSubscription.objects.filter(active=True).values_list(
                "id", "topics", "created_at"
            )
        )
        rows = []
        for event_id, entity, record_id, action, created_at in events:
            topic = f"{TOPIC_PREFIX[entity]}/{action}"
            rows += [
                WebhookDelivery(
                    subscription_id=sub_id,
                    event_id=event_id,
                    entity=entity,
                    record_id=record_id,
                    topic=topic,
                    occurred_at=created_at,
                )
                for sub_id, topics, since in subscriptions
                if topic in topics and created_at >= since
            ]
        WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
        PushEvent.objects.filter(id__in=[e[0] for e in events]).update(fanned_out=True)
    return len(rows)


def _claim(
    per_subscription: int,
    *,
    subscribers: int,
    busy: set[int] | None = None,
    answering_only: bool = False,
) -> list[WebhookDelivery]:
    """Take the due rows of up to `subscribers` subscribers, those waiting longest first, but
    none of `busy` (subscribers with a flight under way here) and, if `answering_only`, none
    that is failing."""
    now = timezone.now()
    due = WebhookDelivery.objects.filter(
        status__in=[Status.PENDING, Status.SENDING], due_at__lte=now, subscription__active=True
    )
    if not due.exists():
        return []
    if PushState.objects.filter(pk=1, paused=PushState.Pause.MANUAL).exists():
        return []
    if busy:
        due = due.exclude(subscription_id__in=busy)
    if answering_only:
        due = due.filter(subscription__failing_since__isnull=True)
    waiting = (
        due.values("subscription_id")
        .annotate(oldest=Min("due_at"))
        .order_by("oldest", "subscription_id")[:subscribers]
    )
    subscription_ids = [row["subscription_id"] for row in waiting]
    claimed: list[WebhookDelivery] = []
    if not subscription_ids:
        return claimed
    with transaction.atomic():
        for sub_id in subscription_ids:
            claimed += list(
                WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(
                    subscription_id=sub_id,
                    status__in=[Status.PENDING, Status.SENDING],
                    due_at__lte=now,
                )
                .order_by("id")[:per_subscription]
            )
        lease = now + timedelta(seconds=settings.PUSH_CLAIM_SECONDS)
        WebhookDelivery.objects.filter(id__in=[d.pk for d in claimed]).update(
            status=Status.SENDING, due_at=lease
        )
    return claimed


def _fields(job: Job, subscription: WebhookSubscription, now) -> dict:
    """What one try came to, as the delivery row's new fields."""
    outcome = job.outcome
    assert outcome is not None
    attempt = job.delivery.attempts + 1
    fields = tried_fields(outcome, attempt=attempt, duration_ms=job.duration_ms)
    if settled := settled_fields(outcome, now):
        fields.update(settled)
    else:
        # Any other answer is retried: a subscriber's 4xx may be fixed on its side.
        fields.update(retry_fields(outcome, attempt=attempt, now=now))
        logger.warning(
            "Webhook %s of %s #%s to subscription %s failed (attempt %s): %s",
            job.delivery.topic,
            job.delivery.entity,
            job.delivery.record_id,
            subscription.pk,
            attempt,
            outcome.error,
        )
    return fields


def _write_delivered(jobs: list[Job], now) -> None:
    """Mark the round's delivered rows in one UPDATE."""
    if not jobs:
        return

    def each(value, field):
        whens = [When(pk=job.delivery.pk, then=Value(value(job))) for job in jobs]
        return Case(*whens, output_field=field)

    WebhookDelivery.objects.filter(pk__in=[job.delivery.pk for job in jobs]).update(
        status=Status.DELIVERED,
        finished_at=now,
        attempts=F("attempts") + 1,
        last_error="",
        error_class="",
        last_status=each(lambda job: job.outcome.status, models.PositiveSmallIntegerField()),
        duration_ms=each(lambda job: job.duration_ms, models.FloatField()),
        last_answer=each(lambda job: job.outcome.answer, models.TextField()),
    )


def _subscriber_health(subscription: WebhookSubscription, jobs: list[Job], now) -> None:
    """Note since when a subscriber fails; disable it once that is WEBHOOK_DISABLE_AFTER."""
    tried = [job for job in jobs if job.outcome is not None and not job.outcome.gone]
    if not tried:
        return
    failed = tried[-1].outcome.error if tried[-1].outcome else ""
    if not failed:
        if subscription.failing_since is not None:
            WebhookSubscription.objects.filter(pk=subscription.pk).update(failing_since=None)
        return
    since = subscription.failing_since or now
    fields: dict = {"failing_since": since}
    if now - since >= timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS):
        fields.update(
            active=False,
            disabled_at=now,
            disabled_reason=http.shorten(
                f"Every delivery failed since {since:%Y-%m-%d %H:%M} UTC; the last: {failed}",
                400,
            ),
        )
        logger.warning("Webhook subscription %s disabled: failing since %s", subscription.pk, since)
    WebhookSubscription.objects.filter(pk=subscription.pk).update(**fields)


# How long a sender waits, once a flight is back, for the others under way.
LINGER_SECONDS = 0.02


@dataclass
class Flight:
    """One subscriber's claimed rows, being sent in a thread (no future: nothing to send)."""

    subscription: WebhookSubscription
    jobs: list[Job]
    future: Future | None
    stop: threading.Event = field(default_factory=threading.Event)


def _settle(flight: Flight, now, delivered: list[Job]) -> int:
    """Write what one flight's tries came to (its delivered rows are added to `delivered`, for
    one UPDATE of the round); hand its untried rows back. Return how many were tried."""
    subscription, jobs = flight.subscription, flight.jobs
    tried = 0
    # Rows not tried are due again at once, unless their subscriber just failed: then they
    # wait with its failed row.
    again = now
    for job in jobs:
        if job.outcome is None:
            continue
        tried += 1
        fields = _fields(job, subscription, now)
        if fields["status"] == Status.DELIVERED:
            delivered.append(job)
            continue
        WebhookDelivery.objects.filter(pk=job.delivery.pk).update(**fields)
        if fields["status"] == Status.PENDING:
            again = fields["due_at"]
    _subscriber_health(subscription, jobs, now)
    unsent = [job.delivery.pk for job in jobs if job.outcome is None]
    handed_back = Q(id__in=unsent, status=Status.SENDING)
    if again > now:
        # Its rows fanned out since the claim wait too, rather than hang on their own.
        handed_back |= Q(subscription=subscription, status=Status.PENDING, due_at__lt=again)
    elif not unsent:
        return tried
    WebhookDelivery.objects.filter(handed_back).update(status=Status.PENDING, due_at=again)
    return tried


class Sender:
    """A worker's webhook flights: each subscriber's rows sent in a thread of their own, every
    query on the caller's thread (see the module's docstring).

    To end, the caller winds it down (flights under way stop after their try, and only
    subscribers that are not failing get new flights), then stops it (nothing new starts) and
    collects until nothing is busy."""

    def __init__(self, *, threads: int | None = None, per_subscription: int = 50):
        self.threads = threads or settings.WEBHOOK_THREADS
        self.per_subscription = per_subscription
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="webhooks")
        self._flights: dict[int, Flight] = {}
        self._winding_down = False
        self._stopped = False

    @property
    def busy(self) -> bool:
        """Whether a flight is under way or waits to be recorded."""
        return bool(self._flights)

    def step(self) -> int:
        """Record the flights that came back, then start flights for subscribers with none
        under way, as threads are free; never wait for a send. Return how many were tried."""
        tried = self.collect()
        free = self.threads - len(self._flights)
        if free > 0 and not self._stopped:
            self.start(subscribers=free)
        return tried

    def start(self, *, subscribers: int) -> int:
        """Fan out new changes, claim the due rows of up to `subscribers` subscribers and start
        sending them; return how many subscribers got a flight."""
        fan_out()
        claimed_at = time.monotonic()
        claimed = _claim(
            self.per_subscription,
            subscribers=subscribers,
            busy=set(self._flights),
            answering_only=self._winding_down,
        )
        if not claimed:
            return 0
        # A try starts only if it ends, by its deadline, well inside the claim's lease.
        last_start = claimed_at + settings.PUSH_CLAIM_SECONDS * 0.9 - settings.PUSH_DEADLINE_SECONDS
        by_entity: dict[str, set[int]] = defaultdict(set)
        for d in claimed:
            by_entity[d.entity].add(d.record_id)
        rendered = {e: render_records(e, sorted(ids)) for e, ids in by_entity.items()}
        groups: dict[int, list[Job]] = defaultdict(list)
        for d in claimed:
            data = rendered[d.entity].get(d.record_id)
            groups[d.subscription_id].append(Job(d, None if data is None else _body(d, data)))
        subscriptions = WebhookSubscription.objects.in_bulk(list(groups))
        started = 0
        for sub_id, jobs in groups.items():
            subscription = subscriptions.get(sub_id)
            if subscription is None:
                continue  # deleted since the claim, its rows with it
            started += 1
            try:
                secret = subscription_secret(subscription)
            except InvalidToken:
                # A failure of this subscriber's, like any other: retried, and in time it is off.
                jobs[0].outcome = Outcome(
                    error="Its signing secret cannot be decrypted with PUSH_TOKEN_KEYS.",
                    error_class="InvalidToken",
                )
                self._flights[sub_id] = Flight(subscription, jobs, None)
                continue
            stop = threading.Event()
            future = self._pool.submit(_send_all, jobs, subscription.url, secret, last_start, stop)
            self._flights[sub_id] = Flight(subscription, jobs, future, stop)
        return started

    def collect(self) -> int:
        """Write the outcomes of the flights that came back; return how many were tried."""
        back = [f for f in self._flights.values() if f.future is None or f.future.done()]
        if not back:
            return 0
        now = timezone.now()
        tried = 0
        delivered: list[Job] = []
        for flight in back:
            del self._flights[flight.subscription.pk]
            if flight.future is not None and (error := flight.future.exception()) is not None:
                # Not a send's failure (those are outcomes): its untried rows are handed back.
                logger.error("A webhook flight failed", exc_info=error)
            tried += _settle(flight, now, delivered)
        _write_delivered(delivered, now)
        return tried

    def wait(self, timeout: float | None) -> None:
        """Sleep until a flight comes back, at most `timeout` seconds; None: until all are."""
        futures = [f.future for f in self._flights.values() if f.future is not None]
        if timeout is None:
            wait_for(futures)
        elif len(futures) < len(self._flights):
            return  # one has nothing to send: it is back already
        elif futures:
            done, pending = wait_for(futures, timeout, return_when=FIRST_COMPLETED)
            if done and pending:
                # Flights of a backlog come back close together: a moment's wait lets one claim
                # take their next rows, so each record is rendered once for all of them.
                wait_for(pending, LINGER_SECONDS)
        else:
            time.sleep(timeout)

    def wind_down(self) -> None:
        """Flights under way stop after their try (their other rows are handed back, due at
        once), and from now on only subscribers that are not failing get flights."""
        if self._winding_down:
            return
        self._winding_down = True
        for flight in self._flights.values():
            flight.stop.set()

    def stop(self) -> None:
        """Start nothing more: flights end after the try under way (by its deadline)."""
        self._stopped = True
        for flight in self._flights.values():
            flight.stop.set()

    def close(self) -> None:
        self.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)


def deliver_due(*, per_subscription: int = 50) -> int:
    """One round, waited for: fan out, send every subscriber's due rows once (subscribers in
    parallel), record the outcomes; return how many were tried. The worker does not wait so
    (`Sender.step`); this serves scripts and tests."""
    sender = Sender(per_subscription=per_subscription)
    try:
        sender.start(subscribers=100)
        sender.wait(None)
        return sender.collect()
    finally:
        sender.close()


def prune() -> int:
    """Delete delivered deliveries older than PUSH_KEEP_DAYS."""
    cutoff = timezone.now() - timedelta(days=settings.PUSH_KEEP_DAYS)
    deleted, _ = WebhookDelivery.objects.filter(
        status=Status.DELIVERED, finished_at__lt=cutoff
    ).delete()
    return deleted
