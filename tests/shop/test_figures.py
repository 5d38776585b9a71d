"""The dashboard's figures kept by the order writes equal a recount, and the dashboard read from
them equals a plain count over the orders."""

import threading
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.dashboard import CHART_DAYS, PERIOD_DAYS, TOP_PRODUCTS, dashboard
from shop import figures, services
from shop.demo import seed
from shop.models import Order, OrderFigures, ProductFigures, StatusFigures, Store
from tests.factories import CustomerFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 11, 25, 10, 0, tzinfo=UTC)
MODELS = (OrderFigures, ProductFigures, StatusFigures)
ZONES = ["Africa/Cairo", "Asia/Kolkata", "Asia/Kathmandu", "America/New_York", "UTC"]


def kept() -> dict:
    return {model: figures.rows(model) for model in MODELS}


def recounted() -> dict:
    figures.recompute()
    return kept()


def reference(*, now: datetime, zone: str, currency: str) -> dict:
    """The dashboard's order figures counted in Python over every order."""
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    days = [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
    current = set(days[-PERIOD_DAYS:])
    previous = set(days[-2 * PERIOD_DAYS : -PERIOD_DAYS])
    per_day = {d: [0, Decimal("0.00")] for d in days}
    result = {"orders": [0, 0], "revenue": [Decimal("0.00")] * 2, "other": 0}
    waiting = {"pending": 0, "processing": 0}
    products: dict[int, list] = defaultdict(lambda: [0, Decimal("0.00")])
    for order in Order.objects.alive().prefetch_related("line_items"):
        if order.financial_status in waiting:
            waiting[order.financial_status] += 1
        day = order.ordered_at.astimezone(tz).date()
        if day not in per_day:
            continue
        successful = order.financial_status == Order.Status.SUCCESSFUL
        revenue = order.total_price if successful and order.currency == currency else 0
        per_day[day][0] += 1
        per_day[day][1] += revenue
        for period, index in ((current, 0), (previous, 1)):
            if day in period:
                result["orders"][index] += 1
                result["revenue"][index] += revenue
        if day in current and successful and order.currency != currency:
            result["other"] += 1
        if day in current and successful and order.currency == currency:
            for item in order.line_items.all():
                products[item.product_id][0] += item.quantity
                products[item.product_id][1] += item.price * item.quantity
    top = sorted(products.items(), key=lambda p: (-p[1][1], p[0]))[:TOP_PRODUCTS]
    return {
        "days": [(d, n, r) for d, (n, r) in per_day.items()],
        "orders": tuple(result["orders"]),
        "revenue": tuple(result["revenue"]),
        "other": result["other"],
        "waiting": (waiting["pending"], waiting["processing"]),
        "top": [(pid, units, revenue) for pid, (units, revenue) in top],
    }


def shown(*, now: datetime) -> dict:
    data = dashboard(now=now)
    _, orders, revenue = data.figures
    return {
        "days": [(d.date, d.orders, d.revenue) for d in data.days],
        "orders": (orders.current, orders.previous),
        "revenue": (revenue.current, revenue.previous),
        "other": data.other_currency_orders,
        "waiting": (data.pending, data.processing),
        "top": [(p.product_id, p.units, p.revenue) for p in data.top_products],
    }


# Dates near the period's edges and the day's, with fractions of seconds; a few long ago.
recent = st.builds(
    lambda seconds, micro: NOW - timedelta(seconds=seconds, microseconds=micro),
    st.one_of(
        st.integers(0, 100 * 86400),
        st.integers(0, 100 * 96).map(lambda q: q * 900),
        st.integers(0, 100 * 96).map(lambda q: q * 900 + 1),
    ),
    st.sampled_from([0, 0, 1, 500_000, 999_999]),
)
long_ago = st.sampled_from(
    [
        datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),
        datetime(1950, 6, 1, 0, 7, 30, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2020, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC),
    ]
)
moments = st.one_of(recent, recent, recent, long_ago)
statuses = st.sampled_from([s.value for s in Order.Status])
currencies = st.sampled_from(["EGP", "EGP", "USD"])
prices = st.sampled_from([None, Decimal("0.00"), Decimal("0.01"), Decimal("19.99"), Decimal("7.5")])
items = st.lists(st.tuples(st.integers(0, 3), st.integers(1, 5), prices), min_size=1, max_size=3)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("create"), moments, statuses, currencies, items),
        st.tuples(
            st.just("update"),
            st.integers(0, 10**6),
            st.one_of(st.none(), moments),
            st.one_of(st.none(), statuses),
            st.one_of(st.none(), currencies),
            st.one_of(st.none(), items),
        ),
        st.tuples(st.just("delete"), st.integers(0, 10**6)),
        st.tuples(st.just("restore"), st.integers(0, 10**6)),
    ),
    min_size=1,
    max_size=14,
)


def _line_items(products, chosen):
    return [
        services.LineItemInput(product=products[index], quantity=quantity, price=price)
        for index, quantity, price in chosen
    ]


def _run(step, customer, products):
    orders = list(Order.objects.order_by("id"))
    kind = step[0]
    if kind == "create":
        _, ordered_at, status, currency, chosen = step
        services.order_create(
            customer=customer,
            ordered_at=ordered_at,
            financial_status=status,
            currency=currency,
            country_code="EG",
            line_items=_line_items(products, chosen),
        )
        return
    if not orders:
        return
    order = orders[step[1] % len(orders)]
    if kind == "update":
        _, _, ordered_at, status, currency, chosen = step
        fields = {"ordered_at": ordered_at, "financial_status": status, "currency": currency}
        services.order_update(
            order=order,
            line_items=None if chosen is None else _line_items(products, chosen),
            **{name: value for name, value in fields.items() if value is not None},
        )
    elif kind == "delete":
        services.order_soft_delete(order=order)
    else:
        services.order_restore(order=order)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps, zone=st.sampled_from(ZONES))
def test_kept_figures_equal_a_recount_and_the_dashboard_a_plain_count(store, steps, zone):
    with transaction.atomic():
        Store.objects.filter(pk=1).update(time_zone=zone, currency="EGP")
        customer = CustomerFactory(currency="EGP")
        products = [ProductFactory(price=Decimal(p)) for p in ("5.00", "12.34", "99.99", "0.50")]
        for step in steps:
            _run(step, customer, products)

        assert shown(now=NOW) == reference(now=NOW, zone=zone, currency="EGP")
        assert kept() == recounted()
        transaction.set_rollback(True)


def test_an_order_adds_to_its_quarter_hour_its_status_and_its_products_day(store):
    product = ProductFactory(price=Decimal("12.50"))
    order = OrderFactory(
        ordered_at=datetime(2025, 11, 20, 23, 59, 59, 900_000, tzinfo=UTC),
        currency="EGP",
        line_items=[services.LineItemInput(product=product, quantity=3)],
    )
    bucket = int(datetime(2025, 11, 20, 23, 45, tzinfo=UTC).timestamp()) // 900
    day = (date(2025, 11, 20) - date(1970, 1, 1)).days

    assert kept() == {
        OrderFigures: {(bucket, "EGP"): (1, 1, 3750)},
        ProductFigures: {("EGP", day, product.pk): (3, 3750)},
        StatusFigures: {("successful",): (1,)},
    }

    services.order_update(order=order, financial_status="refunded")
    assert kept() == {
        OrderFigures: {(bucket, "EGP"): (1, 0, 0)},
        ProductFigures: {},
        StatusFigures: {("refunded",): (1,)},
    }
    services.order_soft_delete(order=order)
    assert kept() == {OrderFigures: {}, ProductFigures: {}, StatusFigures: {}}


def test_the_command_recounts_figures_of_orders_written_around_the_services(store):
    order = OrderFactory(ordered_at=NOW - timedelta(days=1))
    Order.objects.filter(pk=order.pk).update(financial_status="pending")

    call_command("recompute_figures", stdout=None)

    assert kept()[StatusFigures] == {("pending",): (1,)}
    assert dashboard(now=NOW).pending == 1


def test_seed_demo_leaves_figures_that_later_writes_keep(store):
    seed(customers=20, orders=80, seed=3, now=NOW)
    order = Order.objects.alive().order_by("id").first()
    services.order_update(order=order, financial_status="successful")
    services.order_soft_delete(order=Order.objects.alive().order_by("-id").first())

    figures_after_writes = kept()
    assert sum(n for (n,) in figures_after_writes[StatusFigures].values()) == 79
    assert figures_after_writes == recounted()
    shop = Store.load()
    assert shown(now=NOW) == reference(now=NOW, zone=shop.time_zone, currency=shop.currency)


@pytest.mark.django_db(transaction=True)
def test_concurrent_writes_of_one_order_and_one_quarter_hour_keep_exact_figures(store):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one write transaction at a time")
    product = ProductFactory(price=Decimal("3.00"))
    moment = NOW - timedelta(days=1)
    order = OrderFactory(ordered_at=moment, line_items=[{"product": product, "quantity": 1}])
    customer = order.customer
    statuses = ["pending", "successful", "refunded", "successful", "canceled", "successful"]
    barrier = threading.Barrier(len(statuses))
    errors = []

    def write(index: int, status: str) -> None:
        try:
            barrier.wait()
            if index % 2:
                services.order_create(
                    customer=customer,
                    ordered_at=moment,
                    financial_status=status,
                    country_code="EG",
                    line_items=[{"product": product, "quantity": index}],
                )
            else:
                fresh = Order.objects.get(pk=order.pk)
                services.order_update(
                    order=fresh,
                    financial_status=status,
                    line_items=[{"product": product, "quantity": index + 1}],
                )
        except Exception as exc:  # reported by the assert below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=pair) for pair in enumerate(statuses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Order.objects.count() == 4
    assert kept() == recounted()
