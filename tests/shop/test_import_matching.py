"""How an import row finds its record: by id, else by natural key (a customer by email in
any case, a product or category by handle, an order by its reference); an unchanged row is
skipped, and the admin's preview counts rows and shows only the first ones."""

from decimal import Decimal

import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from shop import services
from shop.models import Category, Customer, Order, Product
from shop.resources import CategoryResource, CustomerResource, OrderResource, ProductResource
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, ProductFactory
from tests.shop.conftest import admin_import

pytestmark = pytest.mark.django_db


def _csv(text: str) -> tablib.Dataset:
    return tablib.Dataset().load(text.strip() + "\n", format="csv")


def _types(result) -> list[str]:
    return [row.import_type for row in result.rows]


def _errors(result) -> dict[int, dict]:
    return {row.number: row.error_dict for row in result.invalid_rows}


def test_a_customer_row_without_an_id_matches_the_email_in_any_case(store):
    nour = CustomerFactory(email="nour@example.com", first_name="Nour", last_name="Hassan")
    same = "email,first_name,last_name\nnour@example.com,Nour,Hassan\n"
    renamed = "email,first_name,last_name\nNOUR@Example.com,Noura,Hassan\n"

    assert _types(CustomerResource().import_data(_csv(same), dry_run=False)) == ["skip"]
    assert _types(CustomerResource().import_data(_csv(renamed), dry_run=False)) == ["update"]

    assert Customer.objects.get().pk == nour.pk
    assert Customer.objects.get().first_name == "Noura"


def test_a_row_keeps_a_free_id_and_updates_the_record_with_a_known_one(store):
    known = CustomerFactory(email="known@example.com")
    data = _csv(
        f"id,email,first_name,last_name\n"
        f"{known.pk},known@example.com,Kay,Known\n"
        f"4321,free@example.com,Fay,Free\n"
    )

    result = CustomerResource().import_data(data, dry_run=False)

    assert _types(result) == ["update", "new"]
    assert Customer.objects.get(pk=known.pk).first_name == "Kay"
    assert Customer.objects.get(pk=4321).email == "free@example.com"


def test_an_id_and_an_email_naming_two_customers_are_refused(store):
    first = CustomerFactory(email="first@example.com")
    CustomerFactory(email="second@example.com")
    data = _csv(f"id,email,first_name,last_name\n{first.pk},second@example.com,A,B\n")

    result = CustomerResource().import_data(data, dry_run=False)

    assert "is not the one with email 'second@example.com'" in _errors(result)[1]["id"][0]
    assert Customer.objects.get(pk=first.pk).email == "first@example.com"


def test_a_product_row_matches_its_handle_and_compares_prices_as_amounts(store):
    mug = ProductFactory(handle="mug", title="Mug", price=Decimal("12.50"), quantity=3)
    header = "title,handle,price,quantity\n"

    same = ProductResource().import_data(_csv(header + "Mug,mug,12.5,3\n"), dry_run=False)
    dearer = ProductResource().import_data(_csv(header + "Mug,mug,13.00,3\n"), dry_run=False)

    assert (_types(same), _types(dearer)) == (["skip"], ["update"])
    mug.refresh_from_db()
    assert (Product.objects.count(), mug.price) == (1, Decimal("13.00"))


def test_a_category_file_may_name_a_parent_an_earlier_row_creates(store):
    data = _csv(
        "title,handle,parent\n"
        "Home,home,\n"
        "Kitchen,kitchen,home\n"
        "Pans,pans,kitchen\n"
        "Lost,lost,nowhere\n"
    )

    preview = CategoryResource().import_data(data, dry_run=True)
    assert set(_errors(preview)) == {4}
    assert "No category with handle 'nowhere'" in _errors(preview)[4]["parent"][0]

    result = CategoryResource().import_data(_csv("\n".join(data.csv.splitlines()[:4])))
    assert _types(result) == ["new", "new", "new"]
    pans = Category.objects.get(handle="pans")
    assert (pans.parent.handle, pans.parent.parent.handle) == ("kitchen", "home")


def test_a_category_row_matches_its_handle(store):
    CategoryFactory(handle="home", title="Home")
    result = CategoryResource().import_data(_csv("title,handle\nHome,home\n"), dry_run=False)
    assert _types(result) == ["skip"]


@pytest.fixture
def catalogue(store):
    return {
        "customer": CustomerFactory(email="nour@example.com", phone="+201001234567"),
        "tee": ProductFactory(handle="tee", price=Decimal("45.00")),
        "mug": ProductFactory(handle="mug", price=Decimal("12.50")),
    }


ORDER = (
    "reference,customer_email,ordered_at,financial_status,line_items\n"
    "#1001,nour@example.com,2025-06-01 12:00:00,{status},{items}\n"
)


def test_an_order_row_without_an_id_matches_its_reference(catalogue):
    first = OrderResource().import_data(
        _csv(ORDER.format(status="pending", items="tee x 2 @ 40.00; mug x 1")), dry_run=False
    )
    again = OrderResource().import_data(
        _csv(ORDER.format(status="pending", items="tee x 2 @ 40.00; mug x 1")), dry_run=False
    )
    paid = OrderResource().import_data(
        _csv(ORDER.format(status="successful", items="tee x 2 @ 40.00; mug x 1")), dry_run=False
    )

    assert (_types(first), _types(again), _types(paid)) == (["new"], ["skip"], ["update"])
    order = Order.objects.get()
    assert (order.reference, order.financial_status) == ("#1001", "successful")


def test_an_order_with_other_line_items_is_changed(catalogue):
    OrderResource().import_data(_csv(ORDER.format(status="pending", items="tee x 2")))
    for items in ("tee x 3", "mug x 2", "tee x 2 @ 44.00", "tee x 2; mug x 1"):
        result = OrderResource().import_data(
            _csv(ORDER.format(status="pending", items=items)), dry_run=True
        )
        assert _types(result) == ["update"], items
    # No price: the product's, which the order has.
    same = OrderResource().import_data(_csv(ORDER.format(status="pending", items="tee x 2")))
    assert _types(same) == ["skip"]


def test_an_order_keeps_the_totals_a_row_gives_and_computes_empty_ones(catalogue):
    header = "reference,customer_email,line_items,subtotal_price,total_price\n"
    given = header + "#1,nour@example.com,tee x 1,44.00,39.00\n"
    empty = header + "#1,nour@example.com,tee x 1,,\n"

    OrderResource().import_data(_csv(given))
    order = Order.objects.get()
    assert (order.subtotal_price, order.total_price) == (Decimal("44.00"), Decimal("39.00"))
    assert _types(OrderResource().import_data(_csv(given))) == ["skip"]

    assert _types(OrderResource().import_data(_csv(empty))) == ["update"]
    order.refresh_from_db()
    assert (order.subtotal_price, order.total_price) == (Decimal("45.00"), Decimal("45.00"))
    assert _types(OrderResource().import_data(_csv(empty))) == ["skip"]


def test_an_order_row_refuses_a_reference_another_order_has(catalogue):
    services.order_update(order=OrderFactory(customer=catalogue["customer"]), reference="#9")
    other = OrderFactory(customer=catalogue["customer"])
    data = _csv(f"id,reference,customer_email,line_items\n{other.pk},#9,nour@example.com,tee x 1\n")

    result = OrderResource().import_data(data, dry_run=False)

    assert "is not the one with reference '#9'" in _errors(result)[1]["id"][0]


# The admin's preview --------------------------------------------------------------------


def _upload(content: bytes):
    return SimpleUploadedFile("c.csv", content, content_type="text/csv")


def test_the_preview_counts_rows_and_shows_only_the_first_changes(admin_client, store):
    CustomerFactory(email="same@example.com", first_name="Sam", last_name="Same")
    CustomerFactory(email="old@example.com", first_name="Old", last_name="Name")
    rows = ["email,first_name,last_name", "same@example.com,Sam,Same", "old@example.com,New,Name"]
    rows += [f"c{n}@example.com,C,{n}" for n in range(300)]

    run, html = admin_import(
        admin_client, "customer", _upload("\n".join(rows).encode()), confirm=False
    )

    assert '<td class="new">300</td>' in html
    assert '<td class="changed">1</td>' in html
    assert '<td class="unchanged">1</td>' in html
    assert '<td class="refused">0</td>' in html
    assert "Import 301 rows" in html
    assert len(html) < 20_000  # counts, not the rows


def test_the_preview_lists_the_first_refusals_with_their_rows_and_fields(admin_client, store):
    rows = ["email,first_name,last_name"] + [f"bad-{n},A,B" for n in range(50)]
    rows.append("fine@example.com,A,B")

    run, html = admin_import(admin_client, "customer", _upload("\n".join(rows).encode()))

    assert '<td class="refused">50</td>' in html
    assert '<td class="new">1</td>' in html
    assert html.count("Enter a valid email address.") == 20
    assert "<tr><td>1</td><td>email</td>" in html
    assert "The first 20 of 50 refused rows are shown." in html
    assert "shop-import-confirm" not in html
    assert Customer.objects.count() == 0


def test_categories_import_and_export_in_the_admin(admin_client, store):
    CategoryFactory(handle="home", title="Home")

    fields = ["id", "title", "handle", "parent"]
    exported = admin_client.post(
        reverse("admin:shop_category_export"),
        {"format": "0", "resource": "0"} | {f"categoryresource_{f}": "on" for f in fields},
    )
    _, preview = admin_import(
        admin_client, "category", _upload(b"title,handle\nHome,home\n"), confirm=False
    )

    assert exported.status_code == 200
    text = b"".join(exported.streaming_content).decode()
    assert text.splitlines()[1] == f"{Category.objects.get().pk},Home,home,"
    assert "Every row is unchanged" in preview
