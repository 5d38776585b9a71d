"""The admin dashboard: the store's figures, a chart of the last 90 days, the top products.

Everything is aggregated in the database. Orders are counted per 15 minutes (or per hour when
the store's offset allows) of UTC epoch time by one query on a covering index, then the few
thousand buckets are folded into the store's local days in Python: truncating each of several
hundred thousand rows to a local date in the database is several times slower on SQLite, whose
time zone functions run in Python per row.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import models
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from .models import MONEY, ZERO, Customer, LineItem, Order, Store

CHART_DAYS = 90
PERIOD_DAYS = 30
TOP_PRODUCTS = 10
WAITING = (Order.Status.PENDING, Order.Status.PROCESSING)
CENT = Decimal("0.01")


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


def store_zone(store: Store) -> ZoneInfo:
    """The store's zone; UTC when the stored name is not one (the admin index must render)."""
    try:
        return ZoneInfo(store.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def _bucket_seconds(boundaries: list[datetime]) -> int:
    """Hours when every local midnight falls on a whole UTC hour, else quarter hours."""
    if all(int(b.timestamp()) % 3600 == 0 for b in boundaries):
        return 3600
    return 900


def orders_per_day(*, days: list[date], tz: ZoneInfo, currency: str) -> dict:
    """Return {day: (orders, revenue, successful orders in other currencies)} in one query."""
    boundaries = [_midnight(d, tz) for d in days] + [_midnight(days[-1] + timedelta(days=1), tz)]
    seconds = _bucket_seconds(boundaries)
    successful = Q(financial_status=Order.Status.SUCCESSFUL)
    rows = (
        Order.objects.filter(
            deleted_at__isnull=True,
            ordered_at__gte=boundaries[0],
            ordered_at__lt=boundaries[-1],
        )
        .annotate(bucket=EpochBucket("ordered_at", seconds=seconds))
        .values("bucket")
        .annotate(
            orders=Count("*"),
            revenue=Sum(
                "total_price",
                filter=successful & Q(currency=currency),
                output_field=models.DecimalField(**MONEY),
            ),
            other=Count("pk", filter=successful & ~Q(currency=currency)),
        )
        .order_by()
    )
    totals: dict[date, list] = {d: [0, ZERO, 0] for d in days}
    for row in rows:
        day = datetime.fromtimestamp(row["bucket"] * seconds, UTC).astimezone(tz).date()
        entry = totals[day]
        entry[0] += row["orders"]
        entry[1] += row["revenue"] or ZERO
        entry[2] += row["other"]
    return {d: (v[0], v[1].quantize(CENT), v[2]) for d, v in totals.items()}


def new_customers(*, current_start: datetime, previous_start: datetime, end: datetime) -> dict:
    return Customer.objects.filter(
        deleted_at__isnull=True, registered_at__gte=previous_start, registered_at__lt=end
    ).aggregate(
        current=Count("pk", filter=Q(registered_at__gte=current_start)),
        previous=Count("pk", filter=Q(registered_at__lt=current_start)),
    )


def waiting_orders() -> dict:
    return Order.objects.filter(deleted_at__isnull=True, financial_status__in=WAITING).aggregate(
        pending=Count("pk", filter=Q(financial_status=Order.Status.PENDING)),
        processing=Count("pk", filter=Q(financial_status=Order.Status.PROCESSING)),
    )


def top_products(*, start: datetime, end: datetime, currency: str) -> list[TopProduct]:
    """The products that brought the most revenue from successful orders in the currency."""
    rows = (
        LineItem.objects.filter(
            order__deleted_at__isnull=True,
            order__ordered_at__gte=start,
            order__ordered_at__lt=end,
            order__financial_status=Order.Status.SUCCESSFUL,
            order__currency=currency,
        )
        .values("product_id", "product__title")
        .annotate(
            units=Sum("quantity"),
            revenue=Sum(F("price") * F("quantity"), output_field=models.DecimalField(**MONEY)),
        )
        .order_by("-revenue", "product_id")[:TOP_PRODUCTS]
    )
    return [
        TopProduct(
            product_id=r["product_id"],
            title=r["product__title"],
            units=r["units"],
            revenue=(r["revenue"] or ZERO).quantize(CENT),
        )
        for r in rows
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
