"""The paged endpoints run a constant number of SQL queries, whatever the page."""

import pytest

from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def filled(feed):
    customers = CustomerFactory.create_batch(6)
    for index in range(30):
        OrderFactory(customer=customers[index % 6], items=1 + index % 3)
    feed.post("storeinfo")  # the token's last_used_at is fresh: a crawl's steady state
    return feed


@pytest.mark.parametrize("endpoint", ["orders", "customers"])
@pytest.mark.parametrize(
    ("page", "per_page"), [(1, 100), (1, 1), (3, 7), (5, 6), (30, 1), (99, 10), (1, 1000)]
)
def test_a_page_costs_at_most_three_queries(
    filled, endpoint, page, per_page, django_assert_max_num_queries
):
    # The token check, the page (with its line items or order stats), the request log row.
    with django_assert_max_num_queries(3):
        body = filled.page(endpoint, page=page, per_page=per_page)
    assert body["current_page"] == page


@pytest.mark.parametrize("endpoint", ["orders", "customers"])
def test_the_query_count_does_not_grow_with_page_size(filled, endpoint, django_assert_num_queries):
    counts = []
    for per_page in (1, 10, 1000):
        with django_assert_num_queries(3) as captured:
            filled.page(endpoint, per_page=per_page)
        counts.append(len(captured.captured_queries))
    assert len(set(counts)) == 1
