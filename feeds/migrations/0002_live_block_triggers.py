"""Keep feeds_liveblock (live rows per block of 1000 ids) in step with orders and customers.

Triggers run in the same transaction as every write, whoever writes (services, admin, raw SQL,
COPY), so the counts are exact for any snapshot. SQLite gets row triggers; PostgreSQL gets
statement triggers over transition tables, so a bulk insert or COPY updates each block once.
Decrements only touch existing block rows: emptying the tables (as a test flush does on
SQLite, counts first) then leaves no negative counts behind.
"""

from django.db import migrations

BLOCK = 1000
TABLES = {"order": "shop_order", "customer": "shop_customer"}


def _sqlite_triggers(entity: str, table: str) -> list[str]:
    upsert = (
        "INSERT INTO feeds_liveblock (entity, block, live) "
        f"SELECT '{entity}', NEW.id / {BLOCK}, 1 WHERE NEW.deleted_at IS NULL "
        "ON CONFLICT (entity, block) DO UPDATE SET live = live + 1;"
    )
    decrement = (
        "UPDATE feeds_liveblock SET live = live - 1 "
        f"WHERE entity = '{entity}' AND block = OLD.id / {BLOCK} AND OLD.deleted_at IS NULL;"
    )
    return [
        f"""CREATE TRIGGER feeds_{entity}_live_insert AFTER INSERT ON {table}
            WHEN NEW.deleted_at IS NULL BEGIN {upsert} END""",
        f"""CREATE TRIGGER feeds_{entity}_live_update AFTER UPDATE OF id, deleted_at ON {table}
            WHEN (OLD.deleted_at IS NULL) != (NEW.deleted_at IS NULL) OR OLD.id != NEW.id
            BEGIN {decrement} {upsert} END""",
        f"""CREATE TRIGGER feeds_{entity}_live_delete AFTER DELETE ON {table}
            WHEN OLD.deleted_at IS NULL BEGIN {decrement} END""",
    ]


POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION feeds_liveblock_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO feeds_liveblock (entity, block, live)
        SELECT TG_ARGV[0], id / {BLOCK}, count(*) FROM new_rows
        WHERE deleted_at IS NULL GROUP BY id / {BLOCK} ORDER BY 2
        ON CONFLICT (entity, block) DO UPDATE SET live = feeds_liveblock.live + EXCLUDED.live;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE feeds_liveblock b SET live = b.live - d.n
        FROM (SELECT id / {BLOCK} AS block, count(*) AS n FROM old_rows
              WHERE deleted_at IS NULL GROUP BY id / {BLOCK}) d
        WHERE b.entity = TG_ARGV[0] AND b.block = d.block;
    ELSE
        WITH delta AS (
            SELECT block, sum(n) AS n FROM (
                SELECT id / {BLOCK} AS block, -1 AS n FROM old_rows WHERE deleted_at IS NULL
                UNION ALL
                SELECT id / {BLOCK}, 1 FROM new_rows WHERE deleted_at IS NULL
            ) changes GROUP BY block HAVING sum(n) <> 0
        )
        INSERT INTO feeds_liveblock (entity, block, live)
        SELECT TG_ARGV[0], block, n FROM delta ORDER BY block
        ON CONFLICT (entity, block) DO UPDATE SET live = feeds_liveblock.live + EXCLUDED.live;
    END IF;
    RETURN NULL;
END $$;
"""


def _postgres_triggers(entity: str, table: str) -> list[str]:
    call = f"FOR EACH STATEMENT EXECUTE FUNCTION feeds_liveblock_apply('{entity}')"
    return [
        f"""CREATE TRIGGER feeds_{entity}_live_insert AFTER INSERT ON {table}
            REFERENCING NEW TABLE AS new_rows {call}""",
        f"""CREATE TRIGGER feeds_{entity}_live_update AFTER UPDATE ON {table}
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows {call}""",
        f"""CREATE TRIGGER feeds_{entity}_live_delete AFTER DELETE ON {table}
            REFERENCING OLD TABLE AS old_rows {call}""",
    ]


def _recount(entity: str, table: str) -> list[str]:
    return [
        f"DELETE FROM feeds_liveblock WHERE entity = '{entity}'",
        f"""INSERT INTO feeds_liveblock (entity, block, live)
            SELECT '{entity}', id / {BLOCK}, count(*) FROM {table}
            WHERE deleted_at IS NULL GROUP BY id / {BLOCK}""",
    ]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = [POSTGRES_FUNCTION] if vendor == "postgresql" else []
    for entity, table in TABLES.items():
        if vendor == "postgresql":
            statements += _postgres_triggers(entity, table)
        elif vendor == "sqlite":
            statements += _sqlite_triggers(entity, table)
        else:
            raise NotImplementedError(f"The feed's counters need triggers for {vendor}.")
        statements += _recount(entity, table)
    for statement in statements:
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for entity, table in TABLES.items():
        for action in ("insert", "update", "delete"):
            on = f" ON {table}" if vendor == "postgresql" else ""
            schema_editor.execute(f"DROP TRIGGER IF EXISTS feeds_{entity}_live_{action}{on}")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS feeds_liveblock_apply()")
    schema_editor.execute("DELETE FROM feeds_liveblock")


class Migration(migrations.Migration):
    dependencies = [
        ("feeds", "0001_initial"),
        ("shop", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]
