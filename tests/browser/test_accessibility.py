"""Every page a store admin uses, checked by axe-core on the WCAG 2.0, 2.1 and 2.2 A and AA
rules: no critical and no serious violation. Each list is checked with a search and with a
filter applied, each add page and each change page (an order with two line items)."""

import json
import urllib.request
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from feeds.models import FeedRequest, FeedToken
from feeds.tokens import feed_token_create
from push.models import WebhookDelivery, WebhookSubscription
from push.webhooks import webhook_subscription_create
from shop import services
from shop.api.models import ApiKey
from shop.api.services import api_key_create
from shop.models import Category, Customer, ImportRun, Order, Product
from tests.browser import axe
from tests.browser.conftest import ARTIFACTS
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FEED_TOKEN = "cv-axe-check-token-7a1c"
RESULTS: dict[str, list[dict]] = {}


@pytest.fixture
def records(admin_user, live_server):
    """One of each record the pages show, an order with two line items among them."""
    category = CategoryFactory(title="Shirts", handle="shirts")
    shirt = ProductFactory(title="Linen shirt", handle="linen-shirt", category=category)
    mug = ProductFactory(title="Clay mug", handle="clay-mug", price=Decimal("12.50"))
    nour = CustomerFactory(email="nour@example.com", first_name="Nour", gender="female")
    order = OrderFactory(
        customer=nour,
        line_items=[
            services.LineItemInput(product=shirt, quantity=2),
            services.LineItemInput(product=mug, quantity=1),
        ],
    )
    feed_token_create(name="converted.in", token=FEED_TOKEN)
    body = json.dumps({"token": FEED_TOKEN, "page": 1, "per_page": 50}).encode()
    request = urllib.request.Request(
        f"{live_server.url}/convertedin/orders",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:  # noqa: S310 - the live server
        assert answer.status == 200
    api_key, _ = api_key_create(name="warehouse", scopes=["orders.read"])
    subscription, _ = webhook_subscription_create(
        url="https://93.184.216.34/hooks", topics=["orders/create"]
    )
    delivery = WebhookDelivery.objects.create(
        subscription=subscription,
        event_id=1,
        entity="order",
        record_id=order.pk,
        topic="orders/create",
        occurred_at=order.created_at,
        status=WebhookDelivery.Status.FAILED,
        attempts=3,
        last_status=500,
        last_error="HTTP 500",
    )
    run = ImportRun.objects.create(
        model="shop.Customer",
        file_name="customers.csv",
        stored_name="",
        file_format="csv",
        created_by=admin_user,
        state=ImportRun.State.FAILED,
    )
    return {
        Customer: nour,
        Order: order,
        Product: shirt,
        Category: category,
        FeedToken: FeedToken.objects.get(),
        FeedRequest: FeedRequest.objects.get(),
        ApiKey: api_key,
        WebhookSubscription: subscription,
        WebhookDelivery: delivery,
        ImportRun: run,
    }


def _change(model, records) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[records[model].pk])


def _list(name: str, query: str = "") -> str:
    return reverse(f"admin:{name}_changelist") + query


# Each page: its name and how to get its address from the records.
PAGES = {
    "dashboard": lambda r: reverse("admin:index"),
    "app index: converted.in": lambda r: reverse("admin:app_list", args=["feeds"]),
    "customers: search": lambda r: _list("shop_customer", "?q=nour"),
    "customers: filter": lambda r: _list("shop_customer", "?gender__exact=female"),
    "orders: search": lambda r: _list("shop_order", "?q=nour%40example.com"),
    "orders: filter": lambda r: _list("shop_order", "?financial_status__exact=successful"),
    "products: search": lambda r: _list("shop_product", "?q=shirt"),
    "products: filter": lambda r: _list("shop_product", "?published=yes"),
    "categories: search": lambda r: _list("shop_category", "?q=shi"),
    "categories: filter": lambda r: _list("shop_category", "?available__exact=1"),
    "feed tokens: search": lambda r: _list("feeds_feedtoken", "?q=conv"),
    "feed tokens: filter": lambda r: _list("feeds_feedtoken", "?revoked_at__isempty=1"),
    "feed requests: filter": lambda r: _list("feeds_feedrequest", "?endpoint__exact=orders"),
    "api keys: search": lambda r: _list("api_apikey", "?q=ware"),
    "api keys: filter": lambda r: _list("api_apikey", "?state=usable"),
    "webhook subscriptions: search": lambda r: _list("push_webhooksubscription", "?q=hooks"),
    "webhook subscriptions: filter": lambda r: _list(
        "push_webhooksubscription", "?active__exact=1"
    ),
    "webhook deliveries: filter": lambda r: _list("push_webhookdelivery", "?status__exact=failed"),
    "import runs: filter": lambda r: _list("shop_importrun", "?state__exact=failed"),
    "push log": lambda r: reverse("push:log"),
    "customer add": lambda r: reverse("admin:shop_customer_add"),
    "customer change": lambda r: _change(Customer, r),
    "order add": lambda r: reverse("admin:shop_order_add"),
    "order change (two line items)": lambda r: _change(Order, r),
    "product add": lambda r: reverse("admin:shop_product_add"),
    "product change": lambda r: _change(Product, r),
    "category add": lambda r: reverse("admin:shop_category_add"),
    "category change": lambda r: _change(Category, r),
    "store settings": lambda r: reverse("admin:shop_store_changelist"),
    "feed token add": lambda r: reverse("admin:feeds_feedtoken_add"),
    "feed token change": lambda r: _change(FeedToken, r),
    "feed request view": lambda r: _change(FeedRequest, r),
    "api key add": lambda r: reverse("admin:api_apikey_add"),
    "api key change": lambda r: _change(ApiKey, r),
    "webhook subscription add": lambda r: reverse("admin:push_webhooksubscription_add"),
    "webhook subscription change": lambda r: _change(WebhookSubscription, r),
    "webhook delivery view": lambda r: _change(WebhookDelivery, r),
    "import run": lambda r: _change(ImportRun, r),
    "connection page": lambda r: reverse("feeds-connection:page"),
    "connection page with a preview": lambda r: (
        reverse("feeds-connection:page") + "?preview=orders"
    ),
    "data quality": lambda r: reverse("admin:shop_quality"),
    "customer import": lambda r: reverse("admin:shop_customer_import"),
    "order import": lambda r: reverse("admin:shop_order_import"),
    "customer export": lambda r: reverse("admin:shop_customer_export"),
    "order export": lambda r: reverse("admin:shop_order_export"),
    "API docs": lambda r: "/api/docs/",
}


@pytest.mark.parametrize("name", list(PAGES))
def test_page_has_no_critical_or_serious_accessibility_violation(
    logged_in, live_server, records, name
):
    page = logged_in
    response = page.goto(live_server.url + PAGES[name](records))
    assert response is not None
    assert response.status == 200, name
    if name == "API docs":
        expect(page.locator(".opblock").first).to_be_visible()
    found = axe.violations(page)
    RESULTS[name] = found
    bad = axe.blocking(found)
    assert bad == [], f"{name}: {page.url}\n{axe.describe(bad)}"


@pytest.fixture(scope="module", autouse=True)
def _report():
    """test-artifacts/axe.json: each page's violations (any impact), for the record."""
    yield
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "axe.json").write_text(json.dumps(RESULTS, indent=1))
