import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from shop.api.models import SCOPE_NAMES
from shop.api.services import api_key_create

ALL_SCOPES = sorted(SCOPE_NAMES)


@pytest.fixture(autouse=True)
def _empty_cache(db):
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_key(db):
    def make(scopes=ALL_SCOPES, **kwargs):
        _, raw = api_key_create(name="Test key", scopes=list(scopes), **kwargs)
        return raw

    return make


@pytest.fixture
def make_client(make_key):
    def make(scopes=ALL_SCOPES, **kwargs):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(scopes, **kwargs)}")
        return client

    return make


@pytest.fixture
def api(store, make_client):
    """A client whose key has every scope."""
    return make_client()
