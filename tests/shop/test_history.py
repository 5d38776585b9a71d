"""Per-record history: every door's writes record who, which door and what changed, in the
write's transaction at one INSERT a record (one a batch); the admin shows it; the worker
prunes it; a customer's entries can be forgotten."""

import io
import json
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from shop import bulk, history, services
from shop.models import Customer, HistoryEntry, ImportRun, Order, Store
from shop.tasks import history_prune
from tests.factories import CustomerFactory, OrderFactory, ProductFactory
from tests.shop.conftest import admin_import

pytestmark = pytest.mark.django_db

Door, Kind, Action = HistoryEntry.Door, HistoryEntry.ActorKind, HistoryEntry.Action


def entries(record) -> list[HistoryEntry]:
    return list(history.entries_of(type(record), record.pk))


def latest(record) -> HistoryEntry:
    return entries(record)[0]


def who(entry: HistoryEntry) -> tuple:
    return (entry.actor_kind, entry.actor_id, entry.actor_label, entry.door)


# Service calls ------------------------------------------------------------------------


def test_a_service_call_records_a_new_customer_field_by_field_as_the_systems(store):
    customer = services.customer_create(
        email="nour@example.com", first_name="Nour", last_name="Ali", phone="+201001234567"
    )

    (entry,) = entries(customer)
    assert who(entry) == (Kind.SYSTEM, None, "system", Door.SERVICE)
    assert entry.action == Action.CREATE
    assert entry.changes["email"] == [None, "nour@example.com"]
    assert entry.changes["first_name"] == [None, "Nour"]
    assert entry.changes["currency"] == [None, "EGP"]
    assert entry.changes["deleted_at"] == [None, None]
    assert "updated_at" not in entry.changes


def test_an_update_records_only_what_changed_and_an_update_changing_nothing_records_none(store):
    customer = CustomerFactory(first_name="Nour", last_name="Ali")
    customer = Customer.objects.get(pk=customer.pk)

    services.customer_update(customer=customer, first_name="Noura", last_name="Ali")
    services.customer_update(customer=customer, first_name="Noura")

    (update,) = entries(customer)  # the factory writes without the services
    assert update.action == Action.UPDATE
    assert update.changes == {"first_name": ["Nour", "Noura"]}


def test_amounts_and_relations_are_kept_as_text_and_ids(store):
    product = ProductFactory(price=Decimal("10.00"))
    product = type(product).objects.get(pk=product.pk)

    services.product_update(product=product, price=Decimal("12.5"), category=None)

    assert latest(product).changes["price"] == ["10.00", "12.50"]
    assert latest(product).changes["category"][1] is None


def test_an_orders_line_items_are_part_of_its_changes(store):
    shirt, mug = ProductFactory(title="Shirt"), ProductFactory(title="Mug")
    order = OrderFactory(line_items=[services.LineItemInput(product=shirt, quantity=2)])
    order = Order.objects.get(pk=order.pk)

    services.order_update(
        order=order, line_items=[services.LineItemInput(product=mug, quantity=1, price=5)]
    )

    update, create = entries(order)
    old, new = update.changes["line_items"]
    assert [(i["title"], i["quantity"]) for i in old] == [("Shirt", 2)]
    assert new == [{"product": mug.pk, "title": "Mug", "quantity": 1, "price": "5.00"}]
    assert create.changes["line_items"][0] == []
    assert update.changes["total_price"][1] == "5.00"


def test_soft_delete_and_restore_are_entries_of_their_own(store):
    customer = Customer.objects.get(pk=CustomerFactory().pk)

    services.customer_soft_delete(customer=customer)
    services.customer_restore(customer=customer)

    restore, delete = entries(customer)
    assert delete.action == Action.DELETE
    assert delete.changes["deleted_at"][0] is None
    assert delete.changes["deleted_at"][1] is not None
    assert restore.action == Action.RESTORE
    assert restore.changes["deleted_at"][1] is None


def test_the_store_settings_have_their_history(store):
    services.store_update(name="Cake Shop")

    entry = latest(Store.load())
    assert entry.entity == "store"
    assert entry.changes == {"name": ["Test Store", "Cake Shop"]}


def test_an_entry_is_written_in_the_writes_transaction(store):
    customer = Customer.objects.get(pk=CustomerFactory().pk)
    with transaction.atomic():
        services.customer_update(customer=customer, first_name="Gone")
        assert len(entries(customer)) == 1
        transaction.set_rollback(True)
    assert entries(customer) == []


# Query counts --------------------------------------------------------------------------


def test_a_single_write_costs_one_insert_more_than_without_history(
    store, django_assert_num_queries
):
    first = Customer.objects.get(pk=CustomerFactory().pk)
    second = Customer.objects.get(pk=CustomerFactory().pk)

    # Savepoints and their releases (6), the check constraints, the email's unique check, the
    # UPDATE and the outbox row; then the history's INSERT.
    with history.not_recorded(), django_assert_num_queries(10):
        services.customer_update(customer=first, first_name="Without")
    with django_assert_num_queries(11) as recorded:
        services.customer_update(customer=second, first_name="With")
    assert sum("shop_historyentry" in q["sql"] for q in recorded.captured_queries) == 1


def test_an_order_update_replacing_its_items_also_reads_the_items_replaced(
    store, django_assert_num_queries
):
    product = ProductFactory()
    first, second = (Order.objects.get(pk=OrderFactory(items=1).pk) for _ in range(2))
    items = [services.LineItemInput(product=product, quantity=3)]

    with history.not_recorded(), django_assert_num_queries(26):
        services.order_update(order=first, line_items=items)
    # The same, the line items replaced read once and the history's INSERT.
    with django_assert_num_queries(28) as recorded:
        services.order_update(order=second, line_items=items)
    sql = [q["sql"] for q in recorded.captured_queries]
    assert sum(s.startswith("INSERT INTO") and "shop_historyentry" in s for s in sql) == 1


def test_a_batch_costs_one_insert_whatever_its_size(store, django_assert_num_queries):
    def records(prefix: str, count: int):
        return [
            (n, {"email": f"{prefix}{n}@example.com", "first_name": "A", "last_name": "B"})
            for n in range(count)
        ]

    bulk.customers_write(records=records("warm", 1))
    # A savepoint and its release, the store, the emails, the check constraints, the INSERT,
    # the outbox; then the history's one INSERT. PostgreSQL: and the cached plans dropped
    # before the write (core.inserts.plan_checks_afresh).
    replan = int(connection.vendor == "postgresql")
    with history.not_recorded(), django_assert_num_queries(7 + replan):
        bulk.customers_write(records=records("off", 50))
    with django_assert_num_queries(8 + replan):
        bulk.customers_write(records=records("one", 1))
    with django_assert_num_queries(8 + replan):
        bulk.customers_write(records=records("many", 200))
    assert HistoryEntry.objects.filter(entity="customer").count() == 1 + 1 + 200


def test_a_batch_records_each_record_with_its_changes(store):
    known = CustomerFactory(email="known@example.com", first_name="Old")
    with history.acting(history.Actor.system("nightly sync"), Door.BULK_API):
        results = bulk.customers_write(
            records=[
                (0, {"email": "known@example.com", "first_name": "New", "last_name": "B"}),
                (1, {"email": "fresh@example.com", "first_name": "F", "last_name": "B"}),
            ]
        )

    update = latest(known)
    assert who(update) == (Kind.SYSTEM, None, "nightly sync", Door.BULK_API)
    assert update.changes["first_name"] == ["Old", "New"]
    assert "email" not in update.changes
    created = latest(Customer.objects.get(pk=results[1].id))
    assert created.action == Action.CREATE


def test_a_batch_of_orders_records_the_items_each_replaced(store):
    shirt, mug = ProductFactory(title="Shirt"), ProductFactory(title="Mug")
    order = OrderFactory(
        reference="R-1", line_items=[services.LineItemInput(product=shirt, quantity=1)]
    )
    record = {
        "reference": "R-1",
        "customer": order.customer,
        "line_items": [services.LineItemInput(product=mug, quantity=4)],
    }

    bulk.orders_write(records=[(0, record)])

    old, new = latest(order).changes["line_items"]
    assert [(i["title"], i["quantity"]) for i in old] == [("Shirt", 1)]
    assert [(i["title"], i["quantity"]) for i in new] == [("Mug", 4)]


# The admin's doors -----------------------------------------------------------------------


def _customer_post(customer, **changes):
    # The admin shows and reads times in the store's time zone.
    registered_at = customer.registered_at.astimezone(ZoneInfo(Store.load().time_zone))
    data = {
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": customer.phone,
        "gender": customer.gender,
        "currency": customer.currency,
        "registered_at_0": registered_at.strftime("%Y-%m-%d"),
        "registered_at_1": registered_at.strftime("%H:%M:%S"),
    }
    data.update(changes)
    return data


def test_an_admin_form_save_is_recorded_as_the_staff_users(admin_client, admin_user, store):
    customer = CustomerFactory(
        first_name="Nour", registered_at=timezone.now().replace(microsecond=0)
    )
    url = reverse("admin:shop_customer_change", args=[customer.pk])

    response = admin_client.post(url, _customer_post(customer, first_name="Noura"))

    assert response.status_code == 302
    entry = latest(customer)
    assert who(entry) == (Kind.USER, admin_user.pk, admin_user.username, Door.ADMIN)
    assert entry.changes == {"first_name": ["Nour", "Noura"]}
    # The door closes with the request: a later service call is the system's again.
    assert history.current() == history.SYSTEM


def test_an_admin_action_is_recorded_as_the_staff_users(admin_client, admin_user, store):
    customer = CustomerFactory()

    admin_client.post(
        reverse("admin:shop_customer_changelist"),
        {"action": "soft_delete_selected", "_selected_action": [customer.pk]},
    )

    entry = latest(customer)
    assert entry.action == Action.DELETE
    assert who(entry) == (Kind.USER, admin_user.pk, admin_user.username, Door.ADMIN)


def test_an_admin_inline_edit_records_the_orders_line_items(admin_client, admin_user, store):
    order = OrderFactory(items=1, item_price=Decimal("10"))
    item = order.line_items.get()
    data = {
        "customer": order.customer_id,
        "ordered_at_0": order.ordered_at.strftime("%Y-%m-%d"),
        "ordered_at_1": order.ordered_at.strftime("%H:%M:%S"),
        "financial_status": order.financial_status,
        "currency": order.currency,
        "country_code": "EG",
        "total_tax": "0",
        "total_discounts": "0",
        "phone": order.phone,
        "contact_email": order.contact_email,
        "customer_locale": "",
        "line_items-TOTAL_FORMS": "1",
        "line_items-INITIAL_FORMS": "1",
        "line_items-MIN_NUM_FORMS": "1",
        "line_items-MAX_NUM_FORMS": "1000",
        "line_items-0-id": item.pk,
        "line_items-0-order": order.pk,
        "line_items-0-product": item.product_id,
        "line_items-0-quantity": "3",
        "line_items-0-price": "10.00",
    }

    response = admin_client.post(reverse("admin:shop_order_change", args=[order.pk]), data)

    assert response.status_code == 302
    entry = latest(order)
    assert who(entry) == (Kind.USER, admin_user.pk, admin_user.username, Door.ADMIN)
    old, new = entry.changes["line_items"]
    assert (old[0]["quantity"], new[0]["quantity"]) == (1, 3)
    assert entry.changes["total_price"] == ["10.00", "30.00"]


def test_the_admins_store_settings_save_is_recorded(admin_client, admin_user, store):
    response = admin_client.post(
        reverse("admin:shop_store_change", args=[1]),
        {
            "name": "Cake Shop",
            "description": "",
            "email": store.email,
            "currency": store.currency,
            "time_zone": store.time_zone,
            "country": "EG",
            "base_url": store.base_url,
        },
    )

    assert response.status_code == 302
    entry = latest(Store.load())
    assert who(entry) == (Kind.USER, admin_user.pk, admin_user.username, Door.ADMIN)
    assert entry.changes == {"name": ["Test Store", "Cake Shop"]}


# Imports and restore ----------------------------------------------------------------------


def test_an_import_is_recorded_as_its_runs(admin_client, admin_user, store):
    known = CustomerFactory(email="nour@example.com", first_name="Old")
    upload = SimpleUploadedFile(
        "people.csv", b"email,first_name,last_name\nnour@example.com,Nour,Ali\nsam@x.com,Sam,Lee\n"
    )

    run, _ = admin_import(admin_client, "customer", upload)

    assert run.state == ImportRun.State.DONE
    label = f"import of people.csv by {admin_user.username}"
    entry = latest(known)
    assert who(entry) == (Kind.IMPORT, run.pk, label, Door.IMPORT)
    assert entry.changes["first_name"] == ["Old", "Nour"]
    new = latest(Customer.objects.get(email="sam@x.com"))
    assert (new.action, who(new)) == (Action.CREATE, (Kind.IMPORT, run.pk, label, Door.IMPORT))


def test_a_store_restore_is_recorded_through_its_door(store, tmp_path):
    (tmp_path / "customers.csv").write_text("email,first_name,last_name\nrae@example.com,Rae,Li\n")

    call_command("store_import", str(tmp_path), "--no-progress", stdout=io.StringIO())

    entry = latest(Customer.objects.get(email="rae@example.com"))
    assert who(entry) == (Kind.SYSTEM, None, "store_import", Door.RESTORE)


# Shown in the admin -----------------------------------------------------------------------


def test_the_admins_history_page_shows_readable_changes_newest_first_a_page_at_a_time(
    admin_client, store
):
    customer = services.customer_create(email="n@example.com", first_name="N0", last_name="L")
    for n in range(1, 56):
        services.customer_update(customer=customer, first_name=f"N{n}")
    url = reverse("admin:shop_customer_history", args=[customer.pk])

    first = admin_client.get(url)
    html = first.content.decode()

    assert first.status_code == 200
    shown = first.context["entries"]
    assert len(shown) == 50
    assert [item["changes"] for item in shown[:2]] == [
        [("first name", "N54", "N55")],
        [("first name", "N53", "N54")],
    ]
    assert "<strong>first name</strong>: N54 -&gt; N55" in html
    assert "changed by system (service call)" in html
    older = first.context["older"]
    second = admin_client.get(url, {"before": older})
    assert [item["entry"].action for item in second.context["entries"]] == ["update"] * 5 + [
        "create"
    ]
    assert second.context["older"] is None
    assert admin_client.get(url, {"before": "x"}).context["entries"] == shown


def test_the_history_page_needs_the_view_permission(staff_client, store):
    customer = CustomerFactory()
    client = staff_client("view_order")
    assert client.get(reverse("admin:shop_customer_history", args=[customer.pk])).status_code == 403


def test_the_history_page_of_an_unknown_record_sends_back_to_the_list(admin_client, store):
    response = admin_client.get(reverse("admin:shop_customer_history", args=[999999]))
    assert response.status_code == 302


# Pruning ------------------------------------------------------------------------------------


def test_entries_older_than_the_kept_days_are_pruned_by_the_worker(store, settings):
    settings.HISTORY_KEEP_DAYS = 30
    customer = services.customer_create(email="n@example.com", first_name="N", last_name="L")
    services.customer_update(customer=customer, first_name="Recent")
    old = HistoryEntry.objects.filter(action=Action.CREATE)
    old.update(at=timezone.now() - timedelta(days=31))

    assert history_prune.call() == 1

    assert [e.action for e in entries(customer)] == [Action.UPDATE]


def test_the_push_pump_prunes_the_history_after_its_run(store, settings):
    from push.tasks import pump

    settings.PUSH_PUMP_SECONDS = 0.05
    settings.PUSH_POLL_SECONDS = 0.01
    customer = services.customer_create(email="n@example.com", first_name="N", last_name="L")
    HistoryEntry.objects.update(at=timezone.now() - timedelta(days=731))
    services.customer_update(customer=customer, first_name="Kept")

    pump.call()

    assert [e.action for e in entries(customer)] == [Action.UPDATE]


# Forgetting a customer ------------------------------------------------------------------------


def test_forgetting_a_customer_keeps_no_value_of_them_or_their_orders(store):
    customer = CustomerFactory(email="secret@example.com", phone="+201009998887")
    order = OrderFactory(customer=customer, contact_email="secret@example.com")
    other = OrderFactory()
    services.customer_update(customer=customer, first_name="Secretname")
    staff = history.Actor(Kind.USER, 7, "alice")

    history.forget_customer(customer.pk, [order.pk], staff)

    (erased,) = entries(customer)
    assert (erased.action, erased.changes, who(erased)) == (
        Action.ERASE,
        {},
        (Kind.USER, 7, "alice", Door.ERASURE),
    )
    assert history.summary(erased).startswith("erased by alice at ")
    assert [(e.action, e.changes) for e in entries(order)] == [(Action.ERASE, {})]
    assert [e.action for e in entries(other)] == [Action.CREATE]
    stored = json.dumps(list(HistoryEntry.objects.values()), default=str)
    for value in ("secret@example.com", "+201009998887", "Secretname"):
        assert value not in stored


def test_forgetting_twice_leaves_one_erasure_entry(store):
    customer = CustomerFactory()
    actor = history.Actor.system()
    history.forget_customer(customer.pk, [], actor)
    history.forget_customer(customer.pk, [], actor)
    assert [e.action for e in entries(customer)] == [Action.ERASE]


def test_the_store_settings_history_page_shows_its_changes(admin_client, store):
    services.store_update(name="Cake Shop")

    response = admin_client.get(reverse("admin:shop_store_history", args=[1]))

    assert response.status_code == 200
    assert [item["changes"] for item in response.context["entries"]] == [
        [("name", "Test Store", "Cake Shop")]
    ]


def test_an_erasure_shows_who_and_when_and_no_values(admin_client, store):
    customer = services.customer_create(email="n@example.com", first_name="N", last_name="L")
    history.forget_customer(customer.pk, [], history.Actor(Kind.USER, 1, "alice"))

    response = admin_client.get(reverse("admin:shop_customer_history", args=[customer.pk]))

    (item,) = response.context["entries"]
    assert item["summary"].startswith("erased by alice at ")
    assert item["changes"] == []
    assert "n@example.com" not in response.content.decode().split('id="change-history"')[1]
