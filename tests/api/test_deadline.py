import time

import pytest
from django.db import connection
from django.db.models import IntegerField
from django.db.models.expressions import RawSQL

from shop.api import selectors
from tests.factories import OrderFactory

# Counts to a hundred million, one row at a time: minutes on either database.
SLOW = (
    "(WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 100000000) "
    "SELECT COUNT(*) FROM r)"
)


def slowly(select):
    def slow_select(*args, **kwargs):
        return (
            select(*args, **kwargs)
            .alias(slow=RawSQL(SLOW, [], output_field=IntegerField()))
            .filter(slow__gt=0)
        )

    return slow_select


# Transactional: a statement PostgreSQL cancels aborts the transaction it runs in, as it
# would a request's own; the test's wrapping transaction would not survive it.
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/orders/{pk}"])
def test_a_read_past_the_deadline_is_stopped_and_answered_503(api, settings, monkeypatch, path):
    order = OrderFactory()
    settings.API_QUERY_TIMEOUT_SECONDS = 0.05
    monkeypatch.setattr(selectors, "orders_for_api", slowly(selectors.orders_for_api))

    started = time.monotonic()
    response = api.get(path.format(pk=order.pk))

    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json() == {
        "status": 503,
        "code": "query_timeout",
        "message": (
            "The query took longer than 0.05 seconds and was stopped. Narrow the filters "
            "(a date range, a customer, a status) or ask for fewer records per page."
        ),
        "errors": {},
    }


@pytest.mark.django_db(transaction=True)
def test_the_deadline_ends_with_the_request(api, settings, monkeypatch):
    order = OrderFactory()
    settings.API_QUERY_TIMEOUT_SECONDS = 0.05
    with monkeypatch.context() as patch:
        patch.setattr(selectors, "orders_for_api", slowly(selectors.orders_for_api))
        assert api.get("/api/v1/orders").status_code == 503

    settings.API_QUERY_TIMEOUT_SECONDS = 10
    assert api.get(f"/api/v1/orders/{order.pk}").status_code == 200
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == "0"
        # Outside a request nothing stops a long statement.
        cursor.execute(
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r "
            "WHERE n < 300000) SELECT COUNT(*) FROM r"
        )
        assert cursor.fetchone()[0] == 300000


def test_reads_within_the_deadline_are_answered(api, settings):
    settings.API_QUERY_TIMEOUT_SECONDS = 10
    OrderFactory()
    assert api.get("/api/v1/orders?product=1").status_code == 200
