"""Reads of the push outbox for the staff's pages."""

from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from .models import ACTIONS, PushEvent


@dataclass(frozen=True)
class LogPage:
    rows: list[PushEvent]
    older: int | None  # the `before` of the next page, None on the last


def _carried(action: str) -> Coalesce:
    counted = (
        PushEvent.objects.filter(carried_by=OuterRef("pk"), action=action)
        .order_by()
        .values("carried_by")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def delivery_log(*, before: int | None = None, rows: int = 50) -> LogPage:
    """One row a push, newest first, with the changes it carried counted: one query.

    A push is its carrying event (the latest change of the record it sent); events carried by
    another are left out. Waiting events show until a push carries them. Paged by id, so a page
    costs the same however long the log is (no COUNT)."""
    pushes = PushEvent.objects.filter(carried_by__isnull=True)
    if before is not None:
        pushes = pushes.filter(id__lt=before)
    page = list(
        pushes.annotate(**{f"carried_{action}": _carried(action) for action in ACTIONS}).order_by(
            "-id"
        )[: rows + 1]
    )
    return LogPage(rows=page[:rows], older=page[rows - 1].pk if len(page) > rows else None)
