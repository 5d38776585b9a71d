"""Bulk INSERTs for batch writes, the rows `QuerySet.bulk_create` writes at a fraction of its cost.

bulk_create compiles every value through `SQLInsertCompiler` (field_as_sql, prepare_value,
pre_save, get_db_prep_save: four calls a value, a million and a half for 20,000 orders).
Here each model has, per database vendor, one converter a field, built once: `pre_save` is
called only for the fields that change the value there (auto_now, auto_now_add, a field class
of its own), and a value of a plain type the field stores unchanged (a str for a text field,
an int for an integer or a key, a bool, None) is passed as is; anything else (Decimal,
datetime, JSON, a Country) goes through the field's own `get_db_prep_save`. The statement is
a multi-row `INSERT … VALUES (…), (…)` per chunk, within the parameter limit; on PostgreSQL,
as Django writes it there, one `INSERT … SELECT * FROM UNNEST(…)` of an array a column.

What this does not handle goes to bulk_create itself: expressions as values (a database
default, F(), Now()), fields with placeholders of their own, inherited models, returned
columns beside the primary key.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, connections, models, router, transaction
from django.db.backends.postgresql.compiler import InsertUnnest  # type: ignore[import-untyped]
from django.db.models.sql import InsertQuery

# PostgreSQL's protocol carries at most this many parameters a statement.
MAX_PARAMS = 65_535

_INTEGERS = (
    models.AutoField,
    models.BigAutoField,
    models.SmallAutoField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
)
_TEXTS = (models.CharField, models.TextField, models.EmailField, models.SlugField, models.URLField)


class _Unhandled(Exception):
    """A value this module does not convert (an expression): bulk_create writes the batch."""


@dataclass(frozen=True, slots=True)
class Converter:
    """How one field's value becomes its parameter."""

    field: models.Field
    attname: str
    # Call field.pre_save(obj, add=True) for the value (it may set the attribute).
    pre_save: bool
    # Values of exactly these types are stored unchanged.
    as_is: frozenset[type]
    # None is stored as NULL unchanged.
    none_as_is: bool
    # Any other value.
    prepare: Callable[[Any], Any]

    def __call__(self, value: Any) -> Any:
        """The value as get_db_prep_save() makes it."""
        if value is None:
            return None if self.none_as_is else self.prepare(value)
        if type(value) in self.as_is:
            return value
        return self.prepare(value)


def _plain_types(field: models.Field) -> frozenset[type]:
    """The types a field stores as given (its exact class only: a subclass may convert)."""
    kind = type(field)
    if isinstance(field, models.ForeignKey) and kind is models.ForeignKey:
        # An integer key only: ForeignKey.get_db_prep_save may turn "" into None.
        return _plain_types(field.target_field) & {int}
    if kind in _TEXTS:
        return frozenset({str})
    if kind in _INTEGERS:
        return frozenset({int})
    if kind is models.BooleanField:
        return frozenset({bool})
    if kind is models.FloatField:
        return frozenset({float})
    return frozenset()


def _changes_on_save(field: models.Field) -> bool:
    """Whether field.pre_save(obj, add=True) may give other than the attribute's value."""
    pre_save = type(field).pre_save
    if pre_save in (models.DateField.pre_save, models.DateTimeField.pre_save):
        return bool(field.auto_now or field.auto_now_add)  # type: ignore[attr-defined]
    return pre_save is not models.Field.pre_save


def _prepare(field: models.Field, connection, text: bool) -> Callable[[Any], Any]:
    get_db_prep_save = field.get_db_prep_save

    def prepare(value: Any) -> Any:
        if text and isinstance(value, str):
            return value  # a str subclass (a TextChoices member): to_python keeps it
        if hasattr(value, "resolve_expression"):
            raise _Unhandled(field.name)
        return get_db_prep_save(value, connection)

    kind = type(field)
    if kind is models.DecimalField:
        # An amount as the field's own get_db_prep_value ends: to_python gives a finite Decimal
        # back unchanged, then the backend adapts it.
        adapt_decimal = connection.ops.adapt_decimalfield_value
        digits, places = field.max_digits, field.decimal_places  # type: ignore[attr-defined]

        def prepare_amount(value: Any) -> Any:
            if type(value) is Decimal and value.is_finite():
                return adapt_decimal(value, digits, places)
            return prepare(value)

        return prepare_amount
    if kind is models.DateTimeField:
        # An aware time: to_python and the naive-time check leave it as it is.
        adapt_time = connection.ops.adapt_datetimefield_value

        def prepare_time(value: Any) -> Any:
            if type(value) is datetime and value.utcoffset() is not None:
                return adapt_time(value)
            return prepare(value)

        return prepare_time
    return prepare


def _converter(field: models.Field, connection) -> Converter:
    as_is = _plain_types(field)
    return Converter(
        field=field,
        attname=field.attname,
        pre_save=_changes_on_save(field),
        as_is=as_is,
        none_as_is=field.get_db_prep_save(None, connection) is None,
        prepare=_prepare(field, connection, str in as_is),
    )


_converters: dict[tuple[type[models.Model], str, str], list[Converter]] = {}


def converters(model: type[models.Model], using: str) -> list[Converter]:
    """One converter for each concrete, stored field of the model, in the model's order."""
    connection = connections[using]
    key = (model, connection.vendor, using)
    found = _converters.get(key)
    if found is None:
        found = [
            _converter(field, connection)
            for field in model._meta.concrete_fields
            if not field.generated
        ]
        _converters[key] = found
    return found


def db_values(obj: models.Model, fields: Sequence[Converter], *, pre_save: bool) -> list[Any]:
    """The object's values as the INSERT binds them (`pre_save`: as an INSERT would save them,
    auto_now times set)."""
    return [
        c(c.field.pre_save(obj, True) if pre_save and c.pre_save else getattr(obj, c.attname))
        for c in fields
    ]


def _unhandled_model(model: type[models.Model]) -> bool:
    opts = model._meta
    return (
        any(p._meta.concrete_model is not opts.concrete_model for p in opts.all_parents)
        or any(hasattr(f, "get_placeholder") for f in opts.concrete_fields)
        or list(opts.db_returning_fields) not in ([], [opts.pk])
        or isinstance(opts.pk, models.CompositePrimaryKey)
    )


@dataclass
class Rows:
    """Objects' values as an INSERT binds them, built apart from the database (in another
    process, say): `with_pk` holds every field of the objects that have a primary key, in
    the model's order; `without_pk` the fields but the automatic key of the others."""

    model: type[models.Model]
    using: str
    with_pk: list[list[Any]]
    without_pk: list[list[Any]]

    def column(self, attname: str) -> int:
        """Where a field's value is in a row of `without_pk`."""
        return [c.attname for c in _own(converters(self.model, self.using))].index(attname)

    def fill(self, attname: str, value: Any) -> None:
        """Give every row this value of the field."""
        fields = converters(self.model, self.using)
        for group, named in (
            (self.with_pk, fields),
            (self.without_pk, _own(fields)),
        ):
            if not group:
                continue
            i = [c.attname for c in named].index(attname)
            converted = named[i](value)
            for row in group:
                row[i] = converted

    def stamp(self, now: datetime) -> None:
        """Set the auto_now and auto_now_add times to `now`, as an INSERT at that time would
        (rows built before the transaction that writes them)."""
        for c in converters(self.model, self.using):
            if isinstance(c.field, models.DateTimeField) and c.pre_save:
                self.fill(c.attname, now)


def _own(fields: list[Converter]) -> list[Converter]:
    """The fields a row without a primary key holds: all but the automatic key."""
    return [c for c in fields if not isinstance(c.field, models.AutoField)]


def rows(model: type[models.Model], objs: Sequence[models.Model]) -> Rows | None:
    """The objects' rows, as `insert` would write them (auto_now times set on the objects);
    None when this module leaves the model or a value to bulk_create. Only the database
    connection's settings are read, not the database."""
    using = router.db_for_write(model)
    if _unhandled_model(model):
        return None
    pk: Any = model._meta.pk
    for obj in objs:
        if obj.pk is None and pk.has_default():
            obj.pk = pk.get_pk_value_on_save(obj)
        obj._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]
    fields = converters(model, using)
    own = _own(fields)
    # Every value is converted (pre_save included) before any row is written: a value this
    # module leaves to Django leaves the database untouched for bulk_create.
    try:
        return Rows(
            model,
            using,
            [db_values(obj, fields, pre_save=True) for obj in objs if obj.pk is not None],
            [db_values(obj, own, pre_save=True) for obj in objs if obj.pk is None],
        )
    except _Unhandled:
        return None


def rows_of_values(
    model: type[models.Model], names: Sequence[str], values: Iterable[Sequence[Any]]
) -> Rows:
    """Rows of new objects (no primary key) that differ only in the fields `names`, given
    plain values of those, in order; every other field takes its default, worked out once for
    all the rows (a default time is the same for each, as in one statement). As fast as
    copying a list a row: for thousands of small rows, such as the outbox's."""
    using = router.db_for_write(model)
    own = _own(converters(model, using))
    template = db_values(model(), own, pre_save=True)
    where = [(i, c) for i, c in enumerate(own) if c.attname in names]
    order = {attname: n for n, attname in enumerate(names)}
    where.sort(key=lambda found: order[found[1].attname])
    if len(where) != len(names):
        raise ValueError(f"{model.__name__} has no stored field among some of {names}")
    made = []
    for given in values:
        row = template.copy()
        for (i, convert), value in zip(where, given, strict=True):
            row[i] = convert(value)
        made.append(row)
    return Rows(model, using, [], made)


def insert_rows(rows: Rows, *, returning_ids: bool) -> list[Any]:
    """Write the rows, those with a primary key first; return the ids the database gave the
    others, in their order, when `returning_ids` and the database returns them."""
    model, connection = rows.model, connections[rows.using]
    opts = model._meta
    fields = converters(model, rows.using)
    returning = (
        returning_ids
        and connection.features.can_return_rows_from_bulk_insert
        and opts.pk in opts.db_returning_fields
    )
    with transaction.atomic(using=rows.using, savepoint=False):
        if rows.with_pk:
            _insert(model, rows.with_pk, fields, connection, returning=False)
        if rows.without_pk:
            return _insert(model, rows.without_pk, _own(fields), connection, returning=returning)
    return []


def insert(model: type[models.Model], objs: Sequence[models.Model], *, returning_ids: bool) -> None:
    """Insert the unsaved objects as bulk_create(objs) does, in one statement per chunk.

    Objects with a primary key keep it; the others are written without one (after those
    with), and get the database's ids back in their order when `returning_ids` (as
    bulk_create does where the database returns rows from a bulk insert). All are then saved
    objects of the database.
    """
    objs = list(objs)
    if not objs:
        return
    made = rows(model, objs)
    if made is None:
        model._base_manager.using(router.db_for_write(model)).bulk_create(objs)
        return
    ids = insert_rows(made, returning_ids=returning_ids)
    if ids:
        attname = model._meta.pk.attname
        for obj, value in zip([o for o in objs if o.pk is None], ids, strict=True):
            setattr(obj, attname, value)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = made.using


def array_types(fields: Sequence[Any], connection) -> list[str] | None:
    """On PostgreSQL, the array type of each field's values where all can travel as arrays
    (UNNEST, as Django's compiler does it: one parameter a column, a short statement psycopg
    parses once and the server plans quickly); else None: one parameter a value."""
    if connection.vendor != "postgresql":
        return None
    for field in fields:
        own = field.target_field if field.is_relation else field
        kind = own.get_internal_type()
        if hasattr(field, "get_placeholder") or kind not in connection.data_types:
            return None
        # A JSON text in an array literal has each of its quotes escaped by psycopg in Python:
        # rows holding JSON (history entries) go faster as one parameter a value.
        if kind == "JSONField":
            return None
    # Without the type's modifiers: no value is cut short on the way (varchar, not varchar(50)).
    return [field.db_type(connection).split("(")[0] for field in fields]


def _insert(
    model: type[models.Model],
    rows: list[list[Any]],
    fields: list[Converter],
    connection,
    *,
    returning: bool,
) -> list[Any]:
    """Write the rows, a statement a chunk; return the ids when `returning`."""
    ops = connection.ops
    opts = model._meta
    model_fields = [c.field for c in fields]
    if connection.vendor == "postgresql" and not returning and len(rows) > 1:
        # COPY: psycopg writes each row's values in C, where a statement's values are quoted
        # (or its arrays written out) in Python.
        table = ops.quote_name(opts.db_table)
        columns = ", ".join(ops.quote_name(f.column) for f in model_fields)
        with connection.cursor() as cursor, connection.wrap_database_errors:
            # As Django's execute(): its errors (IntegrityError...), in a usable transaction.
            connection.validate_no_broken_transaction()
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return []
    size = max(1, min(ops.bulk_batch_size(model_fields, rows), MAX_PARAMS // len(fields)))
    head = "INSERT INTO {} ({})".format(
        ops.quote_name(opts.db_table), ", ".join(ops.quote_name(f.column) for f in model_fields)
    )
    tail, tail_params = ("", ())
    if returning:
        tail, tail_params = ops.return_insert_columns([opts.pk])
    types = array_types(model_fields, connection) if len(rows) > 1 else None
    if types is not None:
        # One statement of one array a column, as Django's compiler writes it on PostgreSQL.
        statements = [(InsertUnnest([f"(%s)::{t}[]" for t in types]), rows)]
    else:
        placeholders = ["%s"] * len(fields)
        statements = [
            ([placeholders] * len(rows[start : start + size]), rows[start : start + size])
            for start in range(0, len(rows), size)
        ]
    returned: list = []
    with connection.cursor() as cursor:
        for placeholder_rows, chunk in statements:
            sql = f"{head} {ops.bulk_insert_sql(model_fields, placeholder_rows)}"
            if tail:
                sql = f"{sql} {tail}"
            if types is not None:
                params = [list(column) for column in zip(*chunk, strict=True)]
            else:
                params = [value for row in chunk for value in row]
            cursor.execute(sql, (*params, *tail_params))
            if returning:
                returned.extend(ops.fetch_returned_insert_rows(cursor))
    if not returning:
        return []
    compiler = InsertQuery(model).get_compiler(connection=connection)
    pk_converters = compiler.get_converters([opts.pk.get_col(opts.db_table)])
    if pk_converters:
        returned = list(compiler.apply_converters(returned, pk_converters))
    if len(returned) != len(rows):
        raise RuntimeError(f"{len(rows)} rows inserted, {len(returned)} ids returned")
    return [value for (value,) in returned]


# The pages SQLite's write-ahead log holds during a long write before they are copied back
# into the database file: 256 MB at 4 KB a page, where SQLite's default is 1,000 (the app's
# connections cut the file back to 64 MB afterwards: journal_size_limit in the settings).
LONG_WRITE_WAL_PAGES = 65_536


@contextmanager
def long_write(using: str) -> Iterator[None]:
    """Around a long run of write transactions (an import's write) on SQLite in WAL mode:
    copy the log back into the database file every LONG_WRITE_WAL_PAGES pages, then once
    at the end, rather than every 1,000 pages.

    Each copy (a checkpoint, run by the connection whose commit filled the log) writes every
    page the log holds into the database file and syncs it. A batch of 500 orders writes some
    2,500 pages (their rows, and a page of each index for most rows: an order has a dozen):
    with 1,000 pages, every commit checkpointed, and a page written by every batch was copied
    and synced every time, a fifth of a 100,000-order import's write; with 16,384, 31
    checkpoints took 3.1 s of it; with 65,536, 8 took 1.8 s.

    The setting is this connection's: another connection committing meanwhile (a web
    request) still copies the log back once it holds 1,000 pages, so it may pay for copying
    what the write has added since the last copy. Other databases, and SQLite outside WAL
    mode, are left as they are.
    """
    connection = connections[using]
    kept = None  # the connection's own settings, put back at the end
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            if cursor.fetchone()[0].lower() == "wal":
                kept = {name: _pragma(cursor, name) for name in _LONG_WRITE_PRAGMAS}
                cursor.execute(f"PRAGMA wal_autocheckpoint = {LONG_WRITE_WAL_PAGES:d}")
                # The log is not cut back each time it starts over within the write.
                cursor.execute("PRAGMA journal_size_limit = -1")
    try:
        yield
    finally:
        if kept is not None:
            _long_write_ended(connection, kept)


_LONG_WRITE_PRAGMAS = ("wal_autocheckpoint", "journal_size_limit")


def _long_write_ended(connection, kept: dict[str, int]) -> None:
    """Put the connection's settings back and copy the log back (not possible inside a
    transaction: the next checkpoint does it). A connection that cannot take them (the
    write failed on it) is closed: the next use opens one with the settings' own, and the
    write's own error is the one raised."""
    try:
        with connection.cursor() as cursor:
            for name, value in kept.items():
                cursor.execute(f"PRAGMA {name} = {value:d}")
            if not connection.in_atomic_block:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except DatabaseError:
        connection.close()


def _pragma(cursor, name: str) -> int:
    cursor.execute(f"PRAGMA {name}")
    return int(cursor.fetchone()[0])


def plan_checks_afresh(using: str) -> None:
    """Before a batch write on PostgreSQL, drop the connection's cached plans (DISCARD PLANS).

    PostgreSQL plans each foreign-key check once for the connection and keeps that plan
    until the table's statistics change. Planned while the table was nearly empty, a check
    reads the whole table for every row written: a store filling up from empty (an import,
    the bulk API) slowed with every batch until autovacuum's next ANALYZE (a line item's
    check of its order read all orders). Planned again, the checks use the primary key.
    """
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DISCARD PLANS")
