"""The feed's live-row counters: block sizes, names, and the SQL that keeps and rebuilds them.

`feeds_liveblock` holds, per table, how many live (not soft-deleted) rows have ids in each
block of BLOCK ids (entity "order") and each superblock of SUPERBLOCK ids ("order/64k").
Database triggers keep the counts in the same transaction as every write: row triggers on
SQLite, statement triggers over transition tables on PostgreSQL (a bulk insert or COPY updates
each block once). Decrements only touch existing rows, so emptying a table leaves no negative
counts behind.

This module is the one runtime owner of these rules: the selectors page by them, the bulk
load re-creates SQLite's triggers from them, `live_blocks_rebuild` recounts with them. The
migrations that installed the triggers keep their own copy of the SQL they ran (history does
not change when this module does); tests compare the database's triggers with this module.
"""

from shop.models import Customer, Order

from .models import LiveBlock

BLOCK = 1000
SUPERBLOCK = 64 * BLOCK
BLOCKS_PER_SUPERBLOCK = SUPERBLOCK // BLOCK
SUPER_SUFFIX = "/64k"
# (suffix of the counted entity's name, ids per block), finest first.
LEVELS = (("", BLOCK), (SUPER_SUFFIX, SUPERBLOCK))

ORDER_ENTITY = "order"
CUSTOMER_ENTITY = "customer"
MODELS = {ORDER_ENTITY: Order, CUSTOMER_ENTITY: Customer}

COUNTS_TABLE = LiveBlock._meta.db_table
ACTIONS = ("insert", "update", "delete")
POSTGRES_FUNCTION = "feeds_liveblock_apply"


def table(entity: str) -> str:
    """Return the table whose live rows `entity` counts."""
    return MODELS[entity]._meta.db_table


def trigger_names(entity: str) -> list[str]:
    """Return the names of the triggers that keep `entity`'s counts, on either database."""
    return [f"feeds_{entity}_live_{action}" for action in ACTIONS]


def sqlite_trigger_sql(entity: str) -> list[str]:
    """Return the CREATE TRIGGER statements of `entity`'s row triggers on SQLite."""
    upserts = " ".join(
        f"INSERT INTO {COUNTS_TABLE} (entity, block, live) "
        f"SELECT '{entity}{suffix}', NEW.id / {size}, 1 WHERE NEW.deleted_at IS NULL "
        "ON CONFLICT (entity, block) DO UPDATE SET live = live + 1;"
        for suffix, size in LEVELS
    )
    decrements = " ".join(
        f"UPDATE {COUNTS_TABLE} SET live = live - 1 "
        f"WHERE entity = '{entity}{suffix}' AND block = OLD.id / {size} "
        "AND OLD.deleted_at IS NULL;"
        for suffix, size in LEVELS
    )
    on_insert, on_update, on_delete = trigger_names(entity)
    return [
        f"""CREATE TRIGGER {on_insert} AFTER INSERT ON {table(entity)}
            WHEN NEW.deleted_at IS NULL BEGIN {upserts} END""",
        f"""CREATE TRIGGER {on_update} AFTER UPDATE OF id, deleted_at ON {table(entity)}
            WHEN (OLD.deleted_at IS NULL) != (NEW.deleted_at IS NULL) OR OLD.id != NEW.id
            BEGIN {decrements} {upserts} END""",
        f"""CREATE TRIGGER {on_delete} AFTER DELETE ON {table(entity)}
            WHEN OLD.deleted_at IS NULL BEGIN {decrements} END""",
    ]


def postgres_function_sql() -> str:
    """Return the PostgreSQL function every statement trigger calls with its entity's name."""
    return f"""
CREATE OR REPLACE FUNCTION {POSTGRES_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    level record;
BEGIN
    FOR level IN
        SELECT * FROM (VALUES (TG_ARGV[0], {BLOCK}), (TG_ARGV[0] || '{SUPER_SUFFIX}', {SUPERBLOCK}))
        AS levels (name, size)
    LOOP
        IF TG_OP = 'INSERT' THEN
            INSERT INTO {COUNTS_TABLE} (entity, block, live)
            SELECT level.name, id / level.size, count(*) FROM new_rows
            WHERE deleted_at IS NULL GROUP BY id / level.size ORDER BY 2
            ON CONFLICT (entity, block) DO UPDATE
                SET live = {COUNTS_TABLE}.live + EXCLUDED.live;
        ELSIF TG_OP = 'DELETE' THEN
            UPDATE {COUNTS_TABLE} b SET live = b.live - d.n
            FROM (SELECT id / level.size AS block, count(*) AS n FROM old_rows
                  WHERE deleted_at IS NULL GROUP BY id / level.size) d
            WHERE b.entity = level.name AND b.block = d.block;
        ELSE
            WITH delta AS (
                SELECT block, sum(n) AS n FROM (
                    SELECT id / level.size AS block, -1 AS n FROM old_rows
                    WHERE deleted_at IS NULL
                    UNION ALL
                    SELECT id / level.size, 1 FROM new_rows WHERE deleted_at IS NULL
                ) changes GROUP BY block HAVING sum(n) <> 0
            )
            INSERT INTO {COUNTS_TABLE} (entity, block, live)
            SELECT level.name, block, n FROM delta ORDER BY block
            ON CONFLICT (entity, block) DO UPDATE
                SET live = {COUNTS_TABLE}.live + EXCLUDED.live;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
"""


def postgres_trigger_sql(entity: str) -> list[str]:
    """Return the CREATE TRIGGER statements of `entity`'s statement triggers on PostgreSQL."""
    call = f"FOR EACH STATEMENT EXECUTE FUNCTION {POSTGRES_FUNCTION}('{entity}')"
    on_insert, on_update, on_delete = trigger_names(entity)
    return [
        f"""CREATE TRIGGER {on_insert} AFTER INSERT ON {table(entity)}
            REFERENCING NEW TABLE AS new_rows {call}""",
        f"""CREATE TRIGGER {on_update} AFTER UPDATE ON {table(entity)}
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows {call}""",
        f"""CREATE TRIGGER {on_delete} AFTER DELETE ON {table(entity)}
            REFERENCING OLD TABLE AS old_rows {call}""",
    ]


def count_sql(entity: str, size: int) -> str:
    """Return a SELECT of (block, live) for `entity`'s live rows per block of `size` ids."""
    return (
        f"SELECT id / {size} AS block, COUNT(*) AS live FROM {table(entity)} "
        f"WHERE deleted_at IS NULL GROUP BY id / {size}"
    )


def recount_sql(entity: str) -> list[str]:
    """Return the statements that replace `entity`'s stored counts with fresh ones."""
    statements = []
    for suffix, size in LEVELS:
        statements += [
            f"DELETE FROM {COUNTS_TABLE} WHERE entity = '{entity}{suffix}'",
            f"INSERT INTO {COUNTS_TABLE} (entity, block, live) "
            f"SELECT '{entity}{suffix}', block, live FROM ({count_sql(entity, size)}) counted",
        ]
    return statements
