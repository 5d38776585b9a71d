"""The store's slow work, run by the worker (`manage.py db_worker`, beside the push pump): the
data quality report, and the admin's imports."""

from functools import partial

from django.db import transaction
from django.utils import timezone
from django_tasks import default_task_backend, task
from django_tasks.base import DEFAULT_TASK_PRIORITY

from . import history, imports, quality
from .models import ImportRun, QualityRun

# Above the push pump's priority: the database backend runs a task enqueued without a time
# after every task that has one, so the pump's successors would otherwise always go first.
# RQ has no priorities and refuses a task that sets one.
PRIORITY = 10 if default_task_backend.supports_priority else DEFAULT_TASK_PRIORITY


@task(priority=PRIORITY)
def quality_compute(run_id: int) -> None:
    """Count the data quality report for the run asked for (shop/quality.py)."""
    run = QualityRun.objects.filter(pk=run_id, computed_at__isnull=True).first()
    if run is not None:  # None: a newer run replaced it meanwhile
        quality.quality_run_compute(run=run)


@transaction.atomic
def quality_run_request() -> QualityRun | None:
    """Ask the worker to count the data quality report, unless a run is waiting or running.

    Returns the new run, or None when one is under way. Two requests at the same instant may
    both start a run: the count is then made twice, and the later result is kept.
    """
    if QualityRun.objects.pending(since=quality.run_lost_before()).exists():
        return None
    run = QualityRun.objects.create(requested_at=timezone.now())
    transaction.on_commit(partial(quality_compute.enqueue, run.pk))
    return run


@task(priority=PRIORITY)
def import_advance(run_id: int) -> None:
    """Check or write an admin's import (shop/imports.py), from where it stands.

    Before anything else it enqueues its successor, so that when the worker is killed
    mid-import the next worker to start carries the run on from its last batch written. (The
    successor finds the run ended and returns when nothing went wrong.)"""
    imports.runs_expire()
    run = ImportRun.objects.filter(
        pk=run_id, state__in=[ImportRun.State.CHECKING, ImportRun.State.WRITING]
    ).first()
    if run is None:
        return
    import_advance.enqueue(run_id)
    imports.run_advance(run)


@task()
def history_prune() -> int:
    """Delete history entries older than HISTORY_KEEP_DAYS (the push pump also does, after
    each run)."""
    return history.prune()


def import_start(*, upload, model: str, file_name: str, file_format: str, user) -> ImportRun:
    """Keep an upload under IMPORT_DIR and have the worker check it (the preview)."""
    imports.runs_expire()
    stored = imports.store_upload(upload, file_format)
    try:
        with transaction.atomic():
            run = ImportRun.objects.create(
                model=model,
                file_name=file_name[:255],
                stored_name=stored,
                file_format=file_format,
                created_by=user,
            )
            import_advance.enqueue(run.pk)
    except BaseException:
        imports.remove_upload(stored)
        raise
    return run


def import_confirm(*, run: ImportRun) -> bool:
    """Have the worker write a checked run; False (and nothing done) unless it was waiting
    for this confirmation, so confirming twice writes once."""
    now = timezone.now()
    with transaction.atomic():
        confirmed = ImportRun.objects.filter(pk=run.pk, state=ImportRun.State.CHECKED).update(
            state=ImportRun.State.WRITING, confirmed_at=now, step_started_at=now
        )
        if confirmed:
            import_advance.enqueue(run.pk)
    return bool(confirmed)
