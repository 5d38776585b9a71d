"""Check and rebuild the live-row counts the feed pages by (see feeds/counters.py).

Triggers keep the counts; these functions are for verifying that, for repairing counts after
a write that bypassed the triggers, and for bulk loads on SQLite.
"""

from django.db import connection, transaction

from . import counters
from .models import LiveBlock


def _levels():
    """Yield (counted entity name, table's entity, ids per block) for every level."""
    for entity in counters.MODELS:
        for suffix, size in counters.LEVELS:
            yield entity + suffix, entity, size


def live_blocks_counted(entity: str, size: int = counters.BLOCK) -> dict[int, int]:
    """Count live rows per block of `size` ids straight from the table."""
    with connection.cursor() as cursor:
        cursor.execute(counters.count_sql(entity, size))
        return {int(block): int(live) for block, live in cursor.fetchall()}


def live_blocks_stored(entity: str) -> dict[int, int]:
    """Return the stored counts, leaving out empty blocks."""
    rows = LiveBlock.objects.filter(entity=entity).exclude(live=0)
    return dict(rows.values_list("block", "live"))


def live_blocks_mismatches() -> dict[str, dict[int, tuple[int, int]]]:
    """Return {entity: {block: (stored, counted)}} for every block whose count is wrong."""
    found = {}
    for name, entity, size in _levels():
        stored, counted = live_blocks_stored(name), live_blocks_counted(entity, size)
        wrong = {
            block: (stored.get(block, 0), counted.get(block, 0))
            for block in stored.keys() | counted.keys()
            if stored.get(block, 0) != counted.get(block, 0)
        }
        if wrong:
            found[name] = wrong
    return found


@transaction.atomic
def live_blocks_rebuild() -> None:
    """Recount every block from the tables."""
    with connection.cursor() as cursor:
        for entity in counters.MODELS:
            for statement in counters.recount_sql(entity):
                cursor.execute(statement)


# SQLite's counters are kept by row-level triggers, which make a bulk load of a million rows
# several times slower; a bulk load suspends them and recounts once (PostgreSQL's triggers are
# per statement and stay).
def bulk_load_started(sender, **kwargs) -> None:
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for entity in counters.MODELS:
            for name in counters.trigger_names(entity):
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def bulk_load_finished(sender, **kwargs) -> None:
    if connection.vendor != "sqlite":
        return
    live_blocks_rebuild()
    with connection.cursor() as cursor:
        for entity in counters.MODELS:
            for statement in counters.sqlite_trigger_sql(entity):
                cursor.execute(statement)
