import pytest
from django.contrib.auth.models import Permission
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


@pytest.fixture
def staff_client(client, django_user_model):
    """Log the test client in as a staff user who holds only the permissions named."""

    def login(*codenames: str):
        user = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
        user.user_permissions.add(*(Permission.objects.get(codename=c) for c in codenames))
        client.force_login(user)
        return client

    return login


@pytest.fixture
def redis_url():
    """The throwaway Redis that `make test` starts (bin/with-redis), emptied before the test.

    Outside `make test` the Redis tests are skipped; under CI a missing Redis is an error.
    """
    import os

    url = os.environ.get("TEST_REDIS_URL", "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("TEST_REDIS_URL is not set: run the suite through bin/with-redis")
        pytest.skip("no Redis: run through bin/with-redis (make test does)")
    import redis

    redis.Redis.from_url(url).flushdb()
    return url
