"""Count live rows per superblock of 64,000 ids too, beside the blocks of 1,000.

A page is then found by summing ~N / 64,000 superblock rows and at most 64 block rows, instead
of all N / 1,000 block rows: flat cost per page to many millions of rows. The counts are
kept by the same triggers as before (replaced here), in the same transaction as every write.
"""

from django.db import migrations

BLOCK = 1000
SUPERBLOCK = 64_000
TABLES = {"order": "shop_order", "customer": "shop_customer"}
LEVELS = [("", BLOCK), ("/64k", SUPERBLOCK)]


def _sqlite_triggers(entity: str, table: str) -> list[str]:
    upserts = " ".join(
        "INSERT INTO feeds_liveblock (entity, block, live) "
        f"SELECT '{entity}{suffix}', NEW.id / {size}, 1 WHERE NEW.deleted_at IS NULL "
        "ON CONFLICT (entity, block) DO UPDATE SET live = live + 1;"
        for suffix, size in LEVELS
    )
    decrements = " ".join(
        "UPDATE feeds_liveblock SET live = live - 1 "
        f"WHERE entity = '{entity}{suffix}' AND block = OLD.id / {size} "
        "AND OLD.deleted_at IS NULL;"
        for suffix, size in LEVELS
    )
    return [
        f"""CREATE TRIGGER feeds_{entity}_live_insert AFTER INSERT ON {table}
            WHEN NEW.deleted_at IS NULL BEGIN {upserts} END""",
        f"""CREATE TRIGGER feeds_{entity}_live_update AFTER UPDATE OF id, deleted_at ON {table}
            WHEN (OLD.deleted_at IS NULL) != (NEW.deleted_at IS NULL) OR OLD.id != NEW.id
            BEGIN {decrements} {upserts} END""",
        f"""CREATE TRIGGER feeds_{entity}_live_delete AFTER DELETE ON {table}
            WHEN OLD.deleted_at IS NULL BEGIN {decrements} END""",
    ]


POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION feeds_liveblock_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    level record;
BEGIN
    FOR level IN
        SELECT * FROM (VALUES (TG_ARGV[0], {BLOCK}), (TG_ARGV[0] || '/64k', {SUPERBLOCK}))
        AS levels (name, size)
    LOOP
        IF TG_OP = 'INSERT' THEN
            INSERT INTO feeds_liveblock (entity, block, live)
            SELECT level.name, id / level.size, count(*) FROM new_rows
            WHERE deleted_at IS NULL GROUP BY id / level.size ORDER BY 2
            ON CONFLICT (entity, block) DO UPDATE
                SET live = feeds_liveblock.live + EXCLUDED.live;
        ELSIF TG_OP = 'DELETE' THEN
            UPDATE feeds_liveblock b SET live = b.live - d.n
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
            INSERT INTO feeds_liveblock (entity, block, live)
            SELECT level.name, block, n FROM delta ORDER BY block
            ON CONFLICT (entity, block) DO UPDATE
                SET live = feeds_liveblock.live + EXCLUDED.live;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
"""


def _recount(entity: str, table: str) -> list[str]:
    statements = []
    for suffix, size in LEVELS:
        statements += [
            f"DELETE FROM feeds_liveblock WHERE entity = '{entity}{suffix}'",
            f"""INSERT INTO feeds_liveblock (entity, block, live)
                SELECT '{entity}{suffix}', id / {size}, count(*) FROM {table}
                WHERE deleted_at IS NULL GROUP BY id / {size}""",
        ]
    return statements


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # Same trigger names and arguments: only the function changes.
        statements = [POSTGRES_FUNCTION]
    elif vendor == "sqlite":
        statements = []
        for entity, table in TABLES.items():
            for action in ("insert", "update", "delete"):
                statements.append(f"DROP TRIGGER IF EXISTS feeds_{entity}_live_{action}")
            statements += _sqlite_triggers(entity, table)
    else:
        raise NotImplementedError(f"The feed's counters need triggers for {vendor}.")
    for entity, table in TABLES.items():
        statements += _recount(entity, table)
    for statement in statements:
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):
    # Back to blocks only: the previous migration's triggers, superblock rows removed.
    import importlib

    previous = importlib.import_module("feeds.migrations.0002_live_block_triggers")
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = [previous.POSTGRES_FUNCTION]
    else:
        statements = []
        for entity, table in TABLES.items():
            for action in ("insert", "update", "delete"):
                statements.append(f"DROP TRIGGER IF EXISTS feeds_{entity}_live_{action}")
            statements += previous._sqlite_triggers(entity, table)
    statements.append("DELETE FROM feeds_liveblock WHERE entity LIKE '%/64k'")
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("feeds", "0003_request_log_triggers")]

    operations = [migrations.RunPython(create, drop)]
