import pytest
from django.core.cache import cache

from tests.factories import StoreFactory


@pytest.fixture(autouse=True)
def _empty_shared_cache(request, django_db_blocker):
    """Leave the shared cache empty after every test that used the database."""
    yield
    if "django_db_setup" in request.fixturenames:
        with django_db_blocker.unblock():
            cache.clear()


@pytest.fixture
def store(db):
    return StoreFactory()
