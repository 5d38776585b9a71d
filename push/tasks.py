"""The push worker on Django's Tasks API (the django-tasks backport), on any of its backends.

`pump` runs for PUSH_PUMP_SECONDS, delivering as events become due and polling every
PUSH_POLL_SECONDS when idle. Before anything else it enqueues its successor to run when it
ends, so a worker killed mid-delivery leaves the next pump waiting: a restarted worker carries
on. Events are claimed through the database (push/delivery.py), so any number of workers, on
any backend, never send the same event at once. Webhooks for the store's own systems go out
from the same pump through a `webhooks.Sender`, whose threads the pump never waits for.

Nothing starts the pump by hand: each write that fills the outbox calls `pump_ensure` once its
transaction commits, which enqueues a pump only when no chain of pumps holds the lease. The
lease is a key of the shared cache holding the chain's id, taken with `cache.add` (Redis SET NX,
an INSERT on the database cache's primary key) and renewed by every pump of its chain. A pump
that finds another chain's id there ends without a successor, so a second chain, started by a
race or after the lease lapsed, dies out after one pump.
"""

import logging
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Exists, Min, Q
from django.utils import timezone
from django_tasks import task

from shop import history

from . import delivery, webhooks
from .models import PushEvent, PushState

logger = logging.getLogger(__name__)

LEASE_KEY = "push:pump-chain"
Status = PushEvent.Status


def _lease_seconds() -> float:
    # Slack for a successor that waits behind other tasks: after this a new chain may start.
    return settings.PUSH_PUMP_SECONDS * 3 + 30


def _hold(chain: str) -> str | None:
    """Renew the lease for `chain` (taking it when free); None when another chain holds it."""
    owner = cache.get(LEASE_KEY)
    if owner is None:
        chain = chain or uuid.uuid4().hex  # a pump enqueued without a chain joins the lease
        if not cache.add(LEASE_KEY, chain, timeout=_lease_seconds()):
            owner = cache.get(LEASE_KEY)
    if owner is not None and owner != chain:
        return None
    cache.set(LEASE_KEY, chain, timeout=_lease_seconds())
    return chain


@task()
def pump(chain: str = "") -> int:
    try:
        held = _hold(chain)
    except Exception:  # noqa: BLE001 - a cache outage must not end the chain
        logger.warning("The push pump's lease is unreadable; this pump carries on.", exc_info=True)
        held = chain or uuid.uuid4().hex
    if held is None:
        return 0
    when = timezone.now() + timedelta(seconds=settings.PUSH_PUMP_SECONDS)
    pump.using(run_after=when).enqueue(held)
    sender = webhooks.Sender()
    try:
        sent = _deliver(sender)
    finally:
        sender.close()
    delivery.prune()
    webhooks.prune()
    _prune_history()
    _prune_pump_results()
    try:
        _hold(held)
    except Exception:  # noqa: BLE001 - the successor renews it
        logger.warning("The push pump's lease is unreadable.", exc_info=True)
    return sent


def _deliver(sender: webhooks.Sender) -> int:
    """Push and send webhooks for PUSH_PUMP_SECONDS; return how many were tried.

    Webhooks go out in the sender's threads and are only recorded here, so no subscriber holds
    up a push. When the time is up the sender winds down: flights under way stop after their
    try, which ends by its deadline, and meanwhile the pump goes on pushing and serving the
    subscribers that are not failing, so one that hangs at the end delays no other. A deadline
    later it starts nothing more, and the tries under way (of subscribers that were answering)
    come back."""
    started = time.monotonic()
    until = started + settings.PUSH_PUMP_SECONDS
    deadline = settings.PUSH_DEADLINE_SECONDS
    sent = 0
    while (now := time.monotonic()) < until or sender.busy:
        if now >= until:
            sender.wind_down()
        if now >= until + deadline:
            sender.stop()
        if now >= until + deadline * 3:  # a send stuck beyond its deadline (a slow resolver)
            logger.warning("A webhook send outlived its deadline; its claim will lapse.")
            break
        tried = delivery.deliver_due() + _webhooks(sender)
        sent += tried
        if not tried:
            sender.wait(settings.PUSH_POLL_SECONDS)
    return sent


def _webhooks(sender: webhooks.Sender) -> int:
    """Record and start webhook flights; whatever goes wrong there never stops the push."""
    try:
        return sender.step()
    except Exception:
        logger.exception("Webhook delivery failed; its rows are claimed again when due.")
        return 0


def pump_ensure() -> bool:
    """Enqueue a pump unless a chain holds the lease; True when one was enqueued."""
    if cache.get(LEASE_KEY) is not None:
        return False
    chain = uuid.uuid4().hex
    if not cache.add(LEASE_KEY, chain, timeout=_lease_seconds()):
        return False
    try:
        pump.enqueue(chain)
    except Exception:
        cache.delete(LEASE_KEY)
        raise
    return True


def pump_start() -> None:
    """Enqueue a pump unless a chain runs (workers need no start step: kept for scripts)."""
    pump_ensure()


def outbox_written() -> None:
    """After a commit that filled the outbox: make sure a pump runs (failures are logged)."""
    try:
        pump_ensure()
    except Exception:
        logger.exception("Could not enqueue the push pump; the outbox waits for a worker.")


def _prune_history() -> None:
    """Drop the store's history entries older than HISTORY_KEEP_DAYS (shop/history.py)."""
    try:
        history.prune()
    except Exception:
        logger.exception("Pruning the history failed; the next pump tries again.")


def _prune_pump_results() -> None:
    """Drop finished pumps' results older than a day (database backend only)."""
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:
        return
    DBTaskResult.objects.filter(
        task_path=pump.module_path,
        status="SUCCESSFUL",
        finished_at__lt=timezone.now() - timedelta(days=1),
    ).delete()


def stalled_since(now: datetime | None = None) -> datetime | None:
    """When the oldest change no worker took fell due; None unless pushing is stalled.

    Stalled: pushing is on (a token, not paused), a change has been due for more than
    PUSH_STALL_SECONDS and no change was finished in that time. One query, on the
    (status, due_at) and finished_at indexes.
    """
    now = now or timezone.now()
    threshold = now - timedelta(seconds=settings.PUSH_STALL_SECONDS)
    on = PushState.objects.filter(
        pk=1, paused="", token__isnull=False, token__revoked_at__isnull=True
    ).exclude(token_ciphertext="")
    recent = PushEvent.objects.filter(finished_at__gte=threshold)
    return (
        PushEvent.objects.filter(
            Q(Exists(on)) & ~Q(Exists(recent)),
            status__in=[Status.PENDING, Status.SENDING],
            due_at__lt=threshold,
        )
        .order_by()
        .aggregate(since=Min("due_at"))["since"]
    )


def stall_report(now: datetime | None = None) -> dict | None:
    """The connection page's words on a stalled worker: how many wait, since when, the fix."""
    since = stalled_since(now)
    if since is None:
        return None
    now = now or timezone.now()
    waiting = PushEvent.objects.filter(
        status__in=[Status.PENDING, Status.SENDING], due_at__lte=now
    ).count()
    return {"waiting": waiting, "since": since, "command": worker_command()}


def worker_command() -> str:
    """The command that starts a worker on the configured Tasks backend."""
    backend = settings.TASKS["default"]["BACKEND"]
    if backend == "django_tasks_rq.RQBackend":
        return "python manage.py rqworker --with-scheduler default"
    return "python manage.py db_worker"
