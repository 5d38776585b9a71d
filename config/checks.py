"""System checks for what the app cannot serve without, registered in SiteConfig.ready().

When they run (Django 5.2): every check is called before runserver, migrate and every other
management command, but only `migrate` and `check --database ALIAS` pass `databases`; a check
tagged `database` does nothing without them, as Django's own do, and nothing runs checks
under WSGI. So the hash keys, which are settings, are checked before every command; the cache
table, which needs a query, is checked by `migrate`, by `check --database default`, and by
gunicorn before it forks its workers (config/gunicorn.py).
"""

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import BaseDatabaseCache
from django.core.checks import CheckMessage, Error, Warning
from django.db import DatabaseError, connections, router
from django.db.migrations.recorder import MigrationRecorder

# The migration that creates the cache table; until it is applied, `migrate` will create it.
CACHE_TABLE_MIGRATION = ("config", "0001_cache_table")

HASH_KEYS = {
    "FEED_TOKEN_HASH_KEY": ("feed tokens", "config.E001"),
    "API_KEY_HASH_KEY": ("REST API keys", "config.E002"),
}


def check_hash_keys(app_configs=None, **kwargs) -> list[CheckMessage]:
    """Refuse to start without the keys under which feed tokens and API keys are hashed."""
    return [
        Error(
            f"{name} is empty: {what} can be neither stored nor checked.",
            hint=f"Set {name} in the environment (production falls back to SECRET_KEY).",
            id=check_id,
        )
        for name, (what, check_id) in HASH_KEYS.items()
        if not getattr(settings, name, "")
    ]


def check_cache_tables(app_configs=None, databases=None, **kwargs) -> list[CheckMessage]:
    """Refuse to start when the database cache is configured but its table is missing."""
    if not databases:
        return []
    entries = [
        cache.cache_model_class
        for cache in (caches[name] for name in settings.CACHES)
        if isinstance(cache, BaseDatabaseCache)
    ]
    messages: list[CheckMessage] = []
    for alias in databases:
        wanted = [
            entry._meta.db_table for entry in entries if router.allow_migrate_model(alias, entry)
        ]
        if not wanted:
            continue
        connection = connections[alias]
        try:
            recorder = MigrationRecorder(connection)
            if not recorder.has_table() or (
                CACHE_TABLE_MIGRATION not in recorder.applied_migrations()
            ):
                continue
            existing = set(connection.introspection.table_names())
        except DatabaseError as exc:
            messages.append(
                Warning(
                    f"Could not look for the cache table in the {alias!r} database: {exc}",
                    id="config.W001",
                )
            )
            continue
        messages.extend(
            Error(
                f"The database cache's table {table!r} is missing from the {alias!r} database.",
                hint="Run `python manage.py createcachetable`; Django's cache needs it.",
                id="config.E003",
            )
            for table in wanted
            if table not in existing
        )
    return messages
