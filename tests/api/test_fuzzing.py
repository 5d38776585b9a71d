"""schemathesis over the OpenAPI schema, with every check of `schemathesis run --checks all`:
no server error; documented statuses, headers and bodies; and the schema saying what
validation enforces, so a request the schema allows is accepted (or refused by the store's
data, 409) and one it forbids is refused.

The suite runs a bounded, derandomized fuzz of every operation, and test_schema_contract.py
tries every constraint of every request schema deterministically. API_FUZZ_DEEP=1 adds
schemathesis' coverage phase (every boundary and malformed value of every parameter and
field) and ten times the examples, as the command line's run does: about a quarter of an
hour, for before a release.
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import checks

from shop.api.models import IdempotentRequest
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, ProductFactory

DEEP = os.environ.get("API_FUZZ_DEEP") == "1"

# Loaded through the app itself, at collection; serving the schema needs no database.
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/",
    get_wsgi_application(),
    config=schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": DEEP}}}),
)


@pytest.fixture
def fuzz_key(store, make_key):
    """A key with every scope and no practical rate limit, beside records with small ids so
    generated ids sometimes hit one."""
    for _ in range(3):
        OrderFactory(customer=CustomerFactory(), items=1)
    CategoryFactory(parent=CategoryFactory())
    ProductFactory(category=None)
    # Requests go through the real WSGI handler, whose signals would close the test's
    # connection (and its transaction) on PostgreSQL; Django's test client does the same.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield make_key(rate_limit=1_000_000)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=300 if DEEP else 60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_generated_requests_get_documented_answers_and_no_server_error(case, fuzz_key):
    # Every built-in check runs, as `--checks all` does; but a bulk request with a record
    # that breaks the record's schema is answered 200 by default (error_policy per_record:
    # the good records are written, that record's result names its fields).
    excluded = [checks.negative_data_rejection] if case.path.endswith("/bulk") else []
    # Each example is a request of its own: an Idempotency-Key an earlier example happened to
    # send with another body would be a 422, rightly.
    IdempotentRequest.objects.all().delete()
    case.call_and_validate(
        headers={"Authorization": f"Bearer {fuzz_key}"}, excluded_checks=excluded
    )
