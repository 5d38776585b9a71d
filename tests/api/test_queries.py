import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, ProductFactory


def make_orders(n):
    customer = CustomerFactory()
    for _ in range(n):
        OrderFactory(customer=customer, items=3)


# On PostgreSQL a read first sets its statement timeout (shop.api.deadline): one query more.
DEADLINE = 1 if connection.vendor == "postgresql" else 0
# ... and a sync page first reads where the write transactions still running began
# (shop.api.selectors.sync_horizon): one more.
HORIZON = 1 if connection.vendor == "postgresql" else 0

LISTS = [
    # url, factory of n records, queries: the key, the rate limit's hit (one upsert), the
    # count, the page (+ line items)
    ("/api/v1/customers", lambda n: [OrderFactory(items=1) for _ in range(n)], 4),
    ("/api/v1/customers?currency=egp&has_orders=true&ordering=-updated_at", None, 4),
    ("/api/v1/orders", make_orders, 5),
    ("/api/v1/orders?currency=EGP&min_total=1&ordering=-total_price", None, 5),
    # Cursor pages count nothing: the key, the hit, the page (+ line items)
    ("/api/v1/customers?cursor=&updated_after=2000-01-01T00:00:00Z", None, 3 + HORIZON),
    ("/api/v1/orders?cursor=&per_page=250", make_orders, 4),
    ("/api/v1/products", ProductFactory.create_batch, 4),
    ("/api/v1/categories", lambda n: CategoryFactory.create_batch(n, parent=None), 4),
]


@pytest.mark.parametrize(("url", "factory", "queries"), LISTS)
def test_a_list_page_costs_the_same_few_queries_for_any_number_of_rows(
    api, django_assert_num_queries, url, factory, queries
):
    factory = factory or (lambda n: [OrderFactory(items=1) for _ in range(n)])
    queries += DEADLINE
    factory(2)
    api.get(url)  # records the key's first use

    with django_assert_num_queries(queries):
        assert len(api.get(url).json()["data"]) >= 2

    factory(25)
    with django_assert_num_queries(queries):
        assert len(api.get(url).json()["data"]) >= 25


def test_query_count_is_constant_with_the_database_cache_too(api):
    make_orders(2)
    api.get("/api/v1/orders")
    with CaptureQueriesContext(connection) as few:
        api.get("/api/v1/orders")
    make_orders(30)
    with CaptureQueriesContext(connection) as many:
        api.get("/api/v1/orders")
    assert len(many) == len(few)


WRITES = [
    ("put", "", {"email": "a@example.com", "first_name": "A", "last_name": "B"}),
    ("patch", "", {"first_name": "Changed"}),
    ("delete", "", None),
    ("post", "/restore", None),
]


@pytest.mark.skipif(
    not connection.features.has_select_for_update, reason="the database has no row locks"
)
@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
def test_a_write_locks_the_record_row_before_it_reads_the_record(api, method, suffix, body):
    customer = CustomerFactory()
    with CaptureQueriesContext(connection) as queries:
        response = getattr(api, method)(
            f"/api/v1/customers/{customer.pk}{suffix}", body, format="json"
        )
    assert response.status_code in (200, 204)
    reads = [query["sql"] for query in queries if 'FROM "shop_customer"' in query["sql"]]
    assert "FOR UPDATE" in reads[0]
