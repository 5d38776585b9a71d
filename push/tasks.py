"""The push worker on Django's Tasks API (the django-tasks backport).

`pump` runs for PUSH_PUMP_SECONDS, delivering as events become due and polling every
PUSH_POLL_SECONDS when idle. Before anything else it enqueues its successor to run when it
ends, so a worker killed mid-delivery leaves the next pump waiting: a restarted worker carries
on. Events are claimed through the database (push/delivery.py), so any number of workers, on
any backend, never send the same event at once.
"""

import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from . import delivery


@task()
def pump() -> int:
    started = time.monotonic()
    pump.using(run_after=timezone.now() + timedelta(seconds=settings.PUSH_PUMP_SECONDS)).enqueue()
    sent = 0
    while time.monotonic() - started < settings.PUSH_PUMP_SECONDS:
        tried = delivery.deliver_due()
        sent += tried
        if not tried:
            time.sleep(settings.PUSH_POLL_SECONDS)
    delivery.prune()
    _prune_pump_results()
    return sent


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


def pump_start() -> None:
    """Enqueue a pump unless one is waiting already (the database backend is asked)."""
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # another backend: a second pump costs nothing but polling
        pump.enqueue()
        return
    waiting = DBTaskResult.objects.filter(
        task_path=pump.module_path, status__in=["READY", "RUNNING"]
    )
    if not waiting.filter(status="READY").exists():
        pump.enqueue()
