"""Each endpoint's answer, exact to converted.in's contract, on small fixtures."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shop import services
from shop.models import Category, Product, Store
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db

NOON_UTC = datetime(2024, 3, 5, 12, 30, 45, tzinfo=UTC)


def test_storeinfo_reports_the_store_and_its_time_zone(feed):
    services.store_update(
        name="Cake Store",
        currency="USD",
        time_zone="America/New_York",
        email="hi@cake.example",
        description="Cakes every day",
        country="US",
    )
    assert feed.page("storeinfo") == {
        "code": 200,
        "data": {
            "name": "Cake Store",
            "currency": "USD",
            "time_zone": "America/New_York",
            "email": "hi@cake.example",
            "description": "Cakes every day",
            "country": "US",
            "country_code": "US",
        },
    }


def test_customers_feed_gives_each_key_of_the_contract(feed):
    customer = CustomerFactory(
        email="saleh@example.com",
        first_name="صالح",
        last_name="عادل",
        phone="",
        gender="male",
        currency="EGP",
        registered_at=NOON_UTC,
    )
    OrderFactory(customer=customer, items=1, item_price=Decimal("100.10"), phone="+2010000009")
    OrderFactory(customer=customer, items=1, item_price=Decimal("99.55"), phone="+2010000009")
    OrderFactory(customer=customer, items=1, financial_status="canceled", phone="+2010000009")
    assert feed.page("customers") == {
        "current_page": 1,
        "data": [
            {
                "id": customer.pk,
                "email": "saleh@example.com",
                "first_name": "صالح",
                "last_name": "عادل",
                "orders_count": 2,
                "total_spent": 199.65,
                "currency": "EGP",
                "phone": None,
                "registered_at": "2024-03-05 14:30:45",
                "gender": "male",
            }
        ],
        "from": 1,
        "last_page": 1,
        "per_page": 100,
        "to": 1,
        "total": 1,
    }


def test_customers_total_spent_is_an_integer_when_whole_and_zero_without_orders(feed):
    rich = CustomerFactory()
    OrderFactory(customer=rich, items=7, item_price=Decimal("50.00"))
    CustomerFactory()
    data = feed.page("customers")["data"]
    assert [(c["orders_count"], c["total_spent"]) for c in data] == [(1, 350), (0, 0)]
    assert b'"total_spent":350,' in feed.post("customers").content


def test_customers_total_spent_counts_only_orders_in_the_customers_currency(feed):
    customer = CustomerFactory(currency="EGP")
    OrderFactory(customer=customer, items=1, item_price=Decimal("10.00"))
    OrderFactory(customer=customer, items=1, item_price=Decimal("99.00"), currency="USD")
    [row] = feed.page("customers")["data"]
    assert (row["orders_count"], row["total_spent"]) == (2, 10)


def test_orders_feed_gives_each_key_of_the_contract(feed):
    customer = CustomerFactory(phone="+201000000001", email="bob@example.com")
    product = ProductFactory(price=Decimal("50.00"))
    order = services.order_create(
        customer=customer,
        line_items=[
            services.LineItemInput(product=product, quantity=2),
            services.LineItemInput(product=product, quantity=1, price=Decimal("200.10")),
        ],
        financial_status="processing",
        ordered_at=NOON_UTC,
        currency="EGP",
        country_code="CA",
        total_tax=Decimal("14.35"),
        total_discounts=Decimal("0.45"),
    )
    assert feed.page("orders") == {
        "current_page": 1,
        "data": [
            {
                "id": order.pk,
                "ordered_at": "2024-03-05 14:30:45",
                "total_price": 314,
                "subtotal_price": 300.1,
                "total_tax": 14.35,
                "taxes_included": 0,
                "currency": "EGP",
                "country_code": "CA",
                "financial_status": "processing",
                "total_discounts": 0.45,
                "phone": "+201000000001",
                "customer_locale": None,
                "contact_email": "bob@example.com",
                "line_items": [
                    {"product_id": product.pk, "quantity": 2, "price": 50},
                    {"product_id": product.pk, "quantity": 1, "price": 200.1},
                ],
                "customer": {"id": customer.pk},
            }
        ],
        "from": 1,
        "last_page": 1,
        "per_page": 100,
        "to": 1,
        "total": 1,
    }


def test_orders_feed_gives_taxes_included_as_one_and_the_locale(feed):
    OrderFactory(taxes_included=True, customer_locale="ar")
    [row] = feed.page("orders")["data"]
    assert (row["taxes_included"], row["customer_locale"]) == (1, "ar")


def test_dates_follow_the_store_time_zone(feed):
    Store.objects.filter(pk=1).update(time_zone="Asia/Tokyo")
    CustomerFactory(registered_at=NOON_UTC)
    assert feed.page("customers")["data"][0]["registered_at"] == "2024-03-05 21:30:45"


def test_products_feed_gives_each_key_of_the_summary(feed):
    Store.objects.filter(pk=1).update(name="Cake Store")
    category = CategoryFactory(title="Cakes")
    product = ProductFactory(
        title="Chocolate cake",
        handle="chocolate-cake",
        category=category,
        content="<p>Rich.</p>",
        vendor="",
        price=Decimal("120.50"),
        compare_at_price=Decimal("150.00"),
        quantity=7,
        image_url="https://cake.example/img/choc.jpg",
        url="https://cake.example/p/chocolate-cake",
        published_at=NOON_UTC,
        tags="cake, sweet",
    )
    assert feed.page("products")["data"] == [
        {
            "id": product.pk,
            "category_id": str(category.pk),
            "title": "Chocolate cake",
            "handle": "chocolate-cake",
            "full_permalink": "https://cake.example/p/chocolate-cake",
            "image": "https://cake.example/img/choc.jpg",
            "content": "<p>Rich.</p>",
            "type": "Cakes",
            "vendor": "Cake Store",
            "compare_at_price": 150,
            "price": 120.5,
            "quantity": 7,
            "published_at": "2024-03-05 14:30:45",
            "tags": "cake, sweet",
        }
    ]


def test_an_unpublished_product_has_a_null_published_at_and_a_derived_permalink(feed):
    Store.objects.filter(pk=1).update(base_url="https://cake.example/")
    ProductFactory(published_at=None, url="", handle="plain", category=None, tags="")
    [row] = feed.page("products")["data"]
    assert row["published_at"] is None
    assert row["full_permalink"] == "https://cake.example/products/plain"
    assert (row["category_id"], row["type"], row["tags"]) == (None, None, None)


def test_products_feed_limits_to_a_collection_and_its_subcategories(feed):
    cakes = CategoryFactory()
    tarts = CategoryFactory(parent=cakes)
    mini = CategoryFactory(parent=tarts)
    bread = CategoryFactory()
    inside = [ProductFactory(category=c).pk for c in (cakes, tarts, mini)]
    ProductFactory(category=bread)
    body = feed.page("products", collection_id=cakes.pk)
    assert [p["id"] for p in body["data"]] == inside
    assert body["total"] == 3
    assert [p["id"] for p in feed.page("products", collection_id=tarts.pk)["data"]] == inside[1:]
    assert feed.page("products", collection_id=999_999)["data"] == []


def test_products_collection_id_that_is_not_a_number_is_refused(feed):
    response = feed.post("products", {"collection_id": "cakes"})
    assert response.status_code == 422
    assert response.json()["errors"] == {
        "collection_id": ["The collection_id must be a positive integer."]
    }


def test_categories_feed_nests_subcategories_under_top_level_ones(feed):
    cakes = CategoryFactory(title="Cakes", handle="cakes", content="", published_at=NOON_UTC)
    tarts = CategoryFactory(title="Tarts", handle="tarts", parent=cakes, published_at=None)
    mini = CategoryFactory(
        title="Mini",
        handle="mini",
        parent=tarts,
        available=False,
        published_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    gone = CategoryFactory(parent=cakes)
    services.category_soft_delete(category=gone)
    body = feed.page("categories")
    assert body["total"] == 1
    assert body["data"] == [
        {
            "id": cakes.pk,
            "title": "Cakes",
            "handle": "cakes",
            "content": None,
            "subcategories": [
                {
                    "id": tarts.pk,
                    "title": "Tarts",
                    "handle": "tarts",
                    "content": None,
                    "subcategories": [
                        {
                            "id": mini.pk,
                            "title": "Mini",
                            "handle": "mini",
                            "content": None,
                            "subcategories": [],
                            "available": False,
                            "published_at": "2024-01-01 02:00:00",
                        }
                    ],
                    "available": True,
                    "published_at": None,
                }
            ],
            "available": True,
            "published_at": "2024-03-05 14:30:45",
        }
    ]


def test_soft_deleted_records_never_appear(feed):
    customer = CustomerFactory()
    services.customer_soft_delete(customer=CustomerFactory())
    live_order = OrderFactory(customer=customer, items=1)
    services.order_soft_delete(order=OrderFactory(customer=customer, items=1))
    services.product_soft_delete(product=ProductFactory(category=None))
    services.category_soft_delete(category=CategoryFactory())
    assert [c["id"] for c in feed.page("customers")["data"]] == [customer.pk]
    assert [o["id"] for o in feed.page("orders")["data"]] == [live_order.pk]
    assert [p["id"] for p in feed.page("products")["data"]] == list(
        Product.objects.alive().values_list("id", flat=True)
    )
    assert len(feed.page("products")["data"]) == 2
    assert [c["id"] for c in feed.page("categories")["data"]] == list(
        Category.objects.alive().values_list("id", flat=True)
    )
    assert len(feed.page("categories")["data"]) == 2
