"""converted.in's crawler walks every page of every endpoint: each live record exactly once."""

from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from shop import services
from shop.demo import seed
from shop.models import Category, Customer, Order, Product
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

LIVE = {
    "customers": lambda: Customer.objects.alive(),
    "orders": lambda: Order.objects.alive(),
    "products": lambda: Product.objects.alive(),
    "categories": lambda: Category.objects.alive().filter(parent__isnull=True),
}


def crawl_ids(feed, endpoint, per_page, size_field="per_page"):
    """Crawl an endpoint and check every envelope against the pages around it."""
    pages = list(feed.crawl(endpoint, size_field=size_field, per_page=per_page))
    total = pages[0]["total"]
    expected_last = max(1, -(-total // per_page))
    seen = []
    for number, body in enumerate(pages, start=1):
        assert body["current_page"] == number
        assert body["per_page"] == per_page
        assert body["total"] == total
        assert body["last_page"] == expected_last
        rows = len(body["data"])
        if rows:
            assert body["from"] == (number - 1) * per_page + 1
            assert body["to"] == body["from"] + rows - 1
        assert rows == (per_page if number < expected_last else total - (number - 1) * per_page)
        ids = [item["id"] for item in body["data"]]
        assert ids == sorted(ids)
        seen.extend(ids)
    assert len(pages) == expected_last
    assert len(seen) == total
    return seen


@pytest.fixture
def demo_store(store):
    seed(customers=40, orders=230, seed=7)
    # Soft deletes scattered through the ids, so pages have gaps to skip.
    for order in Order.objects.order_by("id")[5::17]:
        services.order_soft_delete(order=order)
    for customer in Customer.objects.order_by("id")[3::11]:
        for order in customer.orders.alive():
            services.order_soft_delete(order=order)
        services.customer_soft_delete(customer=customer)
    services.product_soft_delete(product=Product.objects.order_by("id")[4])
    return store


@pytest.mark.parametrize("endpoint", ["customers", "orders", "products", "categories"])
@pytest.mark.parametrize("per_page", [1, 3, 7, 10, 100, 1000])
def test_a_crawl_lists_every_live_record_exactly_once(demo_store, feed, endpoint, per_page):
    seen = crawl_ids(feed, endpoint, per_page)
    assert Counter(seen) == Counter(LIVE[endpoint]().values_list("id", flat=True))


@pytest.mark.parametrize("endpoint", ["customers", "orders", "products", "categories"])
def test_a_crawl_through_par_page_lists_every_live_record_exactly_once(demo_store, feed, endpoint):
    seen = crawl_ids(feed, endpoint, 9, size_field="par_page")
    assert sorted(seen) == list(LIVE[endpoint]().order_by("id").values_list("id", flat=True))


def test_a_crawl_of_a_demo_store_reaches_every_endpoint(demo_store, feed):
    assert feed.page("storeinfo")["data"]["name"] == demo_store.name
    for endpoint in LIVE:
        assert crawl_ids(feed, endpoint, 50)


def test_customer_stats_agree_with_the_orders_the_feed_lists(demo_store, feed):
    orders = [o for body in feed.crawl("orders", per_page=40) for o in body["data"]]
    customers = [c for body in feed.crawl("customers", per_page=13) for c in body["data"]]
    count = Counter()
    spent = defaultdict(Decimal)
    currency = {c["id"]: c["currency"] for c in customers}
    for order in orders:
        cid = order["customer"]["id"]
        if order["financial_status"] == "successful":
            count[cid] += 1
            if order["currency"] == currency.get(cid):
                spent[cid] += Decimal(str(order["total_price"]))
    assert any(count.values())
    for customer in customers:
        assert customer["orders_count"] == count[customer["id"]]
        assert Decimal(str(customer["total_spent"])) == spent[customer["id"]]


def test_records_inserted_or_updated_during_a_crawl_skip_and_repeat_nothing(store, feed):
    customers = CustomerFactory.create_batch(5)
    for index in range(23):
        OrderFactory(customer=customers[index % 5], items=1)
    before_orders = set(Order.objects.values_list("id", flat=True))
    before_customers = set(Customer.objects.values_list("id", flat=True))
    seen_orders, seen_customers = [], []
    for page in range(1, 7):
        seen_orders += [o["id"] for o in feed.page("orders", page=page, per_page=4)["data"]]
        seen_customers += [c["id"] for c in feed.page("customers", page=page, per_page=1)["data"]]
        # New records arrive and old ones change between two page requests.
        new_customer = CustomerFactory()
        OrderFactory(customer=new_customer, items=1)
        oldest = Order.objects.order_by("id").first()
        services.order_update(order=oldest, financial_status="refunded")
        services.customer_update(customer=customers[0], first_name=f"Renamed {page}")
    assert len(seen_orders) == len(set(seen_orders))
    assert before_orders <= set(seen_orders)
    assert len(seen_customers) == len(set(seen_customers))
    assert before_customers <= set(seen_customers)
