"""Check and rebuild the live-row counts the feed pages by.

Triggers keep them (feeds/migrations/0004_live_superblocks.py); these functions are for
verifying that, and for repairing counts after a write that bypassed the triggers.
"""

from django.db import connection, transaction

from shop.models import Customer, Order

from .models import LiveBlock
from .selectors import BLOCK, CUSTOMER_ENTITY, ORDER_ENTITY, SUPER_SUFFIX, SUPERBLOCK

MODELS = {ORDER_ENTITY: Order, CUSTOMER_ENTITY: Customer}
LEVELS = {"": BLOCK, SUPER_SUFFIX: SUPERBLOCK}


def _levels():
    """Yield (counted entity name, table's entity, ids per block) for every level."""
    for entity in MODELS:
        for suffix, size in LEVELS.items():
            yield entity + suffix, entity, size


def live_blocks_counted(entity: str, size: int = BLOCK) -> dict[int, int]:
    """Count live rows per block of `size` ids straight from the table."""
    table = connection.ops.quote_name(MODELS[entity]._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id / {size}, COUNT(*) FROM {table} "
            f"WHERE deleted_at IS NULL GROUP BY id / {size}"
        )
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
    for name, entity, size in _levels():
        LiveBlock.objects.filter(entity=name).delete()
        LiveBlock.objects.bulk_create(
            LiveBlock(entity=name, block=block, live=live)
            for block, live in sorted(live_blocks_counted(entity, size).items())
        )


# SQLite's counters are kept by row-level triggers, which make a bulk load of a million rows
# several times slower; a bulk load suspends them and recounts once (PostgreSQL's triggers are
# per statement and stay).
def _sqlite_trigger_sql() -> list[str]:
    import importlib

    migration = importlib.import_module("feeds.migrations.0004_live_superblocks")
    statements = []
    for entity, table in migration.TABLES.items():
        statements += migration._sqlite_triggers(entity, table)
    return statements


def _sqlite_trigger_names() -> list[str]:
    return [
        f"feeds_{entity}_live_{action}"
        for entity in ("order", "customer")
        for action in ("insert", "update", "delete")
    ]


def bulk_load_started(sender, **kwargs) -> None:
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for name in _sqlite_trigger_names():
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def bulk_load_finished(sender, **kwargs) -> None:
    if connection.vendor != "sqlite":
        return
    live_blocks_rebuild()
    with connection.cursor() as cursor:
        for statement in _sqlite_trigger_sql():
            cursor.execute(statement)
