"""Moving a store: store_export writes it, store_import into an empty database recreates it
(the feed answers byte for byte the same, ids included), and importing again changes
nothing."""

import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.management.color import no_style
from django.db import IntegrityError, connection, transaction
from django.test import Client

from feeds.models import FeedRequest, FeedToken
from feeds.tokens import feed_token_create
from push.models import PushEvent
from shop import services
from shop.demo import seed
from shop.models import (
    Category,
    Customer,
    LineItem,
    Order,
    OrderFigures,
    Product,
    ProductFigures,
    QualityRun,
    StatusFigures,
    Store,
)
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=False)

TOKEN = "cvin-test-token-0123456789abcdef"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
STORE_TABLES = [LineItem, Order, Customer, Product, OrderFigures, ProductFigures, StatusFigures]


def _feed() -> dict[str, bytes]:
    """Every page of every feed endpoint (and the products of each category), as the feed
    answers them to converted.in."""
    client = Client()
    answers: dict[str, bytes] = {}

    def crawl(endpoint: str, **data):
        page = 1
        while True:
            response = client.post(
                f"/convertedin/{endpoint}", {"token": TOKEN, "page": page, "per_page": 50, **data}
            )
            assert response.status_code == 200, response.content
            answers[f"{endpoint} {data} page {page}"] = response.content
            if endpoint == "storeinfo" or page >= json.loads(response.content)["last_page"]:
                return
            page += 1

    for endpoint in ("storeinfo", "categories", "products", "customers", "orders"):
        crawl(endpoint)
    for category in Category.objects.alive().order_by("id"):
        crawl("products", collection_id=category.pk)
    return answers


def _empty_the_store() -> None:
    """Delete every row of the store's tables and the feed's, as in a new database (the id
    sequences start again at 1)."""
    for model in STORE_TABLES:
        model.objects.all().delete()
    Category.objects.update(parent=None)
    Category.objects.all().delete()
    Store.objects.all().delete()
    QualityRun.objects.all().delete()
    PushEvent.objects.all().delete()
    FeedRequest.objects.all().delete()
    FeedToken.objects.all().delete()
    models = [*STORE_TABLES, Category, Store]
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(statement)
    assert Order.objects.count() == Customer.objects.count() == 0


def _store_import(directory, *args) -> str:
    out = io.StringIO()
    call_command("store_import", str(directory), "--no-progress", *args, stdout=out)
    return out.getvalue()


def _ids(rows) -> list[int]:
    return list(rows.order_by("id").values_list("id", flat=True))


@pytest.fixture
def shop_with_history(store):
    """A demo store, with what a real one has beyond it: a parent category listed after its
    subcategory, an order with its own reference, totals that are not the line items' sum,
    a deleted customer and order, and a product title a spreadsheet would take for a
    formula."""
    seed(customers=40, orders=160, seed=3, now=NOW)
    child = CategoryFactory(handle="late-child", title="Late child")
    parent = CategoryFactory(handle="late-parent", title="Late parent")
    services.category_update(category=child, parent=parent)
    product = ProductFactory(
        handle="minus-mug", title="-50% mug", category=child, compare_at_price=Decimal("20.00")
    )
    customer = CustomerFactory(email="Mixed.Case@Example.com")
    services.order_create(
        customer=customer,
        reference="#1001",
        line_items=[{"product": product, "quantity": 2}],
        subtotal_price=Decimal("19.99"),
        total_price=Decimal("17.00"),
        financial_status="successful",
    )
    gone = OrderFactory()
    services.order_soft_delete(order=gone)
    services.customer_soft_delete(customer=gone.customer)
    feed_token_create(name="converted.in", token=TOKEN)


def test_an_exported_store_imports_into_an_empty_database_with_the_same_feed(
    shop_with_history, tmp_path
):
    before = _feed()
    ids = {model: _ids(model.objects.alive()) for model in (Customer, Order, Product, Category)}
    orders = len(ids[Order])
    call_command("store_export", str(tmp_path), stdout=io.StringIO())
    _empty_the_store()

    out = _store_import(tmp_path)

    assert f"orders.csv: {orders} rows: {orders} new, 0 changed, 0 unchanged, 0 refused" in out
    feed_token_create(name="converted.in", token=TOKEN)
    after = _feed()
    assert list(after) == list(before)
    for page, body in before.items():
        assert after[page] == body, page
    for model, kept in ids.items():
        assert _ids(model.objects.all()) == kept, model
    assert Order.objects.get(reference="#1001").total_price == Decimal("17.00")


def test_records_created_after_an_import_get_ids_past_the_imported_ones(
    shop_with_history, tmp_path
):
    call_command("store_export", str(tmp_path), stdout=io.StringIO())
    largest = max(_ids(Customer.objects.alive()))
    _empty_the_store()
    _store_import(tmp_path)

    new = services.customer_create(email="new@example.com", first_name="N", last_name="Ew")

    assert new.pk > largest


def test_importing_the_same_files_twice_changes_nothing(shop_with_history, tmp_path):
    counts = {
        "store": 1,
        "categories": Category.objects.alive().count(),
        "products": Product.objects.alive().count(),
        "customers": Customer.objects.alive().count(),
        "orders": Order.objects.alive().count(),
    }
    call_command("store_export", str(tmp_path), stdout=io.StringIO())
    _empty_the_store()
    first = _store_import(tmp_path)
    written = {
        model: list(model.objects.order_by("id").values("id", "updated_at"))
        for model in (Customer, Order, Product, Category)
    }
    events = PushEvent.objects.count()

    second = _store_import(tmp_path)

    for name, rows in counts.items():
        assert f"{name}.csv: {rows} rows: 0 new, 0 changed, {rows} unchanged, 0 refused" in second
        assert f"{name}.csv: {rows} rows:" in first
    for model, rows in written.items():
        assert list(model.objects.order_by("id").values("id", "updated_at")) == rows
    assert PushEvent.objects.count() == events
    assert LineItem.objects.count() == sum(len(o.line_items.all()) for o in Order.objects.all())


def test_a_refused_row_stops_the_import_and_names_the_row_and_field(store, tmp_path):
    CustomerFactory(email="nour@example.com")
    call_command("store_export", str(tmp_path), stdout=io.StringIO())
    customers = tmp_path / "customers.csv"
    text = customers.read_text(encoding="utf-8-sig")
    customers.write_text(text + ",broken,Bad,Row,,,,,\n", encoding="utf-8")
    err = io.StringIO()

    with pytest.raises(CommandError, match="customers.csv: 1 rows refused"):
        call_command(
            "store_import", str(tmp_path), "--no-progress", stdout=io.StringIO(), stderr=err
        )

    assert "row 2: email: Enter a valid email address." in err.getvalue()
    assert Customer.objects.count() == 1


def test_store_import_refuses_a_directory_without_files(tmp_path, db):
    with pytest.raises(CommandError, match="has none of store.csv"):
        _store_import(tmp_path)


# The order's reference ------------------------------------------------------------------


def test_the_database_refuses_two_orders_with_one_reference(store):
    first, second = OrderFactory(), OrderFactory()
    Order.objects.filter(pk=first.pk).update(reference="#7")

    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=second.pk).update(reference="#7")


def test_orders_without_a_reference_are_many(store):
    first, second, third = OrderFactory(), OrderFactory(), OrderFactory()
    Order.objects.filter(pk=first.pk).update(reference=None)
    Order.objects.filter(pk=second.pk).update(reference="")
    Order.objects.filter(pk=third.pk).update(reference="")

    assert Order.objects.filter(reference__isnull=True).count() == 1


def test_the_service_names_the_reference_field_of_a_duplicate(store):
    order = OrderFactory()
    services.order_update(order=order, reference="#7")
    other = OrderFactory()

    with pytest.raises(services.ValidationError) as refused:
        services.order_update(order=other, reference="#7")

    assert refused.value.message_dict == {
        "reference": ["An order with this reference already exists."]
    }


def test_an_empty_reference_is_none(store):
    order = OrderFactory()
    services.order_update(order=order, reference="  ")
    order.refresh_from_db()
    assert order.reference is None
