"""CSV and XLSX import and export of customers, products and orders with their line items:
through the services, a dry run first, per-row errors, nothing written when a row fails,
exports that stream."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import openpyxl
import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import StreamingHttpResponse
from django.urls import reverse

from shop.models import Customer, ImportRun, Order, Product
from shop.resources import (
    CustomerResource,
    OrderResource,
    ProductResource,
    parse_line_items,
)
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, ProductFactory
from tests.shop.conftest import admin_import, work

pytestmark = pytest.mark.django_db


def _csv(text: str) -> tablib.Dataset:
    return tablib.Dataset().load(text.strip() + "\n", format="csv")


def _errors(result) -> dict[int, dict]:
    """Row number -> {field: [messages]} for every row that failed."""
    found = {row.number: row.error_dict for row in result.invalid_rows}
    for number, errors in result.row_errors():
        found[number] = {"__all__": [str(e.error) for e in errors]}
    return found


CUSTOMERS = """
email,first_name,last_name,phone,gender,currency,registered_at,accepts_marketing
nour@example.com,Nour,Hassan,+201001234567,female,EGP,2025-03-01 09:30:00,1
sam@example.com,Sam,Lee,,male,USD,,0
"""


def test_customer_import_dry_run_writes_nothing(store):
    result = CustomerResource().import_data(_csv(CUSTOMERS), dry_run=True)
    assert not result.has_errors()
    assert not result.has_validation_errors()
    assert [r.import_type for r in result.rows] == ["new", "new"]
    assert Customer.objects.count() == 0


def test_customer_import_creates_customers_in_the_store_time_zone(store):
    result = CustomerResource().import_data(_csv(CUSTOMERS), dry_run=False)

    assert not result.has_validation_errors()
    nour = Customer.objects.get(email="nour@example.com")
    # 09:30 in Cairo (UTC+2) is 07:30 UTC.
    assert nour.registered_at == datetime(2025, 3, 1, 7, 30, tzinfo=UTC)
    assert (nour.gender, nour.currency, nour.accepts_marketing) == ("female", "EGP", True)
    sam = Customer.objects.get(email="sam@example.com")
    assert (sam.phone, sam.currency) == ("", "USD")


def test_customer_import_updates_the_customer_with_that_email_in_any_case(store):
    existing = CustomerFactory(email="nour@example.com", first_name="Old", currency="USD")
    data = _csv("email,first_name,last_name,currency\nNOUR@example.com,Nour,Hassan,\n")

    result = CustomerResource().import_data(data, dry_run=False)

    assert [r.import_type for r in result.rows] == ["update"]
    existing.refresh_from_db()
    assert existing.first_name == "Nour"
    assert existing.currency == "USD"  # An empty cell keeps the value.
    assert Customer.objects.count() == 1


def test_one_bad_row_fails_the_import_and_nothing_is_written(store):
    data = _csv(
        """
email,first_name,last_name,phone,currency
ok1@example.com,A,One,,EGP
not-an-email,B,Two,,EGP
ok2@example.com,C,Three,call me,XYZ
"""
    )

    result = CustomerResource().import_data(data, dry_run=False, rollback_on_validation_errors=True)

    assert Customer.objects.count() == 0
    errors = _errors(result)
    assert set(errors) == {2, 3}
    assert "email" in errors[2]
    assert set(errors[3]) == {"phone", "currency"}


def test_product_import_makes_a_handle_and_finds_the_category(store):
    CategoryFactory(handle="mugs")
    data = _csv(
        """
title,handle,category,price,quantity,vendor,image_url,url,published_at
Blue mug,,mugs,12.50,4,Acme,https://x.example/m.jpg,https://x.example/m,2025-01-01 00:00:00
Plain tee,plain-tee,,40,,,,,
"""
    )

    result = ProductResource().import_data(data, dry_run=False)

    assert not result.has_validation_errors(), _errors(result)
    mug = Product.objects.get(handle="blue-mug")
    assert (mug.category.handle, mug.price, mug.quantity) == ("mugs", Decimal("12.50"), 4)
    tee = Product.objects.get(handle="plain-tee")
    assert (tee.quantity, tee.published_at) == (0, None)


def test_product_import_reports_an_unknown_category_and_a_bad_price(store):
    data = _csv("title,handle,category,price\nMug,mug,nowhere,abc\n")

    result = ProductResource().import_data(data, dry_run=False)

    assert Product.objects.count() == 0
    assert set(_errors(result)[1]) == {"category", "price"}


ORDERS = """
customer_email,ordered_at,financial_status,line_items,total_discounts,customer_locale
nour@example.com,2025-06-01 12:00:00,successful,tee x 2 @ 40.00; mug x 1,5.00,ar
"""


@pytest.fixture
def catalogue(store):
    return {
        "customer": CustomerFactory(email="nour@example.com", phone="+201001234567"),
        "tee": ProductFactory(handle="tee", price=Decimal("45.00")),
        "mug": ProductFactory(handle="mug", price=Decimal("12.50")),
    }


def test_order_import_creates_the_order_and_its_line_items_through_the_service(catalogue):
    result = OrderResource().import_data(_csv(ORDERS), dry_run=False)

    assert not result.has_validation_errors(), _errors(result)
    order = Order.objects.get()
    items = [(li.product.handle, li.quantity, li.price) for li in order.line_items.all()]
    assert items == [("tee", 2, Decimal("40.00")), ("mug", 1, Decimal("12.50"))]
    assert order.subtotal_price == Decimal("92.50")
    assert order.total_price == Decimal("87.50")
    # Empty cells come from the customer and the store, as in the admin.
    assert (order.currency, order.phone, order.contact_email, order.country_code) == (
        "EGP",
        "+201001234567",
        "nour@example.com",
        "EG",
    )


def test_order_import_reports_unknown_customers_and_products_per_row(catalogue):
    data = _csv(
        """
customer_email,line_items
nour@example.com,tee x 1
nobody@example.com,tee x 1
nour@example.com,tee x 1; ghost x 2
nour@example.com,
nour@example.com,tee times two
"""
    )

    result = OrderResource().import_data(data, dry_run=False, rollback_on_validation_errors=True)

    assert Order.objects.count() == 0
    errors = _errors(result)
    assert set(errors) == {2, 3, 4, 5}
    assert "No customer with email" in errors[2]["customer"][0]
    assert set(errors[2]) == {"customer"}  # Not also the fields taken from the customer.
    assert "no product with handle 'ghost'" in errors[3]["line_items"][0]
    assert "at least one line item" in errors[4]["line_items"][0]
    assert "is not 'handle x quantity" in errors[5]["line_items"][0]


def test_order_import_updates_an_order_by_id_and_creates_one_with_a_free_id(catalogue):
    order = OrderFactory(customer=catalogue["customer"], items=1)
    header = "id,customer_email,financial_status,line_items\n"
    known = f"{order.pk},nour@example.com,refunded,mug x 3\n"
    free = "999999,nour@example.com,refunded,mug x 1\n"

    result = OrderResource().import_data(_csv(header + known + free), dry_run=False)

    assert not result.has_validation_errors(), _errors(result)
    assert [r.import_type for r in result.rows] == ["update", "new"]
    order.refresh_from_db()
    assert order.financial_status == "refunded"
    assert order.total_price == Decimal("37.50")
    # The free id is kept: a store moved in keeps the ids converted.in knows.
    assert Order.objects.get(pk=999999).total_price == Decimal("12.50")


def test_order_import_refuses_a_bad_id_and_writes_nothing(catalogue):
    order = OrderFactory(customer=catalogue["customer"], items=1)
    data = _csv(
        "id,customer_email,financial_status,line_items\n"
        f"{order.pk},nour@example.com,refunded,mug x 3\n"
        "abc,nour@example.com,refunded,mug x 3\n"
    )

    result = OrderResource().import_data(data, dry_run=False, rollback_on_validation_errors=True)

    assert "'abc' is not an id" in _errors(result)[2]["id"][0]
    order.refresh_from_db()
    assert order.financial_status == "successful"


def test_exported_orders_import_back_unchanged(catalogue):
    # The file's dates are to the second, as the feed's are.
    first = OrderFactory(
        customer=catalogue["customer"],
        items=2,
        total_tax=Decimal("3.00"),
        ordered_at=datetime(2025, 6, 1, 9, 0, 5, tzinfo=UTC),
    )
    exported = OrderResource().export()
    before = list(Order.objects.values().order_by("pk"))

    result = OrderResource().import_data(
        tablib.Dataset().load(exported.export("csv"), format="csv"), dry_run=False
    )

    assert not result.has_validation_errors(), _errors(result)
    assert [r.import_type for r in result.rows] == ["skip"]  # unchanged: not written
    after = list(Order.objects.values().order_by("pk"))
    for row in before + after:
        row.pop("updated_at")
    assert after == before
    assert first.line_items.count() == 2


def test_parse_line_items_takes_an_optional_price():
    tee = ProductFactory(handle="tee")
    items = parse_line_items("tee x 2 @ 40.00;tee x 1")
    assert [(i.product, i.quantity, i.price) for i in items] == [
        (tee, 2, Decimal("40.00")),
        (tee, 1, None),
    ]


# The admin ------------------------------------------------------------------------------


def _upload(name: str, content: bytes):
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def test_admin_import_previews_then_writes_on_confirm(admin_client, store):
    run, html = admin_import(
        admin_client, "customer", _upload("c.csv", CUSTOMERS.strip().encode()), confirm=False
    )

    assert run.state == ImportRun.State.CHECKED
    assert '<td class="new">2</td>' in html
    assert Customer.objects.count() == 0
    run, html = admin_import(admin_client, "customer", _upload("c.csv", CUSTOMERS.strip().encode()))
    assert run.state == ImportRun.State.DONE
    assert Customer.objects.count() == 2


def test_admin_import_shows_the_bad_row_and_offers_no_confirm(admin_client, store):
    data = b"email,first_name,last_name\nok@example.com,A,B\nbroken,C,D\n"

    run, html = admin_import(admin_client, "customer", _upload("c.csv", data))

    assert run.state == ImportRun.State.REFUSED
    assert "shop-import-confirm" not in html
    assert "Enter a valid email address." in html
    assert Customer.objects.count() == 0


def test_admin_import_reads_xlsx_orders(admin_client, catalogue):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["customer_email", "ordered_at", "line_items"])
    sheet.append(["nour@example.com", datetime(2025, 6, 1, 12, 0), "tee x 1; mug x 2"])
    buffer = io.BytesIO()
    book.save(buffer)

    run, _ = admin_import(
        admin_client, "order", _upload("o.xlsx", buffer.getvalue()), file_format="1"
    )
    assert run.state == ImportRun.State.DONE

    order = Order.objects.get()
    assert order.total_price == Decimal("70.00")
    # Noon in Cairo, on summer time (UTC+3) in June.
    assert order.ordered_at == datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


def test_a_row_that_fails_at_confirmation_rolls_back_its_batch(admin_client, catalogue):
    data = b"customer_email,line_items\nnour@example.com,tee x 1\nnour@example.com,mug x 1\n"
    run, _ = admin_import(admin_client, "order", _upload("o.csv", data), confirm=False)
    assert run.state == ImportRun.State.CHECKED
    # Between the preview and the confirmation the second row's product is deleted.
    catalogue["mug"].deleted_at = datetime.now(UTC)
    catalogue["mug"].save()

    admin_client.post(reverse("admin:shop_importrun_confirm", args=[run.pk]))
    run = work(run)

    assert Order.objects.count() == 0
    assert run.state == ImportRun.State.FAILED
    assert "no row is in; nothing from row 1 on was written" in run.message


def _export(admin_client, model, fmt, fields):
    resource = f"{model}resource"
    data = {"format": fmt, "resource": "0"} | {f"{resource}_{f}": "on" for f in fields}
    return admin_client.post(reverse(f"admin:shop_{model}_export"), data)


def test_admin_exports_orders_as_a_streamed_csv(admin_client, catalogue):
    order = OrderFactory(customer=catalogue["customer"], items=2)

    response = _export(admin_client, "order", "0", ["id", "customer", "line_items", "total_price"])

    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == "id,customer_email,line_items,total_price"
    handles = [li.product.handle for li in order.line_items.all()]
    assert lines[1] == (
        f"{order.pk},nour@example.com,{handles[0]} x 1 @ 50.00; {handles[1]} x 1 @ 50.00,100.00"
    )


def test_admin_export_reads_orders_in_chunks_with_a_constant_number_of_queries(
    admin_client, catalogue, django_assert_max_num_queries
):
    for _ in range(6):
        OrderFactory(customer=catalogue["customer"], items=2)
    response = _export(admin_client, "order", "0", ["id", "line_items"])
    # The orders with their customers, then the line items with their products.
    with django_assert_max_num_queries(2):
        body = b"".join(response.streaming_content)
    assert body.count(b"\n") == 7


def test_admin_exports_products_as_xlsx(admin_client, store):
    ProductFactory(title="=HYPERLINK(1)", handle="formula")

    response = _export(admin_client, "product", "1", ["handle", "title", "price"])

    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(book.active.values)
    assert rows[0] == ("title", "handle", "price")
    assert rows[1][:2] == ("=HYPERLINK(1)", "formula")
    assert book.active["A2"].data_type == "s"


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("Nour", "Nour"),
    ],
)
def test_csv_export_writes_formulas_as_text(admin_client, store, name, written):
    CustomerFactory(first_name=name, phone="+201000000001")
    response = _export(admin_client, "customer", "0", ["id", "first_name", "phone"])
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[1][1:] == [written, "+201000000001"]
