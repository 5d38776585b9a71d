"""The order list at any size: its widgets read indexes and counters, never the whole table,
so a page costs the same number of queries at a few orders as at a million."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from backoffice import admin_lists
from feeds import counters
from shop import services
from shop.models import Customer, Order
from tests.factories import CustomerFactory, ProductFactory
from tests.plans import full_scans, plan

URL = reverse("admin:shop_order_changelist")

# (query string, queries the page runs): the store, session and user; currencies and
# countries in use; the count; the page; the first and last date.
PAGES = [
    ("", 9),
    ("?p=2", 9),
    ("?financial_status__exact=successful", 9),
    ("?currency=USD", 9),
    ("?q=Buyer%40Example.com", 9),
    ("?q=buyer", 9),
    ("?q=%2B20+100+123+4567", 9),
    ("?q=201001234567", 9),
    ("?ordered_at__year=2025", 9),
    ("?ordered_at__year=2025&ordered_at__month=3", 9),
    ("?ordered_at__year=2025&ordered_at__month=3&ordered_at__day=4", 7),
    ("?deleted=all", 9),
]


def _orders(n: int, *, customer=None, **fields) -> list[Order]:
    product = ProductFactory()
    customer = customer or CustomerFactory()
    return [
        services.order_create(
            customer=customer,
            line_items=[services.LineItemInput(product=product, quantity=1)],
            country_code=fields.pop("country_code", "EG"),
            financial_status=fields.pop("financial_status", "successful"),
            **fields,
        )
        for _ in range(n)
    ]


@pytest.fixture
def buyer(store):
    return CustomerFactory(email="Buyer@Example.com", phone="+20 100 123 4567")


@pytest.mark.parametrize(("query", "queries"), PAGES)
def test_order_list_runs_as_many_queries_at_any_size(
    admin_client, buyer, django_assert_num_queries, query, queries
):
    _orders(3, customer=buyer, ordered_at=datetime(2025, 3, 4, 10, tzinfo=UTC), currency="USD")
    with django_assert_num_queries(queries):
        assert admin_client.get(URL + query).status_code == 200
    _orders(120, ordered_at=datetime(2024, 1, 2, tzinfo=UTC))
    _orders(120, customer=buyer, ordered_at=datetime(2025, 3, 5, tzinfo=UTC), currency="USD")
    with django_assert_num_queries(queries):
        assert admin_client.get(URL + query).status_code == 200


def test_a_deep_page_reads_its_ids_then_its_rows(
    admin_client, buyer, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(admin_lists, "DEEP_OFFSET", 100)
    orders = _orders(160, customer=buyer)
    with django_assert_num_queries(10):
        response = admin_client.get(URL, {"p": "3"})
    assert [o.pk for o in response.context["cl"].result_list] == [o.pk for o in orders[100:150]]


def _found(client, term: str) -> set[int]:
    response = client.get(URL, {"q": term})
    assert response.status_code == 200
    return {row.pk for row in response.context["cl"].result_list}


def test_order_search_finds_an_order_by_number_email_or_phone(admin_client, buyer):
    mine = _orders(2, customer=buyer)
    other = CustomerFactory(email="someone@example.com", phone="01005550000")
    theirs = _orders(1, customer=other)[0]
    ids = {o.pk for o in mine}
    assert _found(admin_client, str(theirs.pk)) == {theirs.pk}
    assert _found(admin_client, f"#{theirs.pk}") == {theirs.pk}
    assert _found(admin_client, "buyer@example.COM") == ids
    assert _found(admin_client, "BUY") == ids
    assert _found(admin_client, "+20 100 123 4567") == ids
    assert _found(admin_client, "20-100-123-4567") == ids
    assert _found(admin_client, "201001234567") == ids
    assert _found(admin_client, "(0100) 555-0000") == {theirs.pk}
    assert _found(admin_client, "example.com") == set()
    assert _found(admin_client, "nobody@") == set()
    assert _found(admin_client, "buyer\U0010ffff") == set()


def test_order_filters_list_only_the_currencies_and_countries_in_use(admin_client, buyer):
    _orders(1, customer=buyer, currency="USD", country_code="US")
    _orders(1, customer=buyer, currency="EUR", country_code="FR")
    _orders(1, customer=buyer, currency="USD", country_code="EG")
    response = admin_client.get(URL)
    choices = {
        spec.title: [c["display"] for c in spec.choices(response.context["cl"])][1:]
        for spec in response.context["cl"].filter_specs
    }
    assert choices["currency"] == ["EUR", "USD"]
    assert choices["country"] == ["EG", "FR", "US"]


def test_order_dates_drill_down_offers_the_years_from_the_first_order_to_the_last(
    admin_client, buyer
):
    _orders(1, customer=buyer, ordered_at=datetime(2022, 5, 1, 12, tzinfo=UTC))
    _orders(1, customer=buyer, ordered_at=datetime(2024, 7, 1, 12, tzinfo=UTC))
    page = admin_client.get(URL).content.decode()
    for year in ("2022", "2023", "2024"):
        assert f"?ordered_at__year={year}" in page
    page = admin_client.get(URL, {"ordered_at__year": "2024"}).content.decode()
    assert "ordered_at__month=7" in page
    assert "ordered_at__month=6" not in page


def test_unfiltered_order_count_is_the_live_orders_kept_by_the_feed_counters(admin_client, buyer):
    orders = _orders(4, customer=buyer)
    services.order_soft_delete(order=orders[0])
    assert admin_lists.live_orders_count() == Order.objects.alive().count() == 3
    response = admin_client.get(URL)
    assert response.context["cl"].result_count == 3
    assert "3 orders" in response.content.decode()


def test_a_filtered_count_past_the_cap_says_more_than(admin_client, buyer, monkeypatch):
    monkeypatch.setattr(admin_lists, "COUNT_CAP", 2)
    _orders(3, customer=buyer)
    response = admin_client.get(URL, {"financial_status__exact": "successful"})
    assert "more than 2 orders" in response.content.decode()
    response = admin_client.get(URL, {"financial_status__exact": "pending"})
    assert "0 orders" in response.content.decode()


def test_the_live_order_counts_the_admin_reads_are_the_feeds():
    assert admin_lists.LIVE_COUNTS_TABLE == counters.COUNTS_TABLE
    assert admin_lists.LIVE_ORDERS_ENTITY == counters.ORDER_ENTITY + counters.SUPER_SUFFIX


@pytest.mark.django_db
@pytest.mark.parametrize(
    "term", ["42", "Buyer@example", "+20 100 123 4567"], ids=["number", "email", "phone"]
)
def test_order_search_reads_indexes_only(term):
    sql, params = admin_lists.order_search(Order.objects.all(), term).query.sql_with_params()
    assert full_scans(plan(sql, params)) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "field"),
    [(Order, "currency"), (Order, "country_code"), (Customer, "currency")],
)
def test_values_in_use_read_an_index(model, field, django_assert_num_queries):
    with django_assert_num_queries(1) as captured:
        assert admin_lists.values_in_use(model, field) == []
    assert full_scans(plan(captured.captured_queries[0]["sql"])) == []
