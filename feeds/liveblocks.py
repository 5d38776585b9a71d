"""Check and rebuild the live-row counts the feed pages by.

Triggers keep them (feeds/migrations/0002_live_block_triggers.py); these functions are for
verifying that, and for repairing counts after a write that bypassed the triggers.
"""

from django.db import connection, transaction

from shop.models import Customer, Order

from .models import LiveBlock
from .selectors import BLOCK, CUSTOMER_ENTITY, ORDER_ENTITY

MODELS = {ORDER_ENTITY: Order, CUSTOMER_ENTITY: Customer}


def live_blocks_counted(entity: str) -> dict[int, int]:
    """Count live rows per block straight from the table."""
    table = connection.ops.quote_name(MODELS[entity]._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id / {BLOCK}, COUNT(*) FROM {table} "
            f"WHERE deleted_at IS NULL GROUP BY id / {BLOCK}"
        )
        return {int(block): int(live) for block, live in cursor.fetchall()}


def live_blocks_stored(entity: str) -> dict[int, int]:
    """Return the stored counts, leaving out empty blocks."""
    rows = LiveBlock.objects.filter(entity=entity).exclude(live=0)
    return dict(rows.values_list("block", "live"))


def live_blocks_mismatches() -> dict[str, dict[int, tuple[int, int]]]:
    """Return {entity: {block: (stored, counted)}} for every block whose count is wrong."""
    found = {}
    for entity in MODELS:
        stored, counted = live_blocks_stored(entity), live_blocks_counted(entity)
        wrong = {
            block: (stored.get(block, 0), counted.get(block, 0))
            for block in stored.keys() | counted.keys()
            if stored.get(block, 0) != counted.get(block, 0)
        }
        if wrong:
            found[entity] = wrong
    return found


@transaction.atomic
def live_blocks_rebuild() -> None:
    """Recount every block from the tables."""
    for entity in MODELS:
        LiveBlock.objects.filter(entity=entity).delete()
        LiveBlock.objects.bulk_create(
            LiveBlock(entity=entity, block=block, live=live)
            for block, live in sorted(live_blocks_counted(entity).items())
        )
