"""POST /api/v1/<resource>/bulk: many records, each as the single POST takes it."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from push.models import PushEvent
from shop import figures
from shop.models import Customer, LineItem, Order, OrderFigures, Product, ProductFigures
from tests.factories import CustomerFactory, ProductFactory


def order_record(customer, product, **fields):
    return {
        "customer": customer.pk,
        "financial_status": "successful",
        "line_items": [{"product": product.pk, "quantity": 2}],
        **fields,
    }


def bulk(api, resource, records, policy="per_record", **headers):
    return api.post(
        f"/api/v1/{resource}/bulk",
        {"records": records, "error_policy": policy},
        format="json",
        **headers,
    )


def test_bulk_orders_are_created_in_order_with_items_figures_and_pushes(api):
    customer = CustomerFactory()
    product = ProductFactory(price=Decimal("10.00"))
    records = [order_record(customer, product, reference=f"#{n}") for n in range(3)]

    response = bulk(api, "orders", records)

    assert response.status_code == 200
    orders = list(Order.objects.order_by("id"))
    assert response.json() == {
        "results": [
            {"index": n, "status": "created", "id": orders[n].pk, "errors": {}} for n in range(3)
        ]
    }
    assert [o.reference for o in orders] == ["#0", "#1", "#2"]
    assert [o.total_price for o in orders] == [Decimal("20.00")] * 3
    assert LineItem.objects.count() == 3
    assert figures.rows(OrderFigures) == _recounted(OrderFigures)
    assert figures.rows(ProductFigures) == _recounted(ProductFigures)
    pushes = sorted(PushEvent.objects.values_list("entity", "record_id", "action"))
    assert pushes == sorted(
        [("orders", o.pk, "create") for o in orders] + [("customers", customer.pk, "update")]
    )


def _recounted(model):
    kept = figures.rows(model)
    figures.recompute()
    return kept if figures.rows(model) == kept else figures.rows(model)


def test_a_retried_order_with_its_reference_updates_it(api):
    customer = CustomerFactory()
    product = ProductFactory(price=Decimal("10.00"))
    bulk(api, "orders", [order_record(customer, product, reference="A-1")])
    order = Order.objects.get()

    record = order_record(customer, product, reference="A-1", financial_status="refunded")
    record["line_items"] = [{"product": product.pk, "quantity": 5}]
    response = bulk(api, "orders", [record])

    assert response.json()["results"] == [
        {"index": 0, "status": "updated", "id": order.pk, "errors": {}}
    ]
    order.refresh_from_db()
    assert (order.financial_status, order.total_price) == ("refunded", Decimal("50.00"))
    assert list(order.line_items.values_list("quantity", flat=True)) == [5]
    kept = (figures.rows(OrderFigures), figures.rows(ProductFigures))
    figures.recompute()
    assert kept == (figures.rows(OrderFigures), figures.rows(ProductFigures))


def test_bad_records_get_the_single_posts_errors_and_good_ones_are_written(api):
    customer = CustomerFactory()
    product = ProductFactory()
    bad_records = [
        order_record(customer, product, financial_status="lost"),
        {**order_record(customer, product), "customer": 999_999},
        {**order_record(customer, product), "line_items": []},
        order_record(customer, product, total_discounts="1000.00"),
    ]
    single = [
        api.post("/api/v1/orders", record, format="json").json()["errors"] for record in bad_records
    ]

    response = bulk(api, "orders", [*bad_records, order_record(customer, product)])

    results = response.json()["results"]
    assert [r["errors"] for r in results[:4]] == single
    assert [r["status"] for r in results] == ["error"] * 4 + ["created"]
    assert Order.objects.count() == 1


def test_all_or_nothing_writes_nothing_and_answers_as_the_single_post_would(api):
    customer = CustomerFactory()
    product = ProductFactory()
    good = order_record(customer, product)

    stored = bulk(
        api,
        "orders",
        [good, {**order_record(customer, product), "customer": 999_999}],
        "all_or_nothing",
    )
    broken = bulk(
        api,
        "orders",
        [good, order_record(customer, product, financial_status="x")],
        "all_or_nothing",
    )

    assert stored.status_code == 409
    assert broken.status_code == 400
    assert stored.json()["results"][0]["status"] == "error"
    assert stored.json()["results"][1]["errors"] == {
        "customer": ['Invalid pk "999999" - object does not exist.']
    }
    assert Order.objects.count() == 0


def test_customers_match_by_email_in_any_case_and_products_by_handle(api):
    customer = CustomerFactory(email="ann@example.com", first_name="Ann")
    product = ProductFactory(handle="tea")

    customers = bulk(
        api,
        "customers",
        [
            {"email": "ANN@example.com", "first_name": "Anne", "last_name": "B"},
            {"email": "bob@example.com", "first_name": "Bob", "last_name": "C"},
            {"email": "Bob@example.com", "first_name": "Bob", "last_name": "D"},
        ],
    )
    products = bulk(api, "products", [{"title": "Green tea", "handle": "tea"}])

    results = customers.json()["results"]
    assert [r["status"] for r in results] == ["updated", "created", "error"]
    assert results[0]["id"] == customer.pk
    assert results[2]["errors"] == {
        "email": ["Record 1 of this request has this email too: send each customer once."]
    }
    customer.refresh_from_db()
    assert customer.first_name == "Anne"
    assert Customer.objects.count() == 2
    assert products.json()["results"] == [
        {"index": 0, "status": "updated", "id": product.pk, "errors": {}}
    ]
    assert Product.objects.get().title == "Green tea"


def test_a_deleted_records_key_is_refused_as_the_single_post_refuses_it(api):
    from django.utils import timezone

    CustomerFactory(email="gone@example.com", deleted_at=timezone.now())
    record = {"email": "gone@example.com", "first_name": "G", "last_name": "H"}

    single = api.post("/api/v1/customers", record, format="json")
    response = bulk(api, "customers", [record])

    assert response.json()["results"][0]["errors"] == single.json()["errors"]


@pytest.mark.parametrize("policy", ["per_record", "all_or_nothing"])
def test_the_envelope_is_checked(api, policy):
    assert bulk(api, "orders", [], policy).status_code == 400
    assert bulk(api, "orders", [{}] * 1001, policy).status_code == 400
    response = api.post("/api/v1/orders/bulk", {"records": [{}], "x": 1}, format="json")
    assert response.json()["errors"] == {"x": ["This field is not known."]}


def test_a_key_without_the_write_scope_is_refused(make_client, store):
    client = make_client(["orders.read"])
    assert bulk(client, "orders", [{}]).status_code == 403


@pytest.mark.parametrize("count", [10, 100])
def test_a_bulk_request_costs_the_same_queries_for_10_and_100_orders(api, count):
    customers = CustomerFactory.create_batch(3)
    products = ProductFactory.create_batch(3)
    records = [
        order_record(customers[n % 3], products[n % 3], reference=f"R{n}") for n in range(count)
    ]
    api.get("/api/v1/orders")  # the key's last use is recorded once a minute

    with CaptureQueriesContext(connection) as queries:
        response = bulk(api, "orders", records)
    assert len(queries) == NUM_QUERIES[connection.vendor], [q["sql"] for q in queries]

    assert [r["status"] for r in response.json()["results"]] == ["created"] * count


# The key, the rate limit's count, the customers and products named, a savepoint and its
# release, the store, the references, the check constraints of orders and of line items, the
# orders, the line items, the history's entries (one INSERT), three figure upserts and the
# outbox.
# PostgreSQL: and the DISCARD PLANS before the write (core.inserts.plan_checks_afresh).
NUM_QUERIES = {"sqlite": 17, "postgresql": 18}


@pytest.mark.parametrize("resource", ["products", "orders"])
def test_a_key_a_deleted_product_or_order_holds_is_refused_as_the_single_post_refuses_it(
    api, resource
):
    from django.utils import timezone

    from tests.factories import OrderFactory

    if resource == "products":
        ProductFactory(handle="gone", deleted_at=timezone.now())
        record = {"title": "Gone", "handle": "gone"}
    else:
        order = OrderFactory(items=1)
        Order.objects.filter(pk=order.pk).update(reference="R-9", deleted_at=timezone.now())
        record = order_record(order.customer, ProductFactory(), reference="R-9")

    single = api.post(f"/api/v1/{resource}", record, format="json")
    response = bulk(api, resource, [record])

    assert single.status_code == 409
    assert response.json()["results"][0]["errors"] == single.json()["errors"]


def test_staff_need_both_the_add_and_change_permissions(staff_client, store):
    client = staff_client("add_customer")
    record = {"email": "a@example.com", "first_name": "A", "last_name": "B"}

    response = client.post(
        "/api/v1/customers/bulk", {"records": [record]}, content_type="application/json"
    )

    assert response.status_code == 403
