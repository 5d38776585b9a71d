"""Realistic, reproducible demo data, written in bulk.

Rows are generated from seeded pools (Faker is called only to fill the pools: it is too slow
to call per row at a million orders) and inserted with executemany in large batches, or COPY on
PostgreSQL. Each table's row is a NamedTuple whose field names are the table's columns. Totals
come from `services.order_totals`, so demo orders follow the same rules as orders written
through the services; the database's constraints check every row.

The random draws are made in a fixed order, so a seed always gives the same rows.
"""

import gc
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils.text import slugify
from faker import Faker

from . import figures, signals
from .models import Category, Customer, LineItem, Order, Product, Store
from .services import category_create, order_totals, store_update

BATCH = 20_000
# Orders generated and written per round; their line items are written right after them.
ORDER_ROUND = BATCH * 5

# (currency, country, dial prefix, weight)
MARKETS = [
    ("EGP", "EG", "+2010", 45),
    ("SAR", "SA", "+9665", 20),
    ("AED", "AE", "+9715", 12),
    ("USD", "US", "+1415", 10),
    ("EUR", "DE", "+4915", 8),
    ("KWD", "KW", "+9656", 5),
]
ARABIC_MARKETS = {"EG", "SA", "AE", "KW"}
STATUSES = [
    ("successful", 62),
    ("processing", 9),
    ("pending", 9),
    ("canceled", 12),
    ("refunded", 8),
]
CATEGORY_TREE = {
    "Electronics": ["Phones", "Laptops", "Audio"],
    "Fashion": ["Men", "Women", "Kids"],
    "Home": ["Kitchen", "Furniture"],
    "Beauty": ["Skincare", "Fragrance"],
    "Sports": [],
    "Books": ["Arabic books", "English books"],
    "Groceries": [],
}
VENDORS = ["Nile Goods", "Delta Trading", "Red Sea Co.", "Acme", "Cairo Crafts", "Gulf Brands"]
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "example.com"]
TAGS = ["new", "sale", "trending", "gift", "eco"]
GENDERS = (["male", "female", "unknown"], [45, 45, 10])
LOCALES = ["ar", "en", ""]
TAX_RATE = Decimal("0.14")
DISCOUNT_RATE = Decimal("0.1")
CENT = Decimal("0.01")
ORDER_SPAN = 730 * 86400  # seconds of order history
CUSTOMER_SPAN = 3 * 365 * 86400  # seconds of registrations

# A datetime as the database driver takes it (`connection.ops.adapt_datetimefield_value`).
Stamp = str | datetime | None


class ProductRow(NamedTuple):
    id: int
    title: str
    handle: str
    sku: str
    category_id: int | None
    content: str
    vendor: str
    price: Decimal
    compare_at_price: Decimal | None
    quantity: int
    image_url: str
    url: str
    published_at: Stamp
    tags: str
    created_at: Stamp
    updated_at: Stamp
    deleted_at: Stamp


class CustomerRow(NamedTuple):
    id: int
    email: str
    first_name: str
    last_name: str
    phone: str
    gender: str
    currency: str
    registered_at: Stamp
    accepts_marketing: bool
    created_at: Stamp
    updated_at: Stamp
    deleted_at: Stamp
    erased_at: Stamp


class OrderRow(NamedTuple):
    id: int
    customer_id: int
    ordered_at: Stamp
    financial_status: str
    currency: str
    country_code: str
    subtotal_price: Decimal
    total_tax: Decimal
    taxes_included: bool
    total_discounts: Decimal
    total_price: Decimal
    phone: str
    contact_email: str
    customer_locale: str
    reference: str | None
    created_at: Stamp
    updated_at: Stamp
    deleted_at: Stamp
    erased_at: Stamp


class LineItemRow(NamedTuple):
    id: int
    order_id: int
    product_id: int
    quantity: int
    price: Decimal
    title: str
    sku: str


# Each table written in bulk, and the row that names its columns.
ROWS: dict[type[models.Model], Any] = {  # model: its NamedTuple row type
    Product: ProductRow,
    Customer: CustomerRow,
    Order: OrderRow,
    LineItem: LineItemRow,
}


class Buyer(NamedTuple):
    """What an order copies from its customer."""

    id: int
    currency: str
    country: str
    email: str
    phone: str


class Sellable(NamedTuple):
    """What a line item copies from its product."""

    id: int
    price: Decimal
    title: str
    sku: str


@dataclass(frozen=True)
class Draw:
    """What every generated row draws from: the seeded random source and pools, the clock."""

    rng: random.Random
    fake: Faker  # Still writes product descriptions.
    names_en: list[tuple[str, str]]
    names_ar: list[tuple[str, str]]
    handles: list[str]
    words: list[str]
    now: datetime
    # The database driver's form of a datetime, looked up once: it is called per row.
    stamp: Callable[[datetime], Stamp]


@dataclass(frozen=True)
class SeedResult:
    customers: int
    products: int
    orders: int
    line_items: int
    seconds: float


Progress = Callable[[str, int], Callable[[int], None]]


def _draw(seed: int, now: datetime) -> Draw:
    fake_en = Faker("en_US")
    fake_ar = Faker("ar_AA")
    fake_en.seed_instance(seed)
    fake_ar.seed_instance(seed)
    return Draw(
        rng=random.Random(seed),
        fake=fake_en,
        names_en=[(fake_en.first_name(), fake_en.last_name()) for _ in range(400)],
        names_ar=[(fake_ar.first_name(), fake_ar.last_name()) for _ in range(400)],
        handles=[fake_en.user_name() for _ in range(500)],
        words=[fake_en.word().capitalize() for _ in range(300)],
        now=now,
        stamp=connection.ops.adapt_datetimefield_value,
    )


def _next_id(model: type[models.Model]) -> int:
    return (model._default_manager.aggregate(m=Max("id"))["m"] or 0) + 1


def _insert(model: type[models.Model], rows: Sequence[tuple]) -> None:
    """Insert rows into the model's table: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in ROWS[model]._fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(ROWS[model]._fields))
            sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
            for start in range(0, len(rows), BATCH):
                # sqlite3 binds a plain tuple faster than a tuple subclass.
                cursor.executemany(sql, [tuple(row) for row in rows[start : start + BATCH]])


def _reset_sequences(written: list[type[models.Model]]) -> None:
    """Move the id sequences past the ids written here (a no-op on SQLite)."""
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), written):
            cursor.execute(sql)


def _analyze(written: list[type[models.Model]]) -> None:
    """Refresh the planner's statistics after a bulk load, so it picks the right indexes."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for model in written:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        elif connection.vendor == "sqlite":
            cursor.execute("ANALYZE")


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: the rows hold no cycles, and with millions of
    them alive it would re-scan every one again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _enlarge_sqlite_cache() -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            # A page cache big enough for the indexes being filled: SQLite's default 2 MB
            # makes every index insert of a large table a read from disk.
            cursor.execute("PRAGMA cache_size = -524288")


def _name_the_store() -> None:
    if Store.load().name == "My Store":
        store_update(
            name="Nile Market",
            description="Everyday goods delivered across Egypt and the Gulf",
            email="hello@nilemarket.example",
            base_url="https://nilemarket.example/",
        )


def _categories(draw: Draw) -> list[int]:
    """Create the category tree in a store without one; return every category's id."""
    if Category.objects.exists():
        return list(Category.objects.values_list("id", flat=True))
    ids = []
    for position, (title, children) in enumerate(CATEGORY_TREE.items()):
        published = draw.now - timedelta(days=400 - position)
        parent = category_create(
            title=title, handle=slugify(title), published_at=published, available=True
        )
        ids.append(parent.pk)
        for child in children:
            sub = category_create(
                title=child,
                handle=slugify(f"{title}-{child}"),
                parent=parent,
                published_at=published,
                available=draw.rng.random() > 0.1,
            )
            ids.append(sub.pk)
    return ids


def _product(draw: Draw, pid: int, category_ids: list[int]) -> ProductRow:
    rng, now = draw.rng, draw.now
    title = f"{rng.choice(draw.words)} {rng.choice(draw.words)} {pid}"
    handle = slugify(title)
    price = Decimal(rng.randrange(500, 500_000)) / 100
    published = None if rng.random() < 0.05 else now - timedelta(days=rng.randrange(1, 400))
    return ProductRow(
        id=pid,
        title=title,
        handle=handle,
        sku=f"SKU-{pid:06d}",
        category_id=rng.choice(category_ids) if category_ids else None,
        content=f"<p>{draw.fake.sentence()}</p>",
        vendor=rng.choice(VENDORS),
        price=price,
        compare_at_price=(price * Decimal("1.2")).quantize(CENT) if rng.random() < 0.3 else None,
        quantity=rng.randrange(0, 500),
        image_url=f"https://nilemarket.example/media/products/{pid}.jpg",
        url=f"https://nilemarket.example/products/{handle}",
        published_at=draw.stamp(published) if published else None,
        tags=", ".join(rng.sample(TAGS, 2)),
        created_at=draw.stamp(now),
        updated_at=draw.stamp(now),
        deleted_at=None,
    )


def _write_products(draw: Draw, count: int, bar: Callable[[int], None]) -> list[Sellable]:
    """Write `count` products; return what line items copy from them."""
    category_ids = _categories(draw)
    first = _next_id(Product)
    rows = [_product(draw, first + n, category_ids) for n in range(count)]
    _insert(Product, rows)
    bar(len(rows))
    return [Sellable(row.id, row.price, row.title, row.sku) for row in rows]


def _customer(draw: Draw, cid: int, market: tuple[str, str, str]) -> tuple[CustomerRow, Buyer]:
    rng = draw.rng
    currency, country, dial = market
    arabic = country in ARABIC_MARKETS and rng.random() < 0.7
    first, last = rng.choice(draw.names_ar if arabic else draw.names_en)
    email = f"{rng.choice(draw.handles)}.{cid}@{rng.choice(DOMAINS)}".lower()
    phone = f"{dial}{rng.randrange(10_000_000, 99_999_999)}"
    # Some customers keep their phone off their profile; their orders still carry it.
    profile_phone = "" if rng.random() < 0.08 else phone
    registered = draw.stamp(draw.now - timedelta(seconds=rng.randrange(0, CUSTOMER_SPAN)))
    row = CustomerRow(
        id=cid,
        email=email,
        first_name=first,
        last_name=last,
        phone=profile_phone,
        gender=rng.choices(*GENDERS)[0],
        currency=currency,
        registered_at=registered,
        accepts_marketing=rng.random() < 0.4,
        created_at=registered,
        updated_at=registered,
        deleted_at=None,
        erased_at=None,
    )
    return row, Buyer(cid, currency, country, email, phone)


def _write_customers(draw: Draw, count: int, bar: Callable[[int], None]) -> list[Buyer]:
    """Write `count` customers in batches; return what their orders copy from them."""
    first = _next_id(Customer)
    markets = draw.rng.choices([m[:3] for m in MARKETS], [m[3] for m in MARKETS], k=count)
    buyers: list[Buyer] = []
    for start in range(0, count, BATCH):
        pairs = [
            _customer(draw, first + n, markets[n]) for n in range(start, min(start + BATCH, count))
        ]
        _insert(Customer, [row for row, _ in pairs])
        buyers.extend(buyer for _, buyer in pairs)
        bar(len(pairs))
    return buyers


def _ordered_at(draw: Draw) -> datetime:
    rng, now = draw.rng, draw.now
    # More orders recently: a store that grows.
    age = int(ORDER_SPAN * (rng.random() ** 2))
    ordered = now - timedelta(seconds=age) + timedelta(seconds=rng.randrange(86400))
    if ordered > now:
        ordered = now - timedelta(seconds=rng.randrange(1, 3600))
    return ordered


def _line_items(
    draw: Draw, oid: int, first_id: int, sellables: list[Sellable]
) -> list[LineItemRow]:
    rng = draw.rng
    items = []
    for n in range(rng.randint(1, 5)):
        product = rng.choice(sellables)
        items.append(
            LineItemRow(
                id=first_id + n,
                order_id=oid,
                product_id=product.id,
                quantity=rng.randint(1, 3),
                price=product.price,
                title=product.title,
                sku=product.sku,
            )
        )
    return items


def _order(
    draw: Draw, oid: int, status: str, buyer: Buyer, ordered: datetime, items: list[LineItemRow]
) -> OrderRow:
    """The order of these line items, with totals as `services.order_totals` computes them."""
    rng = draw.rng
    taxes_included = rng.random() < 0.5
    subtotal = sum((item.quantity * item.price for item in items), Decimal(0))
    tax = (subtotal * TAX_RATE).quantize(CENT)
    discount = (subtotal * DISCOUNT_RATE).quantize(CENT) if rng.random() < 0.2 else Decimal(0)
    totals = order_totals(
        line_items=[(item.quantity, item.price) for item in items],
        total_tax=tax,
        taxes_included=taxes_included,
        total_discounts=discount,
    )
    stamp = draw.stamp(ordered)
    return OrderRow(
        id=oid,
        customer_id=buyer.id,
        ordered_at=stamp,
        financial_status=status,
        currency=buyer.currency,
        country_code=buyer.country,
        subtotal_price=totals.subtotal_price,
        total_tax=tax,
        taxes_included=taxes_included,
        total_discounts=discount,
        total_price=totals.total_price,
        phone=buyer.phone,
        contact_email=buyer.email,
        customer_locale=rng.choice(LOCALES),
        reference=None,
        created_at=stamp,
        updated_at=stamp,
        deleted_at=draw.stamp(draw.now) if rng.random() < 0.002 else None,
        erased_at=None,
    )


def _write_orders(
    draw: Draw,
    count: int,
    buyers: list[Buyer],
    sellables: list[Sellable],
    bar: Callable[[int], None],
) -> int:
    """Write `count` orders and their line items in rounds; return how many items."""
    first_order, next_item = _next_id(Order), _next_id(LineItem)
    statuses = draw.rng.choices([s[0] for s in STATUSES], [s[1] for s in STATUSES], k=count)
    items_written = 0
    for start in range(0, count, ORDER_ROUND):
        orders: list[OrderRow] = []
        items: list[LineItemRow] = []
        for n in range(start, min(start + ORDER_ROUND, count)):
            oid = first_order + n
            # The draws in this order: customer, date, line items, then the order's own.
            buyer = draw.rng.choice(buyers)
            ordered = _ordered_at(draw)
            order_items = _line_items(draw, oid, next_item + len(items), sellables)
            orders.append(_order(draw, oid, statuses[n], buyer, ordered, order_items))
            items.extend(order_items)
        _insert(Order, orders)
        _insert(LineItem, items)
        next_item += len(items)
        items_written += len(items)
        bar(len(orders))
    return items_written


def _existing_buyers() -> list[Buyer]:
    return [
        Buyer(c.pk, c.currency, "EG", c.email, c.phone or "+201000000000")
        for c in Customer.objects.alive()[:10_000]
    ]


def _existing_sellables() -> list[Sellable]:
    return [Sellable(p.pk, p.price, p.title, p.sku) for p in Product.objects.alive()[:2000]]


def seed(
    *,
    customers: int,
    orders: int,
    seed: int = 1,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> SeedResult:
    """Add `customers` customers and `orders` orders (1 to 5 line items each)."""
    started = time.perf_counter()
    now = now or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    progress = progress or (lambda label, total: lambda n: None)
    draw = _draw(seed, now)
    written: list[type[models.Model]] = [Category, *ROWS]

    _enlarge_sqlite_cache()
    with _no_cyclic_gc(), transaction.atomic():
        signals.bulk_load_started.send(sender=seed, models=written)
        _name_the_store()
        # A catalogue that grows slowly with the store.
        product_count = max(20, min(2_000, orders // 500)) if orders else 0
        sellables = _write_products(draw, product_count, progress("products", product_count))
        buyers = _write_customers(draw, customers, progress("customers", customers))
        items = 0
        if orders:
            items = _write_orders(
                draw,
                orders,
                buyers or _existing_buyers(),
                sellables or _existing_sellables(),
                progress("orders", orders),
            )
        _reset_sequences(written)
        figures.recompute()  # the rows above bypassed the services that keep the figures
        signals.bulk_load_finished.send(sender=seed, models=written)
    _analyze([*written, *figures.TABLES])

    return SeedResult(
        customers=customers,
        products=product_count,
        orders=orders,
        line_items=items,
        seconds=time.perf_counter() - started,
    )
