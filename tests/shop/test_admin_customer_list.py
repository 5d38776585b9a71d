"""The customer list at any size: its search reads indexes, its count the feed's counters, and
its figures are read for the page's rows only, so a page costs the same number of queries at a
few customers as at 200,000."""

from decimal import Decimal

import pytest
from django.urls import reverse

from backoffice import admin_lists
from feeds import counters
from shop import services
from shop.models import Customer
from tests.factories import CustomerFactory, ProductFactory
from tests.plans import full_scans, plan

URL = reverse("admin:shop_customer_changelist")

# (query string, queries the page runs): the store, session and user; currencies in use; the
# count; the page; the page's figures.
PAGES = [
    ("", 7),
    ("?p=2", 7),
    ("?q=nour", 7),
    ("?q=NOUR", 7),
    ("?q=hass", 7),
    ("?q=Nour+Has", 7),
    ("?q=Nour%40Example.com", 7),
    ("?q=nour%40", 7),
    ("?q=%2B20+100+123+4567", 7),
    ("?q=201001234567", 7),
    ("?currency=EGP", 7),
    ("?gender__exact=unknown", 7),
    ("?accepts_marketing__exact=0", 7),
    ("?deleted=all", 7),
]


def _orders(customer, n: int, **fields) -> None:
    product = ProductFactory()
    for _ in range(n):
        services.order_create(
            customer=customer,
            line_items=[services.LineItemInput(product=product, quantity=1)],
            country_code="EG",
            financial_status=fields.get("financial_status", "successful"),
            currency=fields.get("currency", customer.currency),
        )


@pytest.fixture
def buyer(store):
    return CustomerFactory(
        first_name="Nour",
        last_name="Hassan",
        email="Nour@Example.com",
        phone="+20 100 123 4567",
    )


@pytest.mark.parametrize(("query", "queries"), PAGES)
def test_customer_list_runs_as_many_queries_at_any_size(
    admin_client, buyer, django_assert_num_queries, query, queries
):
    _orders(buyer, 2)
    with django_assert_num_queries(queries):
        assert admin_client.get(URL + query).status_code == 200
    for customer in CustomerFactory.create_batch(120, first_name="Sam", last_name="Jones"):
        _orders(customer, 1)
    _orders(buyer, 20)
    with django_assert_num_queries(queries):
        response = admin_client.get(URL + query)
    assert response.status_code == 200
    assert response.context["cl"].result_list


def _found(client, term: str) -> set[int]:
    response = client.get(URL, {"q": term})
    assert response.status_code == 200
    return {row.pk for row in response.context["cl"].result_list}


def test_customer_search_finds_by_the_start_of_a_name_an_email_or_by_phone(admin_client, buyer):
    other = CustomerFactory(
        first_name="Hassan",
        last_name="Nourallah",
        email="h.n@example.org",
        phone="(0100) 555-0000",
    )
    third = CustomerFactory(first_name="Sam", last_name="Jones", email="sam@example.net")
    both = {buyer.pk, other.pk}
    assert _found(admin_client, "Nour") == both
    assert _found(admin_client, "nOU") == both
    assert _found(admin_client, "hass") == both
    assert _found(admin_client, "nour hass") == {buyer.pk}
    assert _found(admin_client, "  NOUR   Hassan ") == {buyer.pk}
    assert _found(admin_client, "hassan nour") == {other.pk}
    assert _found(admin_client, "Nour@example.com") == {buyer.pk}
    assert _found(admin_client, "NOUR@") == {buyer.pk}
    assert _found(admin_client, "sam@example.NET") == {third.pk}
    assert _found(admin_client, "+20 100 123 4567") == {buyer.pk}
    assert _found(admin_client, "20-100-123-4567") == {buyer.pk}
    assert _found(admin_client, "201001234567") == {buyer.pk}
    assert _found(admin_client, "0100 555 0000") == {other.pk}
    # The start only: no contains-search.
    assert _found(admin_client, "our") == set()
    assert _found(admin_client, "example.com") == set()
    assert _found(admin_client, "1234567") == set()


def test_customer_search_finds_names_in_any_script(admin_client, store):
    nour = CustomerFactory(first_name="نور", last_name="الهدى")
    assert _found(admin_client, "نو") == {nour.pk}
    assert _found(admin_client, "نور اله") == {nour.pk}


def test_customer_search_takes_wildcards_literally(admin_client, store):
    CustomerFactory(first_name="Nour", last_name="Hassan")
    assert _found(admin_client, "n%") == set()
    assert _found(admin_client, "n_ur") == set()


@pytest.mark.parametrize(
    ("term", "status"),
    [("\U0010ffff", 200), ("n\U0010ffff", 200), ("a" * 5000, 200), ("n\x00our", 400)],
)
def test_customer_search_answers_any_text_without_a_server_error(admin_client, buyer, term, status):
    assert admin_client.get(URL, {"q": term}).status_code == status


def test_customer_list_shows_the_figures_of_the_page_rows(admin_client, buyer):
    usd = CustomerFactory(currency="USD")
    _orders(buyer, 2)
    _orders(buyer, 1, financial_status="pending")
    _orders(usd, 1)
    _orders(usd, 1, currency="EGP")
    response = admin_client.get(URL)
    figures = {
        row.pk: (row.orders_count, row.total_spent) for row in response.context["cl"].result_list
    }
    expected = Customer.objects.with_order_stats().values_list("pk", "orders_count", "total_spent")
    assert figures == {pk: (count, Decimal(total)) for pk, count, total in expected}
    assert figures[buyer.pk][0] == 2
    assert figures[usd.pk][0] == 2


def test_a_customer_without_orders_shows_zero(admin_client, buyer):
    response = admin_client.get(URL)
    (row,) = response.context["cl"].result_list
    assert (row.orders_count, row.total_spent) == (0, Decimal("0.00"))


def test_unfiltered_customer_count_is_the_live_customers_kept_by_the_feed_counters(
    admin_client, buyer
):
    gone = CustomerFactory()
    CustomerFactory()
    services.customer_soft_delete(customer=gone)
    assert admin_lists.live_count(admin_lists.LIVE_CUSTOMERS_ENTITY) == 2
    response = admin_client.get(URL)
    assert response.context["cl"].result_count == 2
    assert "2 customers" in response.content.decode()
    assert admin_client.get(URL, {"deleted": "all"}).context["cl"].result_count == 3


def test_a_searched_count_past_the_cap_says_more_than(admin_client, store, monkeypatch):
    monkeypatch.setattr(admin_lists, "COUNT_CAP", 2)
    CustomerFactory.create_batch(3, first_name="Nour")
    assert "more than 2 customers" in admin_client.get(URL, {"q": "nour"}).content.decode()


def test_the_live_customer_counts_the_admin_reads_are_the_feeds():
    assert admin_lists.LIVE_CUSTOMERS_ENTITY == counters.CUSTOMER_ENTITY + counters.SUPER_SUFFIX


def test_the_order_form_finds_a_customer_by_name(admin_client, buyer):
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"term": "nour has", "app_label": "shop", "model_name": "order", "field_name": "customer"},
    )
    assert [r["id"] for r in response.json()["results"]] == [str(buyer.pk)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "term",
    ["nour", "Nour Has", "nour@example.com", "+20 100 123 4567", "201001234567"],
    ids=["name", "first and last name", "email", "formatted phone", "phone"],
)
def test_customer_search_reads_indexes_only(term):
    rows = admin_lists.customer_search(Customer.objects.alive(), term).order_by("-id")[:50]
    sql, params = rows.query.sql_with_params()
    assert full_scans(plan(sql, params)) == []
