"""The data quality report finds rows that break converted.in's rules, even rows that got past
the models' validation (imports, older versions), and links to exactly those rows."""

from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from shop import quality, services
from shop.models import Category, Customer, Order, Product
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _counts():
    return {
        (section.model, f.check.key): f.count
        for section in quality.report()
        for f in section.findings
    }


def _raw_update(model, pk, **values):
    """Write values past the model's validation, as an old import could have."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        for column, value in values.items():
            cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, pk])


def test_a_clean_store_has_no_findings(store):
    OrderFactory(items=2)
    assert set(_counts().values()) == {0}


def test_customers_without_phone_or_with_a_bad_phone_are_found(store):
    CustomerFactory(phone="")
    bad = CustomerFactory()
    _raw_update(Customer, bad.pk, phone="call me")
    CustomerFactory()

    counts = _counts()

    assert counts[(Customer, "missing_phone")] == 1
    assert counts[(Customer, "bad_phone")] == 1


def test_customers_with_a_bad_email_or_currency_are_found(store):
    bad_email = CustomerFactory()
    _raw_update(Customer, bad_email.pk, email="not-an-address")
    bad_currency = CustomerFactory()
    _raw_update(Customer, bad_currency.pk, currency="XYZ")

    counts = _counts()

    assert counts[(Customer, "bad_email")] == 1
    assert counts[(Customer, "bad_currency")] == 1
    assert counts[(Customer, "missing_email")] == 0


def test_soft_deleted_rows_are_not_reported(store):
    gone = CustomerFactory(phone="")
    services.customer_soft_delete(customer=gone)
    assert _counts()[(Customer, "missing_phone")] == 0


def test_orders_whose_totals_disagree_with_their_line_items_are_found(store):
    good = OrderFactory(items=2, item_price=Decimal("10.10"))
    wrong_subtotal = OrderFactory(items=2)
    _raw_update(Order, wrong_subtotal.pk, subtotal_price="99.00")
    wrong_total = OrderFactory(items=1, total_tax=Decimal("5.00"))
    _raw_update(Order, wrong_total.pk, total_price="50.00")  # Tax was not added.
    included = OrderFactory(items=1, total_tax=Decimal("5.00"), taxes_included=True)
    assert included.total_price == included.subtotal_price

    counts = _counts()

    assert counts[(Order, "totals_mismatch")] == 2
    check = quality.check(Order, "totals_mismatch")
    found = set(Order.objects.filter(check.condition).values_list("pk", flat=True))
    assert found == {wrong_subtotal.pk, wrong_total.pk}
    assert good.pk not in found


def test_orders_with_codes_of_the_right_shape_but_not_iso_are_found(store):
    # The database checks the shape (three or two capitals); only the report checks the lists.
    bad_country = OrderFactory()
    _raw_update(Order, bad_country.pk, country_code="XX")
    bad_currency = OrderFactory()
    _raw_update(Order, bad_currency.pk, currency="XYZ")

    counts = _counts()

    assert counts[(Order, "bad_country")] == 1
    assert counts[(Order, "bad_currency")] == 1


def test_orders_without_line_items_or_pointing_at_deleted_records_are_found(store):
    empty = OrderFactory(items=1)
    empty.line_items.all().delete()
    of_gone_customer = OrderFactory()
    # The services refuse this now; a store's older data may still hold it.
    Customer.objects.filter(pk=of_gone_customer.customer_id).update(deleted_at=timezone.now())
    of_gone_product = OrderFactory(items=2)
    services.product_soft_delete(product=of_gone_product.line_items.first().product)

    counts = _counts()

    assert counts[(Order, "no_line_items")] == 1
    assert counts[(Order, "deleted_customer")] == 1
    assert counts[(Order, "deleted_product")] == 1


def test_products_missing_what_the_feed_requires_are_found(store):
    ProductFactory(image_url="")
    ProductFactory(url="", vendor="")
    ProductFactory(published_at=None, content="")
    ProductFactory()

    counts = _counts()

    assert counts[(Product, "missing_image")] == 1
    assert counts[(Product, "missing_url")] == 1
    assert counts[(Product, "missing_vendor")] == 1
    assert counts[(Product, "unpublished")] == 1
    assert counts[(Product, "missing_content")] == 1


def test_categories_under_a_deleted_parent_are_found(store):
    parent = CategoryFactory()
    CategoryFactory(parent=parent)
    # The services refuse this now; a store's older data may still hold it.
    Category.objects.filter(pk=parent.pk).update(deleted_at=timezone.now())
    assert _counts()[(Category, "deleted_parent")] == 1


def test_report_counts_each_model_in_one_query(store, django_assert_num_queries):
    OrderFactory(items=2)
    with django_assert_num_queries(4):
        quality.report()


def test_report_page_links_each_count_to_the_rows_behind_it(admin_client, store):
    CustomerFactory(phone="")
    CustomerFactory(phone="")
    CustomerFactory()
    quality.quality_run_compute()

    response = admin_client.get(reverse("admin:shop_quality"))

    assert response.status_code == 200
    link = reverse("admin:shop_customer_changelist") + "?quality=missing_phone"
    assert f'href="{link}"' in response.content.decode()
    listed = admin_client.get(link).context["cl"].result_list
    assert len(listed) == 2
    assert {c.phone for c in listed} == {""}


def test_each_check_is_named_once_per_model():
    keys = [(c.model, c.key) for c in quality.CHECKS]
    assert len(keys) == len(set(keys))
    assert {c.model for c in quality.CHECKS} == set(quality.MODELS)


@pytest.mark.parametrize("model", [Customer, Order, Product, Category], ids=lambda m: m.__name__)
def test_every_check_filters_its_changelist(admin_client, store, model):
    OrderFactory()
    url = reverse(f"admin:shop_{model._meta.model_name}_changelist")
    for check in quality.checks_for(model):
        response = admin_client.get(f"{url}?quality={check.key}")
        assert response.status_code == 200, check.key
        assert response.context["cl"].result_count == 0, check.key


def test_report_shows_only_models_the_user_may_view(staff_client, store):
    quality.quality_run_compute()

    response = staff_client("view_product").get(reverse("admin:shop_quality"))

    assert response.status_code == 200
    assert [s.model for s in response.context["sections"]] == [Product]


def test_report_page_needs_a_staff_login(client, store):
    response = client.get(reverse("admin:shop_quality"))
    assert response.status_code == 302
    assert reverse("admin:login") in response.url
