"""The import preview's summary: counts of rows by outcome, and the first rows of each kind.

The stock preview renders every row of the file as HTML (6.5 MB at 5,000 rows); this one
shows the counts and at most SHOWN rows.
"""

from dataclasses import dataclass

from django import template
from import_export.results import Result, RowResult

from shop.resources import Refusal, refusals

register = template.Library()

SHOWN = 20


@dataclass
class Summary:
    new: int
    changed: int
    unchanged: int
    refused: int
    refusals: list[Refusal]
    changes: list[tuple[int, RowResult]]  # (row number, row) of new and changed rows
    more_changes: int


@register.simple_tag
def import_summary(result: Result, shown: int = SHOWN) -> Summary:
    totals = result.totals
    refused = refusals(result)
    changes = [
        (number, row)
        for number, row in enumerate(result.rows, 1)
        if row.import_type in (RowResult.IMPORT_TYPE_NEW, RowResult.IMPORT_TYPE_UPDATE)
    ]
    return Summary(
        new=totals[RowResult.IMPORT_TYPE_NEW],
        changed=totals[RowResult.IMPORT_TYPE_UPDATE],
        unchanged=totals[RowResult.IMPORT_TYPE_SKIP],
        refused=len(refused),
        refusals=refused[:shown],
        changes=changes[:shown],
        more_changes=max(0, len(changes) - shown),
    )
