"""The store's slow reads, run by the worker (`manage.py db_worker`, beside the push pump)."""

from django_tasks import default_task_backend, task
from django_tasks.base import DEFAULT_TASK_PRIORITY

from . import services
from .models import QualityRun

# Above the push pump's priority: the database backend runs a task enqueued without a time
# after every task that has one, so the pump's successors would otherwise always go first.
# RQ has no priorities and refuses a task that sets one.
PRIORITY = 10 if default_task_backend.supports_priority else DEFAULT_TASK_PRIORITY


@task(priority=PRIORITY)
def quality_compute(run_id: int) -> None:
    """Count the data quality report for the run asked for (shop/quality.py)."""
    run = QualityRun.objects.filter(pk=run_id, computed_at__isnull=True).first()
    if run is not None:  # None: a newer run replaced it meanwhile
        services.quality_run_compute(run=run)
