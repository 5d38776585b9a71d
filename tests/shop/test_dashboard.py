"""The dashboard on the admin index: figures, the 90-day chart, top products, query count."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from backoffice.charts import Point, bar_line_chart, compact, nice_ceiling
from backoffice.dashboard import dashboard
from shop import services
from shop.models import Store
from tests.factories import CustomerFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db

# 12:00 in Cairo (UTC+2) on 2025-11-25, well before any row the factories stamp with the clock.
NOW = datetime(2025, 11, 25, 10, 0, tzinfo=UTC)


def _order(ordered_at, *, status="successful", currency="EGP", price="10.00", quantity=1, **kw):
    product = kw.pop("product", None) or ProductFactory(price=Decimal(price))
    return OrderFactory(
        ordered_at=ordered_at,
        financial_status=status,
        currency=currency,
        line_items=[services.LineItemInput(product=product, quantity=quantity)],
        **kw,
    )


def test_figures_compare_the_last_30_days_with_the_30_before(store):
    _order(NOW - timedelta(days=1), price="100.00")
    _order(NOW - timedelta(days=2), price="50.00")
    _order(NOW - timedelta(days=3), status="pending", price="70.00")
    _order(NOW - timedelta(days=40), price="30.00")
    _order(NOW - timedelta(days=75), price="999.00")  # In the chart, not in the figures.
    gone = _order(NOW - timedelta(days=1), price="500.00")
    services.order_soft_delete(order=gone)
    CustomerFactory(registered_at=NOW - timedelta(days=100))

    data = dashboard(now=NOW)

    customers, orders, revenue = data.figures
    assert (orders.current, orders.previous) == (3, 1)
    assert (revenue.current, revenue.previous) == (Decimal("150.00"), Decimal("30.00"))
    assert revenue.change == pytest.approx(400.0)
    # The orders' customers were registered by the clock, after NOW; one 100 days before.
    assert (customers.current, customers.previous) == (0, 0)
    assert customers.change is None
    assert sum(d.orders for d in data.days) == 5
    assert sum(d.revenue for d in data.days) == Decimal("1179.00")


def test_revenue_counts_only_successful_orders_in_the_store_currency(store):
    _order(NOW - timedelta(days=1), price="100.00")
    _order(NOW - timedelta(days=1), currency="USD", price="7.00")
    _order(NOW - timedelta(days=1), status="refunded", price="40.00")

    data = dashboard(now=NOW)

    assert data.currency == "EGP"
    assert data.figures[1].current == 3
    assert data.figures[2].current == Decimal("100.00")
    assert data.other_currency_orders == 1


def test_new_customers_are_counted_by_registration_in_each_period(store):
    CustomerFactory(registered_at=NOW - timedelta(days=5))
    CustomerFactory(registered_at=NOW - timedelta(days=29))
    CustomerFactory(registered_at=NOW - timedelta(days=45))
    gone = CustomerFactory(registered_at=NOW - timedelta(days=5))
    services.customer_soft_delete(customer=gone)

    customers = dashboard(now=NOW).figures[0]

    assert (customers.current, customers.previous) == (2, 1)
    assert customers.change == pytest.approx(100.0)


def test_waiting_orders_are_the_live_pending_and_processing_ones_of_any_date(store):
    _order(NOW - timedelta(days=1), status="pending")
    _order(NOW - timedelta(days=300), status="pending")
    _order(NOW - timedelta(days=2), status="processing")
    _order(NOW - timedelta(days=2), status="successful")
    gone = _order(NOW - timedelta(days=2), status="processing")
    services.order_soft_delete(order=gone)

    data = dashboard(now=NOW)

    assert (data.pending, data.processing, data.waiting) == (2, 1, 3)


def test_the_chart_has_90_local_days_ending_today(store):
    data = dashboard(now=NOW)
    assert len(data.days) == 90
    assert data.days[-1].date == date(2025, 11, 25)
    assert data.days[0].date == date(2025, 8, 28)
    assert data.today == date(2025, 11, 25)


def test_orders_fall_on_the_day_of_the_store_time_zone(store):
    # 23:30 UTC on Nov 20 is 01:30 on Nov 21 in Cairo.
    _order(datetime(2025, 11, 20, 23, 30, tzinfo=UTC), price="10.00")
    # 21:59:59 UTC on Nov 22 is still Nov 22 in Cairo.
    _order(datetime(2025, 11, 22, 21, 59, 59, tzinfo=UTC), price="20.00")

    days = {d.date: d for d in dashboard(now=NOW).days}

    assert days[date(2025, 11, 20)].orders == 0
    assert (days[date(2025, 11, 21)].orders, days[date(2025, 11, 21)].revenue) == (
        1,
        Decimal("10.00"),
    )
    assert days[date(2025, 11, 22)].orders == 1


def test_days_follow_a_half_hour_offset(store):
    Store.objects.filter(pk=1).update(time_zone="Asia/Kolkata")  # UTC+5:30
    # 18:29 UTC is 23:59 in Kolkata; 18:31 UTC is 00:01 the next day.
    _order(datetime(2025, 11, 20, 18, 29, tzinfo=UTC))
    _order(datetime(2025, 11, 20, 18, 31, tzinfo=UTC))

    days = {d.date: d.orders for d in dashboard(now=NOW).days}

    assert days[date(2025, 11, 20)] == 1
    assert days[date(2025, 11, 21)] == 1


def test_days_follow_a_daylight_saving_change(store):
    Store.objects.filter(pk=1).update(time_zone="America/New_York", currency="USD")
    # New York leaves daylight saving time on 2025-11-02.
    # 03:30 UTC on Oct 16 is 23:30 on Oct 15 (UTC-4); 04:30 UTC on Nov 10 is 23:30 on Nov 9.
    _order(datetime(2025, 10, 16, 3, 30, tzinfo=UTC), currency="USD")
    _order(datetime(2025, 11, 10, 4, 30, tzinfo=UTC), currency="USD")
    _order(datetime(2025, 11, 10, 5, 30, tzinfo=UTC), currency="USD")  # 00:30 on Nov 10

    days = {d.date: d.orders for d in dashboard(now=NOW).days}

    assert (days[date(2025, 10, 15)], days[date(2025, 10, 16)]) == (1, 0)
    assert (days[date(2025, 11, 9)], days[date(2025, 11, 10)]) == (1, 1)


def test_a_store_zone_that_is_not_a_zone_falls_back_to_utc(store):
    Store.objects.filter(pk=1).update(time_zone="Cairo")  # Written past validation.
    _order(datetime(2025, 11, 20, 23, 30, tzinfo=UTC))

    data = dashboard(now=NOW)

    assert data.time_zone == "UTC"
    assert {d.date: d.orders for d in data.days}[date(2025, 11, 20)] == 1


def test_top_products_rank_by_revenue_of_successful_orders(store):
    cheap, dear, refunded_only = (
        ProductFactory(price=Decimal("5.00"), title="Cheap"),
        ProductFactory(price=Decimal("80.00"), title="Dear"),
        ProductFactory(price=Decimal("1000.00"), title="Refunded"),
    )
    _order(NOW - timedelta(days=1), product=cheap, quantity=10)
    _order(NOW - timedelta(days=2), product=cheap, quantity=1)
    _order(NOW - timedelta(days=3), product=dear, quantity=1)
    _order(NOW - timedelta(days=3), product=refunded_only, status="refunded")
    _order(NOW - timedelta(days=45), product=refunded_only)  # Before the 30 days.

    top = dashboard(now=NOW).top_products

    assert [(p.title, p.units, p.revenue) for p in top] == [
        ("Dear", 1, Decimal("80.00")),
        ("Cheap", 11, Decimal("55.00")),
    ]


def test_top_products_are_at_most_ten(store):
    for n in range(12):
        _order(NOW - timedelta(days=1), price=f"{n + 1}.00")
    top = dashboard(now=NOW).top_products
    assert len(top) == 10
    assert top[0].revenue == Decimal("12.00")


def test_admin_index_shows_the_dashboard(admin_client, store):
    _order(NOW - timedelta(days=1), status="pending")

    response = admin_client.get(reverse("admin:index"))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="shop-dashboard"' in html
    assert "<svg" in html
    assert "Orders and revenue per day" in html
    assert "1 pending" in html
    assert reverse("admin:shop_quality") in html
    assert "http://" not in html.split("<body")[1].replace("http://www.w3.org/2000/svg", "")


def _index_queries(client, django_assert_num_queries, expected):
    with django_assert_num_queries(expected):
        response = client.get(reverse("admin:index"))
    assert response.status_code == 200


def test_admin_index_runs_the_same_queries_however_many_orders(
    admin_client, store, django_assert_num_queries
):
    admin_client.get(reverse("admin:index"))
    # Session, user; the dashboard: store, orders per day, new customers, waiting orders,
    # top products; the admin's recent actions.
    _index_queries(admin_client, django_assert_num_queries, 8)
    for n in range(15):
        _order(datetime.now(UTC) - timedelta(days=n), price=f"{n + 1}.00")
    CustomerFactory.create_batch(3)
    _index_queries(admin_client, django_assert_num_queries, 8)


def test_staff_without_order_permission_see_no_figures(staff_client, store):
    response = staff_client("view_customer").get(reverse("admin:index"))

    assert response.status_code == 200
    assert "shop-dashboard" not in response.content.decode()


def test_nice_ceiling_rounds_up_to_a_readable_scale():
    assert nice_ceiling(0) == 4
    assert nice_ceiling(7) == 8
    assert nice_ceiling(27379) == 40000
    assert nice_ceiling(117_922_959) == 200_000_000


def test_compact_numbers_for_axis_labels():
    assert [compact(v) for v in (0, 12, 1500, 2_000_000, 3_250_000_000)] == [
        "0",
        "12",
        "1.5k",
        "2M",
        "3.2B",
    ]


def test_chart_scales_bars_and_line_to_the_plot():
    chart = bar_line_chart(
        [Point("a", 0, Decimal("0")), Point("b", 4, Decimal("50")), Point("c", 2, None)]
    )
    assert len(chart.bars) == 3
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.height == pytest.approx(chart.bottom - chart.top)
    assert chart.bars[0].height == 0
    assert chart.line_points.count(",") == 3
    assert [t.label for t in chart.bar_ticks] == ["0", "1", "2", "3", "4"]
    assert not chart.empty


def test_chart_of_nothing_says_so():
    chart = bar_line_chart([Point("a", 0, Decimal("0")), Point("b", 0, Decimal("0"))])
    assert chart.empty
