"""The store admin: every page renders, orders are created with their line items, lists are
cheap, and soft delete is the only delete."""

from decimal import Decimal

import pytest
from django.urls import reverse

from shop.models import Category, Customer, Order, Product
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db

MODELS = [Customer, Order, Product, Category]


@pytest.fixture
def catalogue(store):
    order = OrderFactory(items=2)
    return {
        Customer: order.customer,
        Order: order,
        Product: order.line_items.first().product,
        Category: order.line_items.first().product.category,
    }


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelist_add_and_change_pages_render(admin_client, catalogue, model):
    opts = model._meta
    base = f"admin:{opts.app_label}_{opts.model_name}"
    assert admin_client.get(reverse(f"{base}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"{base}_add")).status_code == 200
    obj = catalogue[model]
    assert admin_client.get(reverse(f"{base}_change", args=[obj.pk])).status_code == 200


def test_store_settings_page_is_the_single_row(admin_client, store):
    response = admin_client.get(reverse("admin:shop_store_changelist"))
    assert response.status_code == 302
    assert response.url == reverse("admin:shop_store_change", args=[1])
    assert admin_client.get(response.url).status_code == 200


def test_store_settings_refuse_an_unknown_time_zone(admin_client, store):
    response = admin_client.post(
        reverse("admin:shop_store_change", args=[1]),
        {
            "name": "Shop",
            "description": "",
            "email": "a@example.com",
            "currency": "EGP",
            "time_zone": "Cairo",
            "country": "EG",
            "base_url": "https://shop.example.com/",
        },
    )
    assert response.status_code == 200
    assert "time_zone" in response.context["adminform"].form.errors


def _order_post(customer, products, **extra):
    data = {
        "customer": customer.pk,
        "ordered_at_0": "2026-11-20",
        "ordered_at_1": "10:00:00",
        "financial_status": "successful",
        "currency": "",
        "country_code": "EG",
        "total_tax": "0",
        "total_discounts": "5.00",
        "phone": "",
        "contact_email": "",
        "customer_locale": "ar",
        "line_items-TOTAL_FORMS": str(len(products)),
        "line_items-INITIAL_FORMS": "0",
        "line_items-MIN_NUM_FORMS": "1",
        "line_items-MAX_NUM_FORMS": "1000",
    }
    for i, (product, quantity) in enumerate(products):
        data[f"line_items-{i}-product"] = product.pk
        data[f"line_items-{i}-quantity"] = str(quantity)
        data[f"line_items-{i}-price"] = ""
    data.update(extra)
    return data


def test_admin_creates_an_order_with_two_line_items(admin_client, store):
    customer = CustomerFactory(currency="USD")
    shirt = ProductFactory(price=Decimal("40.00"))
    mug = ProductFactory(price=Decimal("12.50"))

    response = admin_client.post(
        reverse("admin:shop_order_add"), _order_post(customer, [(shirt, 2), (mug, 1)])
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    order = Order.objects.get()
    assert order.line_items.count() == 2
    assert order.subtotal_price == Decimal("92.50")
    assert order.total_price == Decimal("87.50")
    assert order.currency == "USD"
    assert order.contact_email == customer.email
    assert order.phone == customer.phone


def test_admin_refuses_an_order_without_line_items(admin_client, store):
    customer = CustomerFactory()
    response = admin_client.post(reverse("admin:shop_order_add"), _order_post(customer, []))
    assert response.status_code == 200
    assert Order.objects.count() == 0


def test_admin_refuses_discounts_above_the_total(admin_client, store):
    customer = CustomerFactory()
    product = ProductFactory(price=Decimal("1.00"))
    response = admin_client.post(
        reverse("admin:shop_order_add"), _order_post(customer, [(product, 1)])
    )
    assert response.status_code == 200
    assert Order.objects.count() == 0


def test_admin_edits_an_order_line_item_and_recomputes_the_total(admin_client, store):
    order = OrderFactory(items=1, item_price=Decimal("10"))
    item = order.line_items.get()
    data = _order_post(order.customer, [], total_discounts="0")
    data.update(
        {
            "line_items-TOTAL_FORMS": "1",
            "line_items-INITIAL_FORMS": "1",
            "line_items-0-id": item.pk,
            "line_items-0-order": order.pk,
            "line_items-0-product": item.product_id,
            "line_items-0-quantity": "3",
            "line_items-0-price": "10.00",
        }
    )
    response = admin_client.post(reverse("admin:shop_order_change", args=[order.pk]), data)
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.total_price == Decimal("30.00")


def test_admin_creates_a_customer_through_the_service(admin_client, store):
    response = admin_client.post(
        reverse("admin:shop_customer_add"),
        {
            "email": "Nour@Example.com",
            "first_name": "نور",
            "last_name": "حسن",
            "phone": "+201001234567",
            "gender": "female",
            "currency": "EGP",
            "registered_at_0": "2026-11-01",
            "registered_at_1": "09:00:00",
        },
    )
    assert response.status_code == 302
    assert Customer.objects.get().first_name == "نور"


def test_admin_refuses_a_duplicate_customer_email_in_other_case(admin_client, store):
    CustomerFactory(email="nour@example.com")
    response = admin_client.post(
        reverse("admin:shop_customer_add"),
        {
            "email": "NOUR@example.com",
            "first_name": "N",
            "last_name": "H",
            "phone": "",
            "gender": "unknown",
            "currency": "EGP",
            "registered_at_0": "2026-11-01",
            "registered_at_1": "09:00:00",
        },
    )
    assert response.status_code == 200
    assert Customer.objects.count() == 1


def test_customer_changelist_shows_order_stats(admin_client, store):
    customer = CustomerFactory()
    OrderFactory(customer=customer, items=1, item_price=Decimal("10"))
    response = admin_client.get(reverse("admin:shop_customer_changelist"))
    row = response.context["cl"].result_list[0]
    assert row.orders_count == 1
    response = admin_client.get(reverse("admin:shop_customer_changelist") + "?o=7")
    assert response.status_code == 200


@pytest.mark.parametrize(("model", "url"), [(Customer, "customer"), (Order, "order")])
def test_changelist_query_count_does_not_grow_with_rows(
    admin_client, store, django_assert_num_queries, model, url
):
    OrderFactory()
    admin_client.get(reverse(f"admin:shop_{url}_changelist"))  # warm the session
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        admin_client.get(reverse(f"admin:shop_{url}_changelist"))
    for _ in range(10):
        OrderFactory()
    with django_assert_num_queries(len(few.captured_queries)):
        response = admin_client.get(reverse(f"admin:shop_{url}_changelist"))
    assert len(response.context["cl"].result_list) >= 11


def test_soft_deleted_rows_are_hidden_and_can_be_shown_and_restored(admin_client, store):
    alive, gone = CustomerFactory(), CustomerFactory()
    url = reverse("admin:shop_customer_changelist")
    admin_client.post(
        url, {"action": "soft_delete_selected", "_selected_action": [gone.pk], "index": 0}
    )
    gone.refresh_from_db()
    assert gone.deleted_at is not None

    shown = [c.pk for c in admin_client.get(url).context["cl"].result_list]
    assert shown == [alive.pk]
    shown = [c.pk for c in admin_client.get(url + "?deleted=yes").context["cl"].result_list]
    assert shown == [gone.pk]

    admin_client.post(
        url + "?deleted=yes",
        {"action": "restore_selected", "_selected_action": [gone.pk], "index": 0},
    )
    gone.refresh_from_db()
    assert gone.deleted_at is None


def test_admin_offers_no_hard_delete(admin_client, catalogue):
    order = catalogue[Order]
    response = admin_client.get(reverse("admin:shop_order_delete", args=[order.pk]))
    assert response.status_code == 403


def test_customer_autocomplete_finds_by_email(admin_client, store):
    CustomerFactory(email="findme@example.com")
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "term": "findme",
            "app_label": "shop",
            "model_name": "order",
            "field_name": "customer",
        },
    )
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


def test_category_admin_creates_a_subcategory(admin_client, store):
    parent = CategoryFactory()
    response = admin_client.post(
        reverse("admin:shop_category_add"),
        {"title": "Phones", "handle": "phones", "parent": parent.pk, "available": "on"},
    )
    assert response.status_code == 302
    assert Category.objects.get(handle="phones").parent == parent


def test_admin_shows_and_reads_times_in_the_stores_time_zone(admin_client, store):
    from datetime import UTC, datetime

    order = OrderFactory(ordered_at=datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    page = admin_client.get(reverse("admin:shop_order_change", args=[order.pk]))
    assert 'value="10:00:00"' in page.content.decode()  # Africa/Cairo is UTC+2

    customer = CustomerFactory()
    product = ProductFactory(price=Decimal("5"))
    data = _order_post(customer, [(product, 1)], total_discounts="0")
    admin_client.post(reverse("admin:shop_order_add"), data)
    created = Order.objects.exclude(pk=order.pk).get()
    assert created.ordered_at == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
