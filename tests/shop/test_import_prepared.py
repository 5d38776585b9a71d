"""The write of a checked import takes the batches its preview prepared, when the database
still agrees with the preview; otherwise it checks the batch again."""

import pickle
from decimal import Decimal

import pytest
import tablib
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from push.models import PushEvent
from shop import imports, services
from shop.history import HistoryEntry
from shop.models import (
    ImportRun,
    LineItem,
    Order,
    OrderFigures,
    ProductFigures,
    StatusFigures,
)
from shop.resources import OrderResource
from shop.tasks import import_confirm, import_start
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

HEADER = "reference,customer_email,financial_status,total_tax,line_items\n"


def _file(prefix: str, email: str, count: int = 5) -> bytes:
    rows = "".join(
        f"{prefix}{n},{email},successful,1.50,tee x {n + 1}; mug x 1 @ 3.25\n" for n in range(count)
    )
    return (HEADER + rows).encode()


def _checked(content: bytes) -> ImportRun:
    run = import_start(
        upload=ContentFile(content, name="orders.csv"),
        model="shop.Order",
        file_name="orders.csv",
        file_format="csv",
        user=None,
    )
    imports.run_advance(run)
    run.refresh_from_db()
    assert run.state == ImportRun.State.CHECKED, run.refusals
    return run


def _written(run: ImportRun) -> ImportRun:
    import_confirm(run=run)
    run.refresh_from_db()
    imports.run_advance(run)
    run.refresh_from_db()
    return run


def _prepared(import_dir, run: ImportRun) -> list[str]:
    return sorted(path.name for path in import_dir.glob(f"{run.stored_name}.*.prepared"))


DIFFER = {"reference", "ordered_at"}


def _orders(prefix: str) -> list[tuple]:
    orders = Order.objects.filter(reference__startswith=prefix).order_by("reference")
    return [
        (
            order.reference[len(prefix) :],
            order.customer_id,
            order.currency,
            order.phone,
            order.contact_email,
            order.country_code,
            order.financial_status,
            order.customer_locale,
            order.taxes_included,
            order.subtotal_price,
            order.total_price,
            order.total_tax,
            [
                (line.product_id, line.quantity, line.price, line.title, line.sku)
                for line in order.line_items.order_by("id")
            ],
            PushEvent.objects.filter(entity="orders", record_id=order.pk).count(),
            [
                # Beside the reference, the order's date is its write's: it differs.
                (action, door, {k: v for k, v in changes.items() if k not in DIFFER})
                for action, door, changes in HistoryEntry.objects.filter(
                    entity=HistoryEntry.Entity.ORDER, record_id=order.pk
                ).values_list("action", "door", "changes")
            ],
        )
        for order in orders
    ]


def _figures() -> dict[str, int]:
    """The dashboard's figures, summed over their rows."""
    orders = OrderFigures.objects.aggregate(
        orders=Sum("orders"), successful=Sum("successful"), revenue=Sum("revenue_cents")
    )
    products = ProductFigures.objects.aggregate(
        units=Sum("units"), product_revenue=Sum("revenue_cents")
    )
    statuses = StatusFigures.objects.aggregate(by_status=Sum("orders"))
    return {key: value or 0 for key, value in {**orders, **products, **statuses}.items()}


@pytest.fixture
def shop_data(store):
    return (
        CustomerFactory(email="nour@example.com"),
        ProductFactory(handle="tee", price=Decimal("40.00")),
        ProductFactory(handle="mug", price=Decimal("9.00")),
    )


def test_a_write_takes_what_the_preview_prepared_and_writes_what_a_fresh_check_would(
    shop_data, settings, import_dir, monkeypatch
):
    settings.IMPORT_BATCH_ROWS = 2
    prepared_run = _checked(_file("A", "nour@example.com"))
    assert _prepared(import_dir, prepared_run) == [
        f"{prepared_run.stored_name}.{first}.prepared" for first in (0, 2, 4)
    ]
    checked_again = _checked(_file("B", "nour@example.com"))
    for name in _prepared(import_dir, checked_again):
        (import_dir / name).unlink()  # as if the preview had kept nothing
    before_the_write = timezone.now()

    with monkeypatch.context() as patch:
        patch.setattr(OrderResource, "write_batch", _not_checked_again)
        prepared_run = _written(prepared_run)
    figures_of_the_prepared = _figures()
    checked_again = _written(checked_again)

    assert (prepared_run.state, prepared_run.rows_written, prepared_run.written_new) == (
        ImportRun.State.DONE,
        5,
        5,
    )
    assert _orders("A") == _orders("B")
    assert len(_orders("A")) == 5
    assert all(len(order[-1]) == 1 for order in _orders("A"))  # one history entry each
    # The same figures and outbox rows (each order's customer once a batch) both ways.
    assert figures_of_the_prepared["revenue"] > 0
    assert _figures() == {key: 2 * value for key, value in figures_of_the_prepared.items()}
    customers = PushEvent.objects.filter(entity="customers", record_id=shop_data[0].pk)
    assert customers.count() == 2 * 3  # 3 batches a file
    # The file gives no order date: each order is dated at its write, as a create dates it,
    # not at the preview.
    for order in Order.objects.all():
        assert before_the_write <= order.ordered_at <= order.created_at
    assert list(import_dir.iterdir()) == []


def _not_checked_again(*args, **kwargs):
    raise AssertionError("the batch was checked again instead of taking the preview's work")


def test_a_customer_changed_since_the_preview_gives_the_orders_defaults_anew(shop_data, import_dir):
    customer, _, _ = shop_data
    run = _checked(_file("A", "nour@example.com", count=2))
    services.customer_update(customer=customer, phone="+201099999999")

    run = _written(run)

    assert run.state == ImportRun.State.DONE
    assert set(Order.objects.values_list("phone", flat=True)) == {"+201099999999"}


def test_a_prepared_batch_moved_to_another_batch_is_not_read(shop_data, import_dir):
    run = _checked(_file("A", "nour@example.com", count=2))
    (path,) = (import_dir / name for name in _prepared(import_dir, run))
    path.rename(import_dir / f"{run.stored_name}.500.prepared")

    assert imports.prepared_take(run.stored_name, 0) is None
    assert imports.prepared_take(run.stored_name, 500) is None


@pytest.mark.parametrize("count", [1, 40])
def test_a_prepared_batch_costs_the_same_queries_whatever_its_size(
    shop_data, count, django_assert_num_queries
):
    data = tablib.Dataset(headers=["reference", "customer_email", "line_items"])
    for n in range(count):
        data.append([f"R{n}", "NOUR@example.com", "tee x 2"])
    preview = OrderResource()
    preview._meta.skip_diff = True
    assert not preview.import_data(data, dry_run=True).has_validation_errors()
    prepared = preview.prepared(count)
    assert prepared is not None

    # The store's settings (as the preview read them?), the orders by reference (none; locked
    # on PostgreSQL), the customers and the products as they are now; the orders, their line
    # items, the history, the two figures a pending order moves, and the outbox. PostgreSQL:
    # the connection's cached plans dropped first (core.inserts.plan_checks_afresh).
    resource = OrderResource()
    with django_assert_num_queries(10 + int(connection.vendor == "postgresql")):
        result = resource.write_ready(data, resource.ready(prepared))

    assert result is not None
    assert result.totals["new"] == count
    assert LineItem.objects.filter(quantity=2, price=Decimal("40.00")).count() == count


def test_a_product_changed_since_the_preview_is_read_again(shop_data, settings, import_dir):
    _, tee, _ = shop_data
    run = _checked(_file("A", "nour@example.com", count=2))
    assert _prepared(import_dir, run)
    services.product_update(product=tee, title="Tee, organic", price=Decimal("42.00"))

    run = _written(run)

    assert run.state == ImportRun.State.DONE
    lines = LineItem.objects.filter(product=tee).order_by().values_list("price", "title").distinct()
    assert list(lines) == [(Decimal("42.00"), "Tee, organic")]


def test_an_order_created_since_the_preview_is_updated_not_duplicated(
    shop_data, settings, import_dir
):
    customer, tee, _ = shop_data
    run = _checked(_file("A", "nour@example.com", count=2))
    services.order_create(
        customer=customer, reference="A1", line_items=[{"product": tee, "quantity": 9}]
    )

    run = _written(run)

    assert (run.state, run.written_new, run.written_changed) == (ImportRun.State.DONE, 1, 1)
    assert Order.objects.filter(reference="A1").count() == 1
    lines = Order.objects.get(reference="A1").line_items.order_by("id")
    assert list(lines.values_list("product__handle", "quantity")) == [("tee", 2), ("mug", 1)]


class _Forged:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_prepared_batch_not_signed_by_the_site_is_never_read(shop_data, import_dir, tmp_path):
    run = _checked(_file("A", "nour@example.com", count=2))
    (path,) = (import_dir / name for name in _prepared(import_dir, run))
    forged = tmp_path / "forged"
    path.write_bytes(b"\0" * 32 + pickle.dumps(_Forged(forged)))

    assert imports.prepared_take(run.stored_name, 0) is None
    run = _written(run)

    assert run.state == ImportRun.State.DONE
    assert Order.objects.filter(reference__startswith="A").count() == 2
    assert not forged.exists()


def test_a_cancelled_preview_leaves_nothing_prepared(shop_data, import_dir):
    run = _checked(_file("A", "nour@example.com", count=2))
    assert _prepared(import_dir, run)

    assert imports.run_cancel(run)

    assert list(import_dir.iterdir()) == []


def test_a_batch_built_before_its_write_is_dated_by_the_write(shop_data):
    """The write builds the next batches while it writes one: their times of writing
    (created, updated, the history's) are still those of the transaction that writes them,
    as the REST API's sync expects."""
    data = tablib.Dataset(headers=["reference", "customer_email", "ordered_at", "line_items"])
    for n in range(3):
        data.append([f"R{n}", "nour@example.com", "2025-03-01 10:00:00", "tee x 2"])
    preview = OrderResource()
    preview._meta.skip_diff = True
    assert not preview.import_data(data, dry_run=True).has_validation_errors()
    ready = OrderResource().ready(preview.prepared(3))
    assert ready is not None
    assert ready["new"] is not None  # built ahead: the file dates the orders
    written_from = timezone.now()

    with transaction.atomic():
        assert OrderResource().write_ready(data, ready) is not None

    orders = list(Order.objects.all())
    assert len(orders) == 3
    for order in orders:
        assert written_from <= order.created_at == order.updated_at
        assert order.ordered_at.year == 2025
    entries = HistoryEntry.objects.filter(entity=HistoryEntry.Entity.ORDER)
    assert entries.count() == 3
    assert all(written_from <= entry.at for entry in entries)
