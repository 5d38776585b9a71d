"""core.inserts writes the rows bulk_create writes: every field of the batch writes' models,
compared column by column as the database stores them, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from django.db.models.functions import Now
from django.test.utils import CaptureQueriesContext
from django.utils.functional import lazy
from django_countries.fields import Country

from core import inserts
from push.models import PushEvent
from shop.models import Customer, HistoryEntry, LineItem, Order, Product
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db

CAIRO = timezone(timedelta(hours=2))
AUTO_NOW = {"created_at", "updated_at"}


def _columns(model) -> list[str]:
    return [f.column for f in model._meta.concrete_fields if f.name != "id"]


def _stored(model, ids) -> list[tuple]:
    """The rows of these ids as the database holds them (no Django conversion), in ids' order;
    the auto_now columns left out."""
    qn = connection.ops.quote_name
    columns = [c for c in _columns(model) if c not in AUTO_NOW]
    table = qn(model._meta.db_table)
    rows = {}
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cursor.execute(
                f"SELECT {qn('id')}, {', '.join(qn(c) for c in columns)} FROM {table} "
                f"WHERE {qn('id')} IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )
            rows.update({row[0]: row[1:] for row in cursor.fetchall()})
    return [rows[pk] for pk in ids]


def _names(model) -> list[str]:
    return [f.name for f in model._meta.concrete_fields if f.name not in {"id", *AUTO_NOW}]


def _assert_written_as_bulk_create(model, make, count=4):
    """Write the objects `make(i)` builds through bulk_create, keep their rows, delete them,
    write the same through insert(): the rows are the same, as stored and as read. Return
    the objects insert() wrote."""
    django_side = [make(i) for i in range(count)]
    model.objects.bulk_create(django_side)
    ids = [o.pk for o in django_side]
    stored = _stored(model, ids)
    read = list(model.objects.filter(pk__in=ids).order_by("pk").values_list(*_names(model)))
    model.objects.filter(pk__in=ids).delete()
    ours = [make(i) for i in range(count)]
    inserts.insert(model, ours, returning_ids=True)
    ids = [o.pk for o in ours]
    assert None not in ids
    assert _stored(model, ids) == stored
    assert list(model.objects.filter(pk__in=ids).order_by("pk").values_list(*_names(model))) == read
    for obj in ours:
        assert obj._state.adding is False
        assert obj._state.db == "default"
    return ours


def _assert_auto_now_set(model, objs):
    """The auto_now columns hold what pre_save set on each object."""
    names = [f.name for f in model._meta.concrete_fields if f.name in AUTO_NOW]
    if not names:
        return
    stored = dict(
        (row[0], row[1:])
        for row in model.objects.filter(pk__in=[o.pk for o in objs]).values_list("pk", *names)
    )
    for obj in objs:
        values = tuple(getattr(obj, name) for name in names)
        assert all(v is not None for v in values)
        assert stored[obj.pk] == values


@pytest.fixture
def customer(store):
    return CustomerFactory()


def _plain_order(customer, *, total: int) -> Order:
    """An order of the customer's, its subtotal and total `total`, no tax or discount."""
    return Order(
        customer=customer,
        currency="EGP",
        country_code="EG",
        subtotal_price=total,
        total_tax=0,
        total_discounts=0,
        total_price=total,
        phone="+201000000000",
        contact_email="a@example.com",
    )


def test_orders_write_every_field_as_bulk_create(customer):
    when = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=CAIRO)

    def make(i):
        return Order(
            customer=customer,
            ordered_at=when + timedelta(minutes=i),
            financial_status=Order.Status.SUCCESSFUL if i % 2 else "pending",
            currency="EGP",
            country_code=Country("EG") if i % 2 else "DE",
            subtotal_price=Decimal("10.50"),
            total_tax=Decimal("1.5") + i,
            taxes_included=bool(i % 2),
            total_discounts=Decimal("0"),
            total_price=Decimal("12.00") + i,
            phone="+201000000000",
            contact_email=f"ordér{i}@example.com",
            customer_locale=lazy(lambda: "ar-EG", str)() if i == 1 else "en",
            reference=None if i % 2 else f"#100{i}",
            deleted_at=None if i % 3 else when,
            erased_at=when if i == 2 else None,
        )

    ours = _assert_written_as_bulk_create(Order, make)
    _assert_auto_now_set(Order, ours)


def test_line_items_write_every_field_as_bulk_create(customer):
    order = _plain_order(customer, total=0)
    inserts.insert(Order, [order], returning_ids=True)
    products = ProductFactory.create_batch(2)

    def make(i):
        return LineItem(
            order=order,
            product_id=products[i % 2].pk,
            quantity=1 + i,
            price=Decimal("19.99") if i % 2 else 5,
            title="Ünïcode — ☕" if i % 2 else "",
            sku=f"SKU-{i}",
        )

    ours = _assert_written_as_bulk_create(LineItem, make)
    assert [o.order_id for o in ours] == [order.pk] * 4


def test_customers_write_every_field_as_bulk_create(store):
    def make(i):
        n = i
        return Customer(
            email=f"Person{n}@Example.com",
            first_name="Zoë",
            last_name="O'Brien" if i % 2 else 'Quote "me"',
            phone="" if i % 2 else "+201000000001",
            gender=Customer.Gender.FEMALE if i % 2 else "unknown",
            currency="USD",
            registered_at=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=i),
            accepts_marketing=bool(i % 2),
            erased_at=None,
            deleted_at=datetime(2026, 1, 1, tzinfo=CAIRO) if i == 3 else None,
        )

    ours = _assert_written_as_bulk_create(Customer, make)
    _assert_auto_now_set(Customer, ours)


def test_products_write_every_field_as_bulk_create(store):
    category = CategoryFactory()

    def make(i):
        n = i
        return Product(
            title=f"Product {n}",
            handle=f"product-ü-{n}",
            sku="" if i % 2 else f"S{n}",
            category=category if i % 2 else None,
            content="<p>Text</p>\n" * i,
            vendor="Acme",
            price=Decimal("1234567.89"),
            compare_at_price=None if i % 2 else Decimal("2000"),
            quantity=2_147_483_647 if i == 3 else i,
            image_url="https://shop.example.com/a.jpg",
            url="",
            published_at=None if i % 2 else datetime(2026, 5, 5, 5, 5, tzinfo=UTC),
            tags="a, b",
        )

    ours = _assert_written_as_bulk_create(Product, make)
    _assert_auto_now_set(Product, ours)


def test_push_events_write_every_field_as_bulk_create(db):
    carrier = PushEvent(entity="orders", record_id=1, action="create")
    inserts.insert(PushEvent, [carrier], returning_ids=True)

    def make(i):
        return PushEvent(
            entity="orders",
            record_id=2**40 + i,
            action="update",
            status=PushEvent.Status.FAILED if i % 2 else "pending",
            created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            due_at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=CAIRO),
            attempts=i,
            topic="orders/update",
            last_status=None if i % 2 else 503,
            last_error="timed out" * i,
            error_class="TimeoutError",
            last_answer="{}",
            carried_by=carrier if i % 2 else None,
            duration_ms=None if i % 2 else 12.5 + i,
            finished_at=None,
            fanned_out=bool(i % 2),
        )

    _assert_written_as_bulk_create(PushEvent, make)


def test_history_entries_write_every_field_as_bulk_create(db):
    def make(i):
        return HistoryEntry(
            entity=HistoryEntry.Entity.ORDER,
            record_id=i,
            at=datetime(2026, 12, 7, 1, 2, 3, tzinfo=CAIRO),
            action=HistoryEntry.Action.UPDATE,
            actor_kind=HistoryEntry.ActorKind.API_KEY,
            actor_id=None if i % 2 else 7,
            actor_label="key ☕",
            door=HistoryEntry.Door.BULK_API,
            changes={
                "total_price": ["1.00", "2.50"],
                "line_items": [[], [{"title": "é", "quantity": i, "price": "1.00"}]],
                "none": [None, True],
            }
            if i % 2
            else {},
        )

    ours = _assert_written_as_bulk_create(HistoryEntry, make)
    assert HistoryEntry.objects.get(pk=ours[1].pk).changes["line_items"][1][0]["title"] == "é"


def test_ids_come_back_in_the_objects_order(store):
    customers = [
        Customer(email=f"order{i}@example.com", first_name=f"N{i}", last_name="L")
        for i in range(50)
    ]
    inserts.insert(Customer, customers, returning_ids=True)
    ids = [c.pk for c in customers]
    assert ids == sorted(ids)
    assert len(set(ids)) == 50
    stored = dict(Customer.objects.filter(pk__in=ids).values_list("pk", "first_name"))
    assert [stored[c.pk] for c in customers] == [f"N{i}" for i in range(50)]


def test_without_returning_ids_the_rows_are_written_without_ids(db):
    events = [PushEvent(entity="orders", record_id=i, action="create") for i in range(3)]
    with CaptureQueriesContext(connection) as queries:
        inserts.insert(PushEvent, events, returning_ids=False)
    assert len(queries) == 1
    assert "RETURNING" not in queries[0]["sql"]
    assert all(e.pk is None and e._state.adding is False for e in events)
    assert list(PushEvent.objects.order_by("id").values_list("record_id", flat=True)) == [0, 1, 2]


def test_a_given_id_is_kept_and_the_others_get_new_ones(store):
    given = [
        Customer(id=9000 + i, email=f"k{i}@example.com", first_name="K", last_name="L")
        for i in range(2)
    ]
    new = [Customer(email=f"n{i}@example.com", first_name="N", last_name="L") for i in range(2)]
    mixed = [new[0], given[0], new[1], given[1]]
    with CaptureQueriesContext(connection) as queries:
        inserts.insert(Customer, mixed, returning_ids=True)
    # As bulk_create: those with ids first, then the others, one INSERT each.
    # (PostgreSQL copies the rows whose ids are given, having none to return.)
    inserts_run = [q["sql"] for q in queries if q["sql"].startswith(WRITES)]
    assert len(inserts_run) == 2
    assert '"shop_customer" ("id", ' in inserts_run[0]
    assert '"shop_customer" ("id", ' not in inserts_run[1]
    assert [c.pk for c in given] == [9000, 9001]
    assert all(c.pk is not None and c.pk not in (9000, 9001) for c in new)
    stored = dict(Customer.objects.values_list("pk", "email"))
    for c in mixed:
        assert stored[c.pk] == c.email


def test_an_import_with_ids_only_writes_them(store):
    customers = [
        Customer(id=500 + i, email=f"i{i}@example.com", first_name="I", last_name="L")
        for i in range(3)
    ]
    with CaptureQueriesContext(connection) as queries:
        inserts.insert(Customer, customers, returning_ids=True)
    assert len(queries) == 1
    assert sorted(Customer.objects.values_list("pk", flat=True)) == [500, 501, 502]


WRITES = ("INSERT", "COPY")


def _statements(queries) -> int:
    return sum(q["sql"].startswith(WRITES) for q in queries)


def test_sqlite_chunks_by_its_variable_limit(db, monkeypatch):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's own limit (PostgreSQL's is the next test)")
    monkeypatch.setattr(connection.features, "max_query_params", 100)
    columns = len(_columns(PushEvent))
    assert columns == 16
    events = [PushEvent(entity="orders", record_id=i, action="create") for i in range(50)]
    with CaptureQueriesContext(connection) as queries:
        inserts.insert(PushEvent, events, returning_ids=True)
    # 100 // 16 = 6 rows a statement, as bulk_create chunks them.
    assert _statements(queries) == 9
    assert all(q["sql"].count("%s") <= 100 or q["sql"].count("?") <= 100 for q in queries)
    stored = dict(PushEvent.objects.values_list("pk", "record_id"))
    assert [stored[e.pk] for e in events] == list(range(50))
    with CaptureQueriesContext(connection) as django_queries:
        PushEvent.objects.bulk_create(
            [PushEvent(entity="orders", record_id=i, action="create") for i in range(50)]
        )
    assert _statements(django_queries) == 9


def _written_in_one_statement(count: int, *, returning_ids: bool) -> tuple[list, str]:
    """`count` outbox events inserted; the one statement that wrote them."""
    events = [PushEvent(entity="orders", record_id=i, action="create") for i in range(count)]
    with CaptureQueriesContext(connection) as queries:
        inserts.insert(PushEvent, events, returning_ids=returning_ids)
    (statement,) = [q["sql"] for q in queries if q["sql"].startswith(WRITES)]
    return events, statement


def test_postgresql_writes_one_statement_of_arrays_as_bulk_create_does(db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's UNNEST insert")
    events, statement = _written_in_one_statement(4_100, returning_ids=True)
    assert statement.startswith("INSERT")
    assert "UNNEST" in statement
    stored = dict(PushEvent.objects.values_list("pk", "record_id"))
    assert [stored[e.pk] for e in events] == list(range(4_100))
    with CaptureQueriesContext(connection) as django_queries:
        PushEvent.objects.bulk_create(
            [PushEvent(entity="orders", record_id=i, action="create") for i in range(4_100)]
        )
    assert _statements(django_queries) == 1


def test_postgresql_copies_rows_it_returns_no_ids_for(db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's COPY")
    _, statement = _written_in_one_statement(1_000, returning_ids=False)
    assert statement.startswith('COPY "push_pushevent" (')
    assert sorted(PushEvent.objects.values_list("record_id", flat=True)) == list(range(1_000))


def test_postgresql_values_stay_within_its_parameter_limit(db, monkeypatch):
    """Where the values cannot travel as arrays: 65,535 parameters a statement, 4,095 outbox
    rows of 16 columns."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's protocol limit (SQLite's is the test above)")
    monkeypatch.setattr(inserts, "array_types", lambda fields, connection: None)
    events = [PushEvent(entity="orders", record_id=i, action="create") for i in range(4_100)]
    with CaptureQueriesContext(connection) as queries:
        inserts.insert(PushEvent, events, returning_ids=True)
    assert _statements(queries) == 2
    stored = dict(PushEvent.objects.values_list("pk", "record_id"))
    assert [stored[e.pk] for e in events] == list(range(4_100))


def test_an_expression_value_is_left_to_bulk_create(db):
    events = [
        PushEvent(entity="orders", record_id=1, action="create", due_at=Now()),
        PushEvent(entity="orders", record_id=2, action="create"),
    ]
    inserts.insert(PushEvent, events, returning_ids=True)
    assert all(e.pk is not None for e in events)
    assert PushEvent.objects.filter(record_id=1).get().due_at is not None


def test_an_unsaved_related_object_is_refused_as_bulk_create_refuses_it(store):
    customer = Customer(email="x@example.com")
    order = Order(customer=customer)
    with pytest.raises(ValueError, match="bulk_create"):
        inserts.insert(Order, [order], returning_ids=True)


@pytest.mark.parametrize("model", [Order, LineItem, Customer, Product, PushEvent, HistoryEntry])
def test_each_converter_gives_what_get_db_prep_save_gives(db, model):
    values = [
        None,
        "",
        "text",
        Order.Status.SUCCESSFUL,
        0,
        7,
        True,
        False,
        1.5,
        Decimal("3.10"),
        Decimal("12.345"),
        Decimal("NaN"),
        datetime(2026, 1, 1, tzinfo=CAIRO),
        Country("EG"),
        {"a": [1, None]},
    ]
    for converter in inserts.converters(model, "default"):
        field = converter.field
        for value in values:
            try:
                expected = field.get_db_prep_save(value, connection)
            except Exception as exc:  # noqa: BLE001 - the converter must refuse it alike
                with pytest.raises(type(exc)):
                    converter(value)
                continue
            if expected != field.get_db_prep_save(value, connection):
                continue  # a wrapper without equality (PostgreSQL's Jsonb): Django's own call
            got = converter(value)
            assert got == expected, (field.name, value)
            # PostgreSQL wraps integers in its sized int subclasses; they bind the same.
            assert type(got) is type(expected) or isinstance(expected, type(got)), (field, value)


def _orders_with_items(customer, product, count: int) -> None:
    """Write `count` orders of one line item each, committed (the foreign keys are checked)."""
    with transaction.atomic():
        orders = [_plain_order(customer, total=1) for _ in range(count)]
        inserts.insert(Order, orders, returning_ids=True)
        items = [LineItem(order=o, product=product, quantity=1, price=1) for o in orders]
        inserts.insert(LineItem, items, returning_ids=False)


def _order_rows_scanned() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT seq_tup_read FROM pg_stat_user_tables WHERE relname = %s",
            [Order._meta.db_table],
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_postgresql_plans_the_foreign_key_checks_of_a_batch_afresh():
    """The line items' check of their order, planned while the orders table was nearly empty,
    reads every order for each line item; planned afresh, it reads none."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's cached plans of foreign-key checks")
    table = connection.ops.quote_name(Order._meta.db_table)
    with connection.cursor() as cursor:
        # No ANALYZE midway (it too would have the checks planned again).
        cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    try:
        StoreFactory()
        customer, product = CustomerFactory(), ProductFactory()
        connection.close()  # a new session: none of the plans of earlier tests
        with connection.cursor() as cursor:
            # Empty and known empty, as the migrations leave a new store's tables (0011
            # analyzes them), not holding the pages of earlier tests' rolled-back rows.
            cursor.execute(f"TRUNCATE {table} CASCADE")
            cursor.execute(f"ANALYZE {table}")
        _orders_with_items(customer, product, 10)  # the checks are planned on a tiny table
        _orders_with_items(customer, product, 1_000)

        before = _order_rows_scanned()
        _orders_with_items(customer, product, 50)
        stale = _order_rows_scanned() - before
        assert stale >= 50 * 1_000  # each check read the whole table: the reason to replan

        inserts.plan_checks_afresh("default")
        before = _order_rows_scanned()
        _orders_with_items(customer, product, 50)
        assert _order_rows_scanned() - before == 0
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")


def test_rows_of_values_write_what_objects_with_those_values_write(db):
    """The outbox's rows: three fields given, every other its default, worked out once."""
    given = [("orders", 2**40 + i, "create" if i % 2 else "update") for i in range(5)]
    before = datetime.now(UTC)
    made = inserts.rows_of_values(PushEvent, ("entity", "record_id", "action"), given)
    assert inserts.insert_rows(made, returning_ids=False) == []
    after = datetime.now(UTC)

    events = list(PushEvent.objects.order_by("id"))
    assert [(e.entity, e.record_id, e.action) for e in events] == given
    assert {e.created_at for e in events} == {events[0].created_at}  # one default for all
    assert before <= events[0].created_at <= after
    assert len({e.due_at for e in events}) == 1
    ids = [e.pk for e in events]
    stored = _stored(PushEvent, ids)
    PushEvent.objects.all().delete()
    objects = [
        PushEvent(
            entity=entity,
            record_id=pk,
            action=action,
            created_at=events[0].created_at,
            due_at=events[0].due_at,
        )
        for entity, pk, action in given
    ]
    inserts.insert(PushEvent, objects, returning_ids=True)
    assert _stored(PushEvent, [o.pk for o in objects]) == stored


def test_rows_of_values_name_only_stored_fields(db):
    with pytest.raises(ValueError, match="no stored field"):
        inserts.rows_of_values(PushEvent, ("entity", "nothing"), [("orders", 1)])


def test_a_refused_row_raises_djangos_integrity_error_however_the_rows_go_in(db):
    """PostgreSQL's COPY too: callers catch IntegrityError, not the driver's own errors."""
    from django.db import IntegrityError

    events = [PushEvent(entity="orders", record_id=i, action="bogus") for i in range(3)]
    with pytest.raises(IntegrityError), transaction.atomic():
        inserts.insert(PushEvent, events, returning_ids=False)
    assert PushEvent.objects.count() == 0


@pytest.fixture
def wal_database(tmp_path, django_db_blocker):
    """A file SQLite database in WAL mode (as the app's settings open one), as the alias
    "wal", with a table of blobs; on whichever database the suite runs."""
    alias = "wal"
    connections.settings[alias] = connections.configure_settings(
        {
            "default": {},  # (configure_settings asks for one; only the alias is kept)
            alias: {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(tmp_path / "wal.sqlite3"),
                "OPTIONS": {
                    "init_command": (
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                        "PRAGMA journal_size_limit=1048576;"
                    )
                },
            },
        }
    )[alias]
    try:
        with django_db_blocker.unblock():
            with connections[alias].cursor() as cursor:
                cursor.execute("CREATE TABLE blob (id INTEGER PRIMARY KEY, data BLOB)")
            yield alias, tmp_path / "wal.sqlite3"
            connections[alias].close()
    finally:
        del connections[alias]
        del connections.settings[alias]


def _write_pages(alias: str, transactions: int, pages: int) -> None:
    """Commit `transactions` transactions of about `pages` 4 KB pages each."""
    for _ in range(transactions):
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            for _ in range(pages):
                cursor.execute("INSERT INTO blob (data) VALUES (zeroblob(4000))")


def _pragma(alias: str, name: str) -> tuple:
    with connections[alias].cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()


def test_a_long_write_copies_the_sqlite_log_back_less_often_then_all_of_it_at_its_end(
    wal_database,
):
    alias, database = wal_database
    log = database.with_name(database.name + "-wal")
    page = _pragma(alias, "page_size")[0]
    assert _pragma(alias, "wal_autocheckpoint") == (1000,)
    # SQLite's default: the log is copied back (and starts over) once it holds 1,000 pages.
    _write_pages(alias, transactions=6, pages=400)
    assert log.stat().st_size < 1_700 * page
    assert database.stat().st_size < 2_500 * page

    with inserts.long_write(alias):
        assert _pragma(alias, "wal_autocheckpoint") == (inserts.LONG_WRITE_WAL_PAGES,)
        assert _pragma(alias, "journal_size_limit") == (-1,)
        _write_pages(alias, transactions=6, pages=400)
        # Not copied back within the block: the log holds all 2,400 pages.
        assert log.stat().st_size > 2_400 * page
        assert database.stat().st_size < 2_500 * page

    # ...and all of it was copied back at the block's end: the database file holds every row.
    assert database.stat().st_size > 4_800 * page
    assert _pragma(alias, "wal_autocheckpoint") == (1000,)
    assert _pragma(alias, "journal_size_limit") == (1_048_576,)
    # The next write starts the log over, and the file is cut back to the connection's limit.
    _write_pages(alias, transactions=1, pages=10)
    assert log.stat().st_size <= 1_048_576 + 20 * page
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM blob")
        assert cursor.fetchone() == (4_810,)


def test_a_long_write_that_fails_puts_the_connections_settings_back(wal_database):
    alias, _ = wal_database

    def refused():
        with inserts.long_write(alias):
            _write_pages(alias, transactions=1, pages=10)
            raise ValueError("a refused batch")

    with pytest.raises(ValueError, match="a refused batch"):
        refused()

    assert _pragma(alias, "wal_autocheckpoint") == (1000,)
    assert _pragma(alias, "journal_size_limit") == (1_048_576,)


def test_a_long_write_leaves_other_databases_as_they_are(db):
    with CaptureQueriesContext(connection) as queries, inserts.long_write("default"):
        pass
    if connection.vendor == "sqlite":  # the suite's in-memory database keeps no log
        assert [query["sql"] for query in queries] == ["PRAGMA journal_mode"]
        assert _pragma("default", "journal_mode") == ("memory",)
        assert _pragma("default", "wal_autocheckpoint") == (1000,)
        # The app's connections cut the log file back to 64 MB when it starts over.
        assert _pragma("default", "journal_size_limit") == (67_108_864,)
    else:
        assert len(queries) == 0
