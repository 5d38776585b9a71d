"""The database cache's table (rate limits, feed counters), so that `migrate` alone sets a
database up. It is made exactly as `createcachetable` makes it, for every DatabaseCache in
CACHES, and left alone where it already exists."""

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import BaseDatabaseCache
from django.core.management import call_command
from django.db import migrations, router


def create_cache_tables(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


def drop_cache_tables(apps, schema_editor):
    alias = schema_editor.connection.alias
    for name in settings.CACHES:
        cache = caches[name]
        if isinstance(cache, BaseDatabaseCache) and router.allow_migrate_model(
            alias, cache.cache_model_class
        ):
            schema_editor.execute(
                f"DROP TABLE IF EXISTS {schema_editor.quote_name(cache._table)}"
            )


class Migration(migrations.Migration):
    dependencies = []

    operations = [migrations.RunPython(create_cache_tables, drop_cache_tables, elidable=False)]
