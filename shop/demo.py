"""Realistic, reproducible demo data, written in bulk.

Rows are generated from seeded pools (Faker is called only to fill the pools: it is too slow
to call per row at a million orders) and inserted with executemany in large batches, or COPY on
PostgreSQL. Totals come from `services.order_totals`, so demo orders follow the same rules as
orders written through the services; the database's constraints check every row.
"""

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Max
from django.utils.text import slugify
from faker import Faker

from . import signals
from .models import Category, Customer, LineItem, Order, Product, Store
from .services import category_create, order_totals

BATCH = 20_000

# (currency, country, dial prefix, weight)
MARKETS = [
    ("EGP", "EG", "+2010", 45),
    ("SAR", "SA", "+9665", 20),
    ("AED", "AE", "+9715", 12),
    ("USD", "US", "+1415", 10),
    ("EUR", "DE", "+4915", 8),
    ("KWD", "KW", "+9656", 5),
]
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


@dataclass(frozen=True)
class SeedResult:
    customers: int
    products: int
    orders: int
    line_items: int
    seconds: float


def _fmt_dt(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _insert(table: str, columns: list[str], rows: Iterator[tuple], count: int, bar) -> None:
    """Insert rows in batches: COPY on PostgreSQL, executemany elsewhere."""
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor
            with raw.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
                    bar(1)
            return
        sql = (
            f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) "
            f"VALUES ({', '.join(['%s'] * len(columns))})"
        )
        batch: list[tuple] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                cursor.executemany(sql, batch)
                bar(len(batch))
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            bar(len(batch))


def _reset_sequences(models) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 1))"
            )


def _analyze(models) -> None:
    """Refresh the planner's statistics after a bulk load, so it picks the right indexes."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for model in models:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        elif connection.vendor == "sqlite":
            cursor.execute("ANALYZE")


def seed(
    *,
    customers: int,
    orders: int,
    seed: int = 1,
    now: datetime | None = None,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> SeedResult:
    """Add `customers` customers and `orders` orders (1 to 5 line items each)."""
    started = time.perf_counter()
    rng = random.Random(seed)
    now = now or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    progress = progress or (lambda label, total: lambda n: None)

    fake_en = Faker("en_US")
    fake_ar = Faker("ar_AA")
    fake_en.seed_instance(seed)
    fake_ar.seed_instance(seed)
    names_en = [(fake_en.first_name(), fake_en.last_name()) for _ in range(400)]
    names_ar = [(fake_ar.first_name(), fake_ar.last_name()) for _ in range(400)]
    handles = [fake_en.user_name() for _ in range(500)]
    domains = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "example.com"]

    written = [Category, Product, Customer, Order, LineItem]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            # A page cache big enough for the indexes being filled: SQLite's default 2 MB
            # makes every index insert of a large table a read from disk.
            cursor.execute("PRAGMA cache_size = -524288")
    with transaction.atomic():
        signals.bulk_load_started.send(sender=seed, models=written)
        store = Store.load()
        if store.name == "My Store":
            Store.objects.filter(pk=1).update(
                name="Nile Market",
                description="Everyday goods delivered across Egypt and the Gulf",
                email="hello@nilemarket.example",
                base_url="https://nilemarket.example/",
            )

        # Categories and products: a catalogue that grows slowly with the store.
        category_ids: list[int] = []
        if not Category.objects.exists():
            for position, (title, children) in enumerate(CATEGORY_TREE.items()):
                published: datetime | None = now - timedelta(days=400 - position)
                parent = category_create(
                    title=title, handle=slugify(title), published_at=published, available=True
                )
                category_ids.append(parent.pk)
                for child in children:
                    sub = category_create(
                        title=child,
                        handle=slugify(f"{title}-{child}"),
                        parent=parent,
                        published_at=published,
                        available=rng.random() > 0.1,
                    )
                    category_ids.append(sub.pk)
        else:
            category_ids = list(Category.objects.values_list("id", flat=True))

        product_target = max(20, min(2_000, orders // 500))
        first_product = (Product.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        product_rows = []
        product_prices: list[tuple[int, Decimal, str, str]] = []
        words = [fake_en.word().capitalize() for _ in range(300)]
        for offset in range(product_target if orders else 0):
            pid = first_product + offset
            title = f"{rng.choice(words)} {rng.choice(words)} {pid}"
            handle = slugify(title)
            price = Decimal(rng.randrange(500, 500_000)) / 100
            sku = f"SKU-{pid:06d}"
            product_prices.append((pid, price, title, sku))
            published = None if rng.random() < 0.05 else now - timedelta(days=rng.randrange(1, 400))
            product_rows.append(
                (
                    pid,
                    title,
                    handle,
                    sku,
                    rng.choice(category_ids) if category_ids else None,
                    f"<p>{fake_en.sentence()}</p>",
                    rng.choice(VENDORS),
                    str(price),
                    str((price * Decimal("1.2")).quantize(Decimal("0.01")))
                    if rng.random() < 0.3
                    else None,
                    rng.randrange(0, 500),
                    f"https://nilemarket.example/media/products/{pid}.jpg",
                    f"https://nilemarket.example/products/{handle}",
                    _fmt_dt(published) if published else None,
                    ", ".join(rng.sample(["new", "sale", "trending", "gift", "eco"], 2)),
                    _fmt_dt(now),
                    _fmt_dt(now),
                    None,
                )
            )
        _insert(
            Product._meta.db_table,
            [
                "id",
                "title",
                "handle",
                "sku",
                "category_id",
                "content",
                "vendor",
                "price",
                "compare_at_price",
                "quantity",
                "image_url",
                "url",
                "published_at",
                "tags",
                "created_at",
                "updated_at",
                "deleted_at",
            ],
            iter(product_rows),
            len(product_rows),
            progress("products", len(product_rows)),
        )
        if not product_prices and orders:
            product_prices = [
                (p.pk, p.price, p.title, p.sku) for p in Product.objects.alive()[:2000]
            ]

        # Customers.
        first_customer = (Customer.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        customer_info: list[tuple[int, str, str, str, str]] = []
        market_picks = rng.choices([m[:3] for m in MARKETS], [m[3] for m in MARKETS], k=customers)

        def customer_rows():
            for offset in range(customers):
                cid = first_customer + offset
                currency, country, dial = market_picks[offset]
                arabic = country in {"EG", "SA", "AE", "KW"} and rng.random() < 0.7
                first, last = rng.choice(names_ar if arabic else names_en)
                email = f"{rng.choice(handles)}.{cid}@{rng.choice(domains)}".lower()
                phone = f"{dial}{rng.randrange(10_000_000, 99_999_999)}"
                if rng.random() < 0.08:
                    phone_stored = ""
                else:
                    phone_stored = phone
                registered = now - timedelta(seconds=rng.randrange(0, 3 * 365 * 86400))
                customer_info.append((cid, currency, country, email, phone))
                gender = rng.choices(["male", "female", "unknown"], [45, 45, 10])[0]
                yield (
                    cid,
                    email,
                    first,
                    last,
                    phone_stored,
                    gender,
                    currency,
                    _fmt_dt(registered),
                    rng.random() < 0.4,
                    _fmt_dt(registered),
                    _fmt_dt(registered),
                    None,
                )

        _insert(
            Customer._meta.db_table,
            [
                "id",
                "email",
                "first_name",
                "last_name",
                "phone",
                "gender",
                "currency",
                "registered_at",
                "accepts_marketing",
                "created_at",
                "updated_at",
                "deleted_at",
            ],
            customer_rows(),
            customers,
            progress("customers", customers),
        )
        if not customer_info and orders:
            customer_info = [
                (c.pk, c.currency, "EG", c.email, c.phone or "+201000000000")
                for c in Customer.objects.alive()[:10_000]
            ]

        # Orders and their line items, generated together, inserted as two streams.
        first_order = (Order.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        first_item = (LineItem.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        statuses = rng.choices([s[0] for s in STATUSES], [s[1] for s in STATUSES], k=orders)
        pending_items: list[tuple] = []
        item_id = first_item
        tax_rate = Decimal("0.14")
        cent = Decimal("0.01")
        span = 730 * 86400

        def order_rows():
            nonlocal item_id
            for offset in range(orders):
                oid = first_order + offset
                cid, currency, country, email, phone = rng.choice(customer_info)
                # More orders recently: a store that grows.
                age = int(span * (rng.random() ** 2))
                ordered = now - timedelta(seconds=age) + timedelta(seconds=rng.randrange(86400))
                if ordered > now:
                    ordered = now - timedelta(seconds=rng.randrange(1, 3600))
                items = []
                for _ in range(rng.randint(1, 5)):
                    pid, price, title, sku = rng.choice(product_prices)
                    qty = rng.randint(1, 3)
                    items.append((qty, price))
                    pending_items.append((item_id, oid, pid, qty, str(price), title, sku))
                    item_id += 1
                taxes_included = rng.random() < 0.5
                subtotal = sum((q * p for q, p in items), Decimal(0))
                tax = (subtotal * tax_rate).quantize(cent)
                discount = (subtotal * Decimal("0.1")).quantize(cent) if rng.random() < 0.2 else 0
                totals = order_totals(
                    line_items=items,
                    total_tax=tax,
                    taxes_included=taxes_included,
                    total_discounts=Decimal(discount),
                )
                stamp = _fmt_dt(ordered)
                yield (
                    oid,
                    cid,
                    stamp,
                    statuses[offset],
                    currency,
                    country,
                    str(totals.subtotal_price),
                    str(tax),
                    taxes_included,
                    str(discount),
                    str(totals.total_price),
                    phone,
                    email,
                    rng.choice(["ar", "en", ""]),
                    stamp,
                    stamp,
                    _fmt_dt(now) if rng.random() < 0.002 else None,
                )

        order_columns = [
            "id",
            "customer_id",
            "ordered_at",
            "financial_status",
            "currency",
            "country_code",
            "subtotal_price",
            "total_tax",
            "taxes_included",
            "total_discounts",
            "total_price",
            "phone",
            "contact_email",
            "customer_locale",
            "created_at",
            "updated_at",
            "deleted_at",
        ]
        item_columns = ["id", "order_id", "product_id", "quantity", "price", "title", "sku"]
        order_bar = progress("orders", orders)
        items_written = 0
        stream = order_rows()
        while True:
            chunk = [row for _, row in zip(range(BATCH * 5), stream, strict=False)]
            if not chunk:
                break
            _insert(Order._meta.db_table, order_columns, iter(chunk), len(chunk), order_bar)
            _insert(
                LineItem._meta.db_table,
                item_columns,
                iter(pending_items),
                len(pending_items),
                lambda n: None,
            )
            items_written += len(pending_items)
            pending_items.clear()

        _reset_sequences(written)
        signals.bulk_load_finished.send(sender=seed, models=written)

    _analyze(written)

    return SeedResult(
        customers=customers,
        products=len(product_rows),
        orders=orders,
        line_items=items_written,
        seconds=time.perf_counter() - started,
    )
