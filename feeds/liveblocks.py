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
