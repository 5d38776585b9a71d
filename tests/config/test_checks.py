"""The start-up checks: the app refuses to start without what it cannot serve without."""

import pytest
from django.core.checks import Error, Warning, run_checks
from django.db import OperationalError, connection

from config import checks

DATABASE_CACHE = {"BACKEND": "django.core.cache.backends.db.DatabaseCache"}


def _ids(messages):
    return sorted(message.id for message in messages)


def test_the_checks_pass_on_a_migrated_database(db):
    messages = run_checks(databases=["default"])
    assert [m for m in messages if m.id.startswith("config.")] == []


@pytest.mark.parametrize(
    ("setting", "check_id"),
    [("FEED_TOKEN_HASH_KEY", "config.E001"), ("API_KEY_HASH_KEY", "config.E002")],
)
def test_an_empty_hash_key_is_an_error(settings, setting, check_id):
    setattr(settings, setting, "")
    messages = checks.check_hash_keys()
    assert _ids(messages) == [check_id]
    assert isinstance(messages[0], Error)
    assert setting in messages[0].hint


def test_a_missing_cache_table_is_an_error_with_a_hint(db, settings):
    settings.CACHES = {"default": {**DATABASE_CACHE, "LOCATION": "no_such_cache_table"}}
    messages = checks.check_cache_tables(databases=["default"])
    assert _ids(messages) == ["config.E003"]
    assert "no_such_cache_table" in messages[0].msg
    assert "createcachetable" in messages[0].hint


def test_the_cache_table_is_not_looked_for_without_a_database(settings):
    settings.CACHES = {"default": {**DATABASE_CACHE, "LOCATION": "no_such_cache_table"}}
    assert checks.check_cache_tables(databases=None) == []


def test_a_cache_elsewhere_needs_no_table(db, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert checks.check_cache_tables(databases=["default"]) == []


def test_an_unreachable_database_is_a_warning_not_an_error(db, settings, monkeypatch):
    settings.CACHES = {"default": {**DATABASE_CACHE, "LOCATION": "cache_table"}}

    def broken(*args, **kwargs):
        raise OperationalError("server closed the connection")

    monkeypatch.setattr(connection.introspection, "table_names", broken)
    messages = checks.check_cache_tables(databases=["default"])
    assert _ids(messages) == ["config.W001"]
    assert isinstance(messages[0], Warning)
