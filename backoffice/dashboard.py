"""The admin dashboard: the store's figures, a chart of the last 90 days, the top products.

It reads the figures the order writes keep (shop/figures.py), so its queries read a few
thousand rows however many orders the store has: orders per quarter hour of UTC time, folded
into the store's local days by the database; products per UTC day, plus the line items of the
partial UTC days at the period's edges; orders per status.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, models
from django.db.models import Case, Count, F, Q, Sum, Value, When
from django.utils import timezone

from shop.figures import BUCKET_SECONDS, DAY_SECONDS, cents_sql, epoch_seconds
from shop.models import (
    ZERO,
    Customer,
    LineItem,
    Order,
    OrderFigures,
    Product,
    ProductFigures,
    StatusFigures,
    Store,
)
from shop.validators import store_zone

CHART_DAYS = 90
PERIOD_DAYS = 30
TOP_PRODUCTS = 10
WAITING = (Order.Status.PENDING, Order.Status.PROCESSING)
CENT = Decimal("0.01")
EPOCH_DAY = date(1970, 1, 1)


class EpochBucket(models.Func):
    """The number of whole `seconds` periods since 1970-01-01 UTC of a datetime column."""

    output_field = models.BigIntegerField()

    def __init__(self, expression, *, seconds: int):
        super().__init__(expression)
        self.seconds = int(seconds)

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(CAST(strftime('%%s', {sql}) AS INTEGER) / {self.seconds})", params

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"FLOOR(EXTRACT(EPOCH FROM {sql}) / {self.seconds})::bigint", params

    def as_sql(self, compiler, connection, **extra_context):
        raise NotImplementedError(f"EpochBucket does not support {connection.vendor}.")


@dataclass(frozen=True)
class Figure:
    label: str
    current: int | Decimal
    previous: int | Decimal
    money: bool = False

    @property
    def change(self) -> float | None:
        """Change from the previous period in percent; None when it had nothing."""
        if not self.previous:
            return None
        return float((self.current - self.previous) / self.previous * 100)


@dataclass(frozen=True)
class Day:
    date: date
    orders: int
    revenue: Decimal


@dataclass(frozen=True)
class TopProduct:
    product_id: int
    title: str
    units: int
    revenue: Decimal


@dataclass(frozen=True)
class Dashboard:
    currency: str
    time_zone: str
    today: date
    figures: list[Figure]
    pending: int
    processing: int
    other_currency_orders: int
    days: list[Day]
    top_products: list[TopProduct]

    @property
    def waiting(self) -> int:
        return self.pending + self.processing

    @property
    def period_start(self) -> date:
        return self.today - timedelta(days=PERIOD_DAYS - 1)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def _offsets(first: int, last: int, tz: ZoneInfo, boundaries: list[int]) -> list[tuple]:
    """[(first quarter hour, UTC offset in quarter hours)] of each stretch of one offset in
    quarter hours [first, last), found by bisecting the local days whose midnights differ."""

    def offset(bucket: int) -> int:
        moment = datetime.fromtimestamp(bucket * BUCKET_SECONDS, tz)
        return int(moment.utcoffset().total_seconds()) // BUCKET_SECONDS  # type: ignore[union-attr]

    stretches = [(first, offset(first))]
    for low, high in zip(boundaries, boundaries[1:], strict=False):
        current = stretches[-1][1]
        if offset(high) == current:
            continue
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if offset(middle) == current else (low, middle)
        stretches.append((high, offset(high)))
    return [(bucket, value) for bucket, value in stretches if bucket < last]


def _local_day(stretches: list[tuple]):
    """The local day (days since 1970-01-01) of a quarter hour: (bucket + offset) / 96."""
    first, *rest = stretches
    offset: Any = Value(first[1])
    if rest:
        whens = [
            When(bucket__lt=start, then=Value(before[1]))
            for before, (start, _) in zip(stretches, rest, strict=False)
        ]
        offset = Case(*whens, default=Value(rest[-1][1]))
    return (F("bucket") + offset) / (DAY_SECONDS // BUCKET_SECONDS)


def _money(cents) -> Decimal:
    return Decimal(int(cents or 0)).scaleb(-2).quantize(CENT)


def orders_per_day(*, days: list[date], tz: ZoneInfo, currency: str) -> dict:
    """Return {day: (orders, revenue, successful orders in other currencies)} in one query.

    The database folds the quarter hours into local days by the zone's offset at each; every
    zone's offsets are whole quarter hours.
    """
    boundaries = [_midnight(d, tz) for d in days] + [_midnight(days[-1] + timedelta(days=1), tz)]
    buckets = [epoch_seconds(b) // BUCKET_SECONDS for b in boundaries]
    rows = (
        OrderFigures.objects.filter(bucket__gte=buckets[0], bucket__lt=buckets[-1])
        .annotate(day=_local_day(_offsets(buckets[0], buckets[-1], tz, buckets)))
        .values("day")
        .annotate(
            orders=Sum("orders"),
            revenue=Sum("revenue_cents", filter=Q(currency=currency)),
            other=Sum("successful", filter=~Q(currency=currency)),
        )
        .order_by()
    )
    totals: dict[date, tuple] = {d: (0, ZERO, 0) for d in days}
    for row in rows:
        day = EPOCH_DAY + timedelta(days=row["day"])
        totals[day] = (int(row["orders"] or 0), _money(row["revenue"]), int(row["other"] or 0))
    return totals


def new_customers(*, current_start: datetime, previous_start: datetime, end: datetime) -> dict:
    return Customer.objects.filter(
        deleted_at__isnull=True, registered_at__gte=previous_start, registered_at__lt=end
    ).aggregate(
        current=Count("pk", filter=Q(registered_at__gte=current_start)),
        previous=Count("pk", filter=Q(registered_at__lt=current_start)),
    )


def waiting_orders() -> dict:
    counts = dict(StatusFigures.objects.filter(status__in=WAITING).values_list("status", "orders"))
    return {
        "pending": counts.get(Order.Status.PENDING, 0),
        "processing": counts.get(Order.Status.PROCESSING, 0),
    }


def top_products(*, start: datetime, end: datetime, currency: str) -> list[TopProduct]:
    """The products that brought the most revenue from successful orders in the currency.

    Whole UTC days come from the kept figures, the partial days at either edge of the period
    from the line items of their orders (a few hours of orders).
    """
    first_day = -(-epoch_seconds(start) // DAY_SECONDS)
    last_day = epoch_seconds(end) // DAY_SECONDS
    if first_day < last_day:
        edges = [
            (start, datetime.fromtimestamp(first_day * DAY_SECONDS, UTC)),
            (datetime.fromtimestamp(last_day * DAY_SECONDS, UTC), end),
        ]
    else:
        first_day = last_day
        edges = [(start, end)]
    qn = connection.ops.quote_name
    orders, items = qn(Order._meta.db_table), qn(LineItem._meta.db_table)
    edge_sql = (
        f"SELECT li.product_id, li.quantity, {cents_sql('li.price')} * li.quantity "
        f"FROM {orders} o JOIN {items} li ON li.order_id = o.id "
        "WHERE o.deleted_at IS NULL AND o.ordered_at >= %s AND o.ordered_at < %s "
        "AND o.financial_status = %s AND o.currency = %s"
    )
    edge_params = []
    for edge_start, edge_end in edges:
        edge_params += [
            connection.ops.adapt_datetimefield_value(edge_start),
            connection.ops.adapt_datetimefield_value(edge_end),
            Order.Status.SUCCESSFUL,
            currency,
        ]
    # Sum per product first, then look up the titles of the ten.
    sql = (
        f"SELECT t.product_id, p.title, t.units, t.revenue FROM (SELECT f.product_id, "
        "SUM(f.units) AS units, SUM(f.revenue) AS revenue FROM ("
        f"SELECT product_id, units, revenue_cents AS revenue "
        f"FROM {qn(ProductFigures._meta.db_table)} "
        "WHERE currency = %s AND day >= %s AND day < %s"
        + "".join(f" UNION ALL {edge_sql}" for _ in edges)
        # Rows whose counts fell back to zero stay: a product sold in the period sold units.
        + ") f GROUP BY f.product_id HAVING SUM(f.units) > 0 ORDER BY revenue DESC, f.product_id "
        f"LIMIT {TOP_PRODUCTS}) t JOIN {qn(Product._meta.db_table)} p ON p.id = t.product_id "
        "ORDER BY t.revenue DESC, t.product_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [currency, first_day, last_day, *edge_params])
        rows = cursor.fetchall()
    return [
        TopProduct(product_id=product_id, title=title, units=int(units), revenue=_money(revenue))
        for product_id, title, units, revenue in rows
    ]


def dashboard(*, now: datetime | None = None, store: Store | None = None) -> Dashboard:
    """Compute the dashboard in five queries (one more when the store row is not given)."""
    store = store or Store.load()
    tz = store_zone(store)
    now = now or timezone.now()
    today = now.astimezone(tz).date()
    days = [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
    per_day = orders_per_day(days=days, tz=tz, currency=store.currency)

    current_days = days[-PERIOD_DAYS:]
    previous_days = days[-2 * PERIOD_DAYS : -PERIOD_DAYS]
    current_start = _midnight(current_days[0], tz)
    previous_start = _midnight(previous_days[0], tz)
    end = _midnight(today + timedelta(days=1), tz)

    def total(period, index):
        return sum((per_day[d][index] for d in period), ZERO if index == 1 else 0)

    customers = new_customers(current_start=current_start, previous_start=previous_start, end=end)
    waiting = waiting_orders()
    return Dashboard(
        currency=store.currency,
        time_zone=str(tz),
        today=today,
        figures=[
            Figure("New customers", customers["current"], customers["previous"]),
            Figure("Orders", total(current_days, 0), total(previous_days, 0)),
            Figure("Revenue", total(current_days, 1), total(previous_days, 1), money=True),
        ],
        pending=waiting["pending"],
        processing=waiting["processing"],
        other_currency_orders=total(current_days, 2),
        days=[Day(date=d, orders=per_day[d][0], revenue=per_day[d][1]) for d in days],
        top_products=top_products(start=current_start, end=end, currency=store.currency),
    )
