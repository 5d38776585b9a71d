"""Webhooks for the store's own systems, signed per the Standard Webhooks specification.

They ride the push's outbox: each outbox change is copied once (`fan_out`) into one delivery
row per active subscription of its topic, and those rows are claimed, sent, retried and logged
one by one, apart from the push to converted.in and from each other. A subscriber that fails
holds back neither another subscriber's rows nor the push's events: its rows wait for their
own retry, and after its first failure in a round the rest of its rows are handed back unsent.
Rows are fanned out by the worker, not by the write, so a write keeps its single INSERT.

Each round renders the records once (one query per entity, with the API's output serializer,
deleted records included), then sends each subscriber's rows in its own thread; the threads
touch no database, and the outcomes are written once they are back.
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Case, F, Value, When
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


def _send_all(jobs: list[Job], url: str, secret: str, last_start: float) -> None:
    """Send one subscriber's jobs in turn; stop at its first failure or at `last_start`."""
    for job in jobs:
        if time.monotonic() > last_start:
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


def _claim(per_subscription: int) -> list[WebhookDelivery]:
    now = timezone.now()
    due = WebhookDelivery.objects.filter(
        status__in=[Status.PENDING, Status.SENDING], due_at__lte=now, subscription__active=True
    )
    if not due.exists():
        return []
    if PushState.objects.filter(pk=1, paused=PushState.Pause.MANUAL).exists():
        return []
    subscription_ids = list(
        due.order_by().values_list("subscription_id", flat=True).distinct()[:100]
    )
    claimed: list[WebhookDelivery] = []
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


def deliver_due(*, per_subscription: int = 50) -> int:
    """Fan out new changes, then send every subscriber's due deliveries once, subscribers in
    parallel; return how many were tried."""
    fan_out()
    claimed_at = time.monotonic()
    claimed = _claim(per_subscription)
    if not claimed:
        return 0
    last_start = claimed_at + settings.PUSH_CLAIM_SECONDS * 0.9 - settings.PUSH_DEADLINE_SECONDS
    by_entity: dict[str, set[int]] = defaultdict(set)
    for d in claimed:
        by_entity[d.entity].add(d.record_id)
    rendered = {entity: render_records(entity, sorted(ids)) for entity, ids in by_entity.items()}
    groups: dict[int, list[Job]] = defaultdict(list)
    for d in claimed:
        data = rendered[d.entity].get(d.record_id)
        groups[d.subscription_id].append(Job(d, None if data is None else _body(d, data)))
    subscriptions = WebhookSubscription.objects.in_bulk(list(groups))
    for sub_id in set(groups) - set(subscriptions):
        del groups[sub_id]  # deleted since the claim, its rows with it
    work = []
    for sub_id, jobs in groups.items():
        try:
            secret = subscription_secret(subscriptions[sub_id])
        except InvalidToken:
            # A failure of this subscriber's, like any other: retried, and in time it is off.
            jobs[0].outcome = Outcome(
                error="Its signing secret cannot be decrypted with PUSH_TOKEN_KEYS.",
                error_class="InvalidToken",
            )
            continue
        work.append((jobs, subscriptions[sub_id].url, secret, last_start))
    if len(work) == 1:
        _send_all(*work[0])
    elif work:
        with ThreadPoolExecutor(max_workers=min(len(work), settings.WEBHOOK_THREADS)) as pool:
            for future in [pool.submit(_send_all, *args) for args in work]:
                future.result()
    now = timezone.now()
    tried = 0
    delivered: list[Job] = []
    for sub_id, jobs in groups.items():
        # Rows not tried are due again at once, unless their subscriber just failed: then
        # they wait with its failed row.
        again = now
        for job in jobs:
            if job.outcome is None:
                continue
            tried += 1
            fields = _fields(job, subscriptions[sub_id], now)
            if fields["status"] == Status.DELIVERED:
                delivered.append(job)
                continue
            WebhookDelivery.objects.filter(pk=job.delivery.pk).update(**fields)
            if fields["status"] == Status.PENDING:
                again = fields["due_at"]
        _subscriber_health(subscriptions[sub_id], jobs, now)
        unsent = [job.delivery.pk for job in jobs if job.outcome is None]
        if unsent:
            WebhookDelivery.objects.filter(id__in=unsent, status=Status.SENDING).update(
                status=Status.PENDING, due_at=again
            )
    _write_delivered(delivered, now)
    return tried


def prune() -> int:
    """Delete delivered deliveries older than PUSH_KEEP_DAYS."""
    cutoff = timezone.now() - timedelta(days=settings.PUSH_KEEP_DAYS)
    deleted, _ = WebhookDelivery.objects.filter(
        status=Status.DELIVERED, finished_at__lt=cutoff
    ).delete()
    return deleted
