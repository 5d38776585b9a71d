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
