"""Upkeep carried by each request-log INSERT, so a feed request pays no extra statement for it.

- A token's last_used_at is written when a request it authenticated is logged, at most once
  a minute.
- On every 500th row (by id), rows older than 30 days and all but the newest 100,000 are
  deleted. The numbers match feeds/tokens.py and feeds/requestlog.py (a test checks).
"""

from django.db import migrations

SQLITE = [
    """
    CREATE TRIGGER feeds_token_last_used AFTER INSERT ON feeds_feedrequest
    WHEN NEW.token_id IS NOT NULL BEGIN
        UPDATE feeds_feedtoken SET last_used_at = NEW.created_at
        WHERE id = NEW.token_id
          AND (last_used_at IS NULL OR last_used_at < datetime(NEW.created_at, '-60 seconds'));
    END
    """,
    """
    CREATE TRIGGER feeds_request_prune AFTER INSERT ON feeds_feedrequest
    WHEN NEW.id % 500 = 0 BEGIN
        DELETE FROM feeds_feedrequest WHERE id <= NEW.id - 100000;
        DELETE FROM feeds_feedrequest WHERE created_at < datetime(NEW.created_at, '-30 days');
    END
    """,
]

POSTGRES = [
    """
    CREATE OR REPLACE FUNCTION feeds_token_touch() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE feeds_feedtoken SET last_used_at = NEW.created_at
        WHERE id = NEW.token_id
          AND (last_used_at IS NULL OR last_used_at < NEW.created_at - interval '60 seconds');
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER feeds_token_last_used AFTER INSERT ON feeds_feedrequest
    FOR EACH ROW WHEN (NEW.token_id IS NOT NULL) EXECUTE FUNCTION feeds_token_touch()
    """,
    """
    CREATE OR REPLACE FUNCTION feeds_request_prune() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM feeds_feedrequest WHERE id <= NEW.id - 100000;
        DELETE FROM feeds_feedrequest WHERE created_at < NEW.created_at - interval '30 days';
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER feeds_request_prune AFTER INSERT ON feeds_feedrequest
    FOR EACH ROW WHEN (NEW.id % 500 = 0) EXECUTE FUNCTION feeds_request_prune()
    """,
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"The request log's triggers need writing for {vendor}.")
    for statement in SQLITE if vendor == "sqlite" else POSTGRES:
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for name in ("feeds_token_last_used", "feeds_request_prune"):
        on = " ON feeds_feedrequest" if postgres else ""
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}{on}")
    if postgres:
        schema_editor.execute("DROP FUNCTION IF EXISTS feeds_token_touch()")
        schema_editor.execute("DROP FUNCTION IF EXISTS feeds_request_prune()")


class Migration(migrations.Migration):
    dependencies = [("feeds", "0002_live_block_triggers")]

    operations = [migrations.RunPython(create, drop)]
