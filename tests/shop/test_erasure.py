"""Erasing a customer (shop/erasure.py) and their data export, at the service, the admin and the
command line."""

import json
from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from push.models import PushEvent
from shop import erasure, imports, services
from shop.api.models import IdempotentRequest
from shop.cleaning import full_clean
from shop.models import Customer, ImportRun, Order, OrderFigures
from tests.factories import CustomerFactory, OrderFactory

EMAIL = "nour.hassan@example.com"
PHONE = "+201001234567"
ORDER_EMAIL = "nour.work@example.org"
ORDER_PHONE = "+201009998877"


@pytest.fixture
def nour(store):
    customer = services.customer_create(
        email=EMAIL,
        first_name="Nourhan",
        last_name="Hassanein",
        phone=PHONE,
        gender="female",
        accepts_marketing=True,
    )
    first = OrderFactory(customer=customer, customer_locale="ar", reference="#1001")
    second = OrderFactory(
        customer=customer,
        contact_email=ORDER_EMAIL,
        phone=ORDER_PHONE,
        financial_status="pending",
    )
    deleted = OrderFactory(customer=customer)
    services.order_soft_delete(order=deleted)
    return customer, [first, second, deleted]


def kept(order: Order) -> dict:
    """What erasure keeps of an order."""
    return {
        "ordered_at": order.ordered_at,
        "financial_status": order.financial_status,
        "currency": order.currency,
        "country_code": str(order.country_code),
        "amounts": [
            order.subtotal_price,
            order.total_tax,
            order.total_discounts,
            order.total_price,
        ],
        "reference": order.reference,
        "deleted_at": order.deleted_at,
        "line_items": list(
            order.line_items.values_list("product_id", "quantity", "price", "title")
        ),
    }


def figures(customer: Customer):
    row = Customer.objects.with_order_stats().get(pk=customer.pk)
    dashboard = list(
        OrderFigures.objects.values_list("bucket", "currency", "orders", "revenue_cents")
    )
    return row.orders_count, row.total_spent, dashboard


def test_erasure_replaces_the_personal_fields_and_keeps_the_accounts(nour):
    customer, orders = nour
    before_orders = [kept(order) for order in orders]
    before_figures = figures(customer)

    done = erasure.customer_erase(customer=customer)

    assert (done.customer_erased, done.orders_erased) == (True, 3)
    customer.refresh_from_db()
    assert customer.email == f"erased-{customer.pk}@erased.invalid"
    assert (customer.first_name, customer.last_name, customer.phone) == ("Erased", "Customer", "")
    assert (customer.gender, customer.accepts_marketing) == ("unknown", False)
    assert customer.erased_at is not None
    assert customer.deleted_at is None
    for order, before in zip(orders, before_orders, strict=True):
        order.refresh_from_db()
        assert (order.contact_email, order.phone, order.customer_locale) == (
            customer.email,
            "0000000000",
            "",
        )
        assert order.erased_at == customer.erased_at
        assert kept(order) == before
    assert figures(customer) == before_figures
    # The placeholders pass every rule of the records.
    full_clean(customer)
    for order in orders:
        full_clean(order)


def test_erasure_tells_converted_in_customer_deleted_and_orders_updated(nour):
    customer, (first, second, deleted) = nour
    newest = PushEvent.objects.order_by("-id").values_list("id", flat=True).first()

    erasure.customer_erase(customer=customer)

    pushed = set(
        PushEvent.objects.filter(id__gt=newest).values_list("entity", "record_id", "action")
    )
    assert pushed == {
        ("customers", customer.pk, "delete"),
        ("orders", first.pk, "update"),
        ("orders", second.pk, "update"),
        ("orders", deleted.pk, "delete"),  # gone from converted.in already: not re-created
    }


def test_a_second_erasure_changes_nothing_and_pushes_nothing(nour, django_assert_num_queries):
    customer, _ = nour
    erasure.customer_erase(customer=customer)
    rows = (
        list(Customer.objects.values()),
        list(Order.objects.order_by("id").values()),
        PushEvent.objects.count(),
    )

    # The customer's row and their orders' (both locked), and nothing more.
    with django_assert_num_queries(2 + 2):
        done = erasure.customer_erase(customer=customer)

    assert not done.changed
    assert rows == (
        list(Customer.objects.values()),
        list(Order.objects.order_by("id").values()),
        PushEvent.objects.count(),
    )


def test_an_order_written_after_an_erasure_is_erased_by_the_next(nour):
    customer, _ = nour
    erasure.customer_erase(customer=customer)
    later = OrderFactory(customer=customer, contact_email="back@example.com", phone="+2010555")

    done = erasure.customer_erase(customer=customer)

    assert (done.customer_erased, done.orders_erased) == (False, 1)
    later.refresh_from_db()
    assert (later.contact_email, later.phone) == (done.customer.email, "0000000000")
    assert PushEvent.objects.filter(entity="customers", action="delete").count() == 1


def test_erased_customers_keep_unique_emails(store):
    customers = [CustomerFactory(email=f"same{n}@example.com") for n in range(3)]
    for customer in customers:
        erasure.customer_erase(customer=customer)
    emails = list(Customer.objects.order_by("id").values_list("email", flat=True))
    assert emails == [f"erased-{c.pk}@erased.invalid" for c in customers]


def test_erasure_rewrites_the_admin_log(nour, admin_user):
    customer, (first, *_) = nour
    customer_type = ContentType.objects.get_for_model(Customer)
    LogEntry.objects.log_actions(admin_user.pk, [customer], CHANGE, change_message="Changed email.")
    LogEntry.objects.log_actions(
        admin_user.pk, [first], CHANGE, change_message=f"Contact {EMAIL}, phone {PHONE}."
    )
    # An entry of another record that quotes the email.
    other = CustomerFactory()
    LogEntry.objects.log_actions(
        admin_user.pk, [other], CHANGE, change_message=f"Merged from {EMAIL.upper()}."
    )

    erasure.customer_erase(customer=customer)

    texts = list(LogEntry.objects.values_list("object_repr", "change_message"))
    assert EMAIL not in json.dumps(texts).lower()
    assert PHONE not in json.dumps(texts)
    assert "Nourhan" not in json.dumps(texts)
    entry = LogEntry.objects.get(content_type=customer_type, object_id=str(customer.pk))
    assert entry.object_repr == f"Erased Customer <erased-{customer.pk}@erased.invalid>"
    assert LogEntry.objects.get(object_id=str(other.pk)).change_message == "Merged from [erased]."


def test_erasure_forgets_stored_answers_of_every_sender(nour):
    customer, _ = nour
    IdempotentRequest.objects.create(principal="key:1", key="a", fingerprint="x", body=EMAIL)
    IdempotentRequest.objects.create(principal="user:2", key="b", fingerprint="y", body=ORDER_PHONE)
    IdempotentRequest.objects.create(principal="key:1", key="c", fingerprint="z", body="{}")

    erasure.customer_erase(customer=customer)

    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["c"]


def test_erasure_scrubs_the_push_answers_kept(nour):
    customer, (first, *_) = nour
    PushEvent.objects.filter(entity="orders", record_id=first.pk).update(
        last_answer=f'{{"echo": "{ORDER_EMAIL}"}}', last_error="HTTP 500: Nourhan Hassanein"
    )
    erasure.customer_erase(customer=customer)
    kept_texts = json.dumps(list(PushEvent.objects.values_list("last_answer", "last_error")))
    assert "Nourhan" not in kept_texts
    assert ORDER_EMAIL not in kept_texts


@pytest.fixture
def import_dir(settings, tmp_path):
    settings.IMPORT_DIR = tmp_path / "imports"
    return settings.IMPORT_DIR


def test_erasure_stops_an_import_under_way_that_names_the_customer(
    nour, import_dir, django_capture_on_commit_callbacks
):
    customer, _ = nour
    naming = imports.store_upload(
        SimpleUploadedFile("a.csv", f"email,first_name\n{EMAIL.upper()},N\n".encode()), "csv"
    )
    other = imports.store_upload(
        SimpleUploadedFile("b.csv", b"email,first_name\nsomeone@example.com,S\n"), "csv"
    )
    waiting = ImportRun.objects.create(
        model="shop.Customer",
        file_name="a.csv",
        stored_name=naming,
        file_format="csv",
        state=ImportRun.State.CHECKED,
    )
    untouched = ImportRun.objects.create(
        model="shop.Customer",
        file_name="b.csv",
        stored_name=other,
        file_format="csv",
        state=ImportRun.State.CHECKED,
    )
    refused = ImportRun.objects.create(
        model="shop.Order",
        file_name="orders.csv",
        file_format="csv",
        state=ImportRun.State.REFUSED,
        refusals=[{"row": 3, "errors": {"phone": [f"{PHONE} is taken by Nourhan Hassanein."]}}],
    )

    with django_capture_on_commit_callbacks(execute=True):
        erasure.customer_erase(customer=customer)

    waiting.refresh_from_db()
    untouched.refresh_from_db()
    refused.refresh_from_db()
    assert (waiting.state, waiting.stored_name) == (ImportRun.State.FAILED, "")
    assert "erased" in waiting.message
    assert not (import_dir / naming).exists()
    assert (untouched.state, untouched.stored_name) == (ImportRun.State.CHECKED, other)
    assert refused.refusals == [{"row": 3, "errors": {"phone": ["[erased] is taken by [erased]."]}}]


def test_the_export_holds_the_customer_their_orders_and_line_items(nour):
    customer, orders = nour
    document = erasure.customer_export(customer=customer)

    assert set(document) == {"exported_at", "customer", "orders", "history"}
    assert document["customer"]["email"] == EMAIL
    assert document["customer"]["phone"] == PHONE
    assert [o["id"] for o in document["orders"]] == [o.pk for o in orders]
    second = document["orders"][1]
    assert (second["contact_email"], second["phone"], second["customer"]) == (
        ORDER_EMAIL,
        ORDER_PHONE,
        customer.pk,
    )
    assert second["total_price"] == str(orders[1].total_price)
    assert len(second["line_items"]) == 2
    assert document["orders"][2]["deleted_at"] is not None
    history = document["history"]
    assert history[0]["entity"] == "order"
    assert (history[0]["record_id"], history[0]["action"]) == (orders[2].pk, "delete")
    assert ("customer", customer.pk, "create") in {
        (entry["entity"], entry["record_id"], entry["action"]) for entry in history
    }
    assert [entry["at"] for entry in history] == sorted((e["at"] for e in history), reverse=True)
    json.dumps(document)  # plain JSON, nothing left to encode


def test_after_an_erasure_the_history_exported_says_who_erased_with_no_values(nour, admin_user):
    customer, orders = nour
    erasure.customer_erase(customer=customer, actor=admin_user)

    history = erasure.customer_export(customer=Customer.objects.get(pk=customer.pk))["history"]

    assert {(e["entity"], e["record_id"]) for e in history} == {("customer", customer.pk)} | {
        ("order", order.pk) for order in orders
    }
    assert {e["action"] for e in history} == {"erase"}
    assert {e["door"] for e in history} == {"erasure"}
    assert {e["actor"]["name"] for e in history} == {admin_user.get_username()}
    assert all(e["changes"] == {} for e in history)
    assert EMAIL not in json.dumps(history)


# The command line ------------------------------------------------------------------------


def test_the_command_erases_a_customer(nour, capsys):
    customer, _ = nour
    call_command("erase_customer", str(customer.pk))
    assert f"Customer #{customer.pk} erased, with 3 order(s)" in capsys.readouterr().out
    customer.refresh_from_db()
    assert customer.erased_at is not None

    call_command("erase_customer", str(customer.pk))
    assert "erased already: nothing changed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("999999", "No customer with id 999999."),
        ("abc", "'abc' is not a customer id (a whole number)."),
        ("-3", "'-3' is not a customer id (a whole number)."),
        ("99999999999999999999", "is not a customer id"),
    ],
)
def test_the_command_names_a_bad_id(store, given, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("erase_customer", given)


# The admin -------------------------------------------------------------------------------


def staff(*codenames: str) -> Client:
    user = User.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.add(*(Permission.objects.get(codename=c) for c in codenames))
    client = Client()
    client.force_login(user)
    return client


CHANGELIST = "/admin/shop/customer/?deleted=all"


def test_the_admin_asks_before_erasing_and_names_what_goes(nour):
    customer, _ = nour
    client = staff("view_customer", "erase_customer")

    page = client.post(CHANGELIST, {"action": "erase_selected", "_selected_action": [customer.pk]})

    assert page.status_code == 200
    html = page.content.decode()
    assert "This cannot be undone." in html
    assert "email, first name, last name, phone, gender, accepts marketing" in html
    assert "contact email, phone, customer locale" in html
    assert "<td>3</td>" in html  # their orders
    customer.refresh_from_db()
    assert customer.erased_at is None  # nothing yet

    done = client.post(
        CHANGELIST,
        {"action": "erase_selected", "_selected_action": [customer.pk], "post": "yes"},
    )

    assert done.status_code == 302
    customer.refresh_from_db()
    assert customer.erased_at is not None
    entry = LogEntry.objects.get(object_id=str(customer.pk))
    assert (entry.change_message, entry.user.username) == (
        "Erased the customer's personal data.",
        "clerk",
    )


@pytest.mark.parametrize(
    "codenames",
    [
        ("view_customer",),
        ("view_customer", "change_customer", "delete_customer"),
    ],
)
def test_the_admin_erases_nothing_without_the_erase_permission(nour, codenames):
    customer, _ = nour
    client = staff(*codenames)
    listing = client.get(CHANGELIST).content.decode()
    assert "erase_selected" not in listing

    client.post(
        CHANGELIST, {"action": "erase_selected", "_selected_action": [customer.pk], "post": "yes"}
    )

    customer.refresh_from_db()
    assert customer.erased_at is None
    assert customer.email == EMAIL


def test_the_admin_exports_one_customer_as_json(nour):
    customer, _ = nour
    client = staff("view_customer", "view_order")

    response = client.post(
        CHANGELIST, {"action": "export_selected", "_selected_action": [customer.pk]}
    )

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="customer-{customer.pk}.json"'
    document = json.loads(response.content)
    assert document["customer"]["email"] == EMAIL
    assert len(document["orders"]) == 3


def test_the_admin_export_needs_the_order_view_permission_too(nour):
    customer, _ = nour
    client = staff("view_customer")
    response = client.post(
        CHANGELIST, {"action": "export_selected", "_selected_action": [customer.pk]}
    )
    assert response["Content-Type"].startswith("text/html")
    assert "Content-Disposition" not in response


def test_the_admin_exports_exactly_one_customer(nour):
    customer, _ = nour
    other = CustomerFactory()
    client = staff("view_customer", "view_order")
    response = client.post(
        CHANGELIST,
        {"action": "export_selected", "_selected_action": [customer.pk, other.pk]},
        follow=True,
    )
    assert "Choose exactly one customer to export." in response.content.decode()


def test_amounts_survive_as_decimals(nour):
    customer, orders = nour
    erasure.customer_erase(customer=customer)
    assert Order.objects.get(pk=orders[0].pk).total_price == Decimal("100.00")
