import pytest

from tests.factories import StoreFactory


@pytest.fixture
def store(db):
    return StoreFactory()
