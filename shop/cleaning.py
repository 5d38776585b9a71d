"""Model.full_clean() with a model's check constraints checked in one query.

Django checks each CheckConstraint with a query of its own, inside a savepoint, annotating
every field of the record for each: an order's six constraints cost eighteen queries and most
of an order import's time. Here the record's fields are annotated once and every check
constraint is one boolean column of one query; the rules, messages and exclusions are
Django's (a constraint naming an excluded field is skipped, as Model.validate_constraints
does).
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, FieldError, ValidationError
from django.db import DatabaseError, connections, models, router, transaction
from django.db.models import BooleanField, CheckConstraint, Q, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.db.models.sql import Query
from django.db.models.sql.constants import SINGLE

from core import inserts

from .models import cleaned_once


def full_clean(instance: models.Model, *, exclude: Iterable[str] = ()) -> None:
    """Model.full_clean(exclude=...), its constraints checked by validate_constraints()."""
    excluded = set(exclude)
    queued = _deferred.get()
    if queued is not None:
        _full_clean_deferred(instance, excluded, queued)
        return
    errors: dict = {}
    try:
        instance.full_clean(exclude=excluded, validate_constraints=False)
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    # As Django does: constraints are checked only on the fields that passed validation.
    excluded |= {name for name in errors if name != NON_FIELD_ERRORS}
    try:
        validate_constraints(instance, exclude=excluded)
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def validate_constraints(instance: models.Model, *, exclude: Iterable[str] = ()) -> None:
    """Model.validate_constraints(exclude=...), with the check constraints in one query."""
    excluded = set(exclude)
    using = router.db_for_write(type(instance), instance=instance)
    errors: dict = {}
    for model_class, constraints in instance.get_constraints():
        checks = [c for c in constraints if isinstance(c, CheckConstraint)]
        failing = _failing_checks(model_class, instance, checks, excluded, using)
        for constraint in constraints:
            try:
                if isinstance(constraint, CheckConstraint):
                    if constraint in failing:
                        raise ValidationError(
                            constraint.get_violation_error_message(),
                            code=constraint.violation_error_code,
                        )
                else:
                    other: Any = constraint
                    other.validate(model_class, instance, exclude=excluded, using=using)
            except ValidationError as exc:
                fields: tuple[str, ...] = tuple(getattr(constraint, "fields", ()))
                if getattr(exc, "code", None) == "unique" and len(fields) == 1:
                    errors.setdefault(fields[0], []).append(exc)
                else:
                    errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def _failing_checks(model_class, instance, checks, excluded, using) -> list[CheckConstraint]:
    """The check constraints the instance's values break (Q.check's query, for all at once)."""
    if not checks:
        return []
    connection = connections[using]
    if not connection.features.supports_comparing_boolean_expr:
        return _failing_one_by_one(model_class, instance, checks, excluded, using)
    query = Query(None)
    against = instance._get_field_expression_map(meta=model_class._meta, exclude=excluded)
    for name, value in against.items():
        if not hasattr(value, "resolve_expression"):
            value = Value(value)
        query.add_annotation(value, name, select=False)
    checked: list[CheckConstraint] = []
    for constraint in checks:
        condition = Coalesce(Q(constraint.condition), True, output_field=BooleanField())
        try:
            query.add_annotation(condition, f"_check_{len(checked)}")
        except FieldError:
            continue  # It names an excluded field: not checked, as in Django.
        checked.append(constraint)
    if not checked:
        return []
    atomic = transaction.atomic(using=using) if connection.in_atomic_block else None
    try:
        if atomic is None:
            row = query.get_compiler(using=using).execute_sql(SINGLE)
        else:
            with atomic:
                row = query.get_compiler(using=using).execute_sql(SINGLE)
    except DatabaseError:
        return _failing_one_by_one(model_class, instance, checked, excluded, using)
    return [constraint for constraint, ok in zip(checked, row, strict=True) if not ok]


def _failing_one_by_one(model_class, instance, checks, excluded, using) -> list[CheckConstraint]:
    failing = []
    for constraint in checks:
        try:
            constraint.validate(model_class, instance, exclude=excluded, using=using)
        except ValidationError:
            failing.append(constraint)
    return failing


# Batches ---------------------------------------------------------------------------------
# A batch write (shop/bulk.py) runs the services' own prepare functions, so the rules keep one
# owner, inside `deferred()`: there full_clean() checks each record's fields in Python and
# queues its check constraints, which `failing_checks_of_batch()` then checks for the whole
# batch in one query per model. Related records are the ones the batch fetched (no query each)
# and unique values are the batch's natural keys, matched by the batch itself.

_deferred: ContextVar[dict[int, tuple[models.Model, set[str]]] | None] = ContextVar(
    "deferred_checks", default=None
)


@contextmanager
def deferred() -> Iterator[dict[int, tuple[models.Model, set[str]]]]:
    """Queue the check constraints full_clean() would query, instead of querying them."""
    queued: dict[int, tuple[models.Model, set[str]]] = {}
    token = _deferred.set(queued)
    try:
        with cleaned_once():
            yield queued
    finally:
        _deferred.reset(token)


def _full_clean_deferred(instance, excluded: set[str], queued) -> None:
    # A relation the batch fetched is known to exist (ForeignKey.validate would query it).
    fetched = {
        field.name
        for field in instance._meta.concrete_fields
        if field.is_relation and field.is_cached(instance)
    }
    errors: dict = {}
    try:
        instance.full_clean(
            exclude=excluded | fetched, validate_unique=False, validate_constraints=False
        )
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    excluded = excluded | {name for name in errors if name != NON_FIELD_ERRORS}
    # Queued once per record: what any of its calls checks (a later call may check fields an
    # earlier one left out, as an order's totals).
    _, before = queued.get(id(instance), (instance, None))
    queued[id(instance)] = (instance, excluded if before is None else before & excluded)
    if errors:
        raise ValidationError(errors)


def failing_checks_of_batch(
    queued: Iterable[tuple[models.Model, set[str]]], *, max_params: int = 20_000
) -> dict[int, list[CheckConstraint]]:
    """The check constraints each queued instance breaks, by id(instance).

    Per model, one query: the records' values as a table named like the model's own (a WITH
    of VALUES shadows it; on PostgreSQL, of UNNEST, an array a column), and each check
    constraint's condition compiled by Django against that table, one boolean column each
    (split only past `max_params` parameters). A constraint naming a field excluded for a
    record is not checked for it, as in Django.
    """
    by_model: dict[Any, list[Any]] = {}
    for instance, excluded in queued:
        by_model.setdefault(type(instance), []).append((instance, excluded))
    failing: dict[int, list[CheckConstraint]] = {}
    for model_class, entries in by_model.items():
        checks = [c for c in model_class._meta.constraints if isinstance(c, CheckConstraint)]
        if not checks:
            continue
        using = router.db_for_write(model_class)
        connection = connections[using]
        select, select_params = _checks_select(model_class, checks, using)
        names = [_referenced(c) for c in checks]
        # Only the columns the conditions name: an order's checks read 9 of its 20.
        named_columns = set().union(*names)
        converters = [
            c for c in inserts.converters(model_class, using) if c.field.name in named_columns
        ]
        fields: list[Any] = [c.field for c in converters]
        qn = connection.ops.quote_name
        table = qn(model_class._meta.db_table)
        columns = ", ".join([qn("_row"), *(qn(f.column) for f in fields)])
        casts = [f"CAST(%s AS {f.cast_db_type(connection)})" for f in fields]
        arrays = inserts.array_types(fields, connection)
        if arrays is not None:
            # PostgreSQL: one array a column (a short statement), each cast as VALUES would be.
            named = ", ".join(qn(f"_{i}") for i in range(len(fields)))
            unnest = ", ".join(["%s::integer[]", *(f"%s::{t}[]" for t in arrays)])
            relation = (
                f"SELECT {qn('_row')}, {', '.join(c % qn(f'_{i}') for i, c in enumerate(casts))} "
                f"FROM UNNEST({unnest}) AS {qn('_values')} ({qn('_row')}, {named})"
            )
        row_sql = "(%s, " + ", ".join(casts) + ")"
        per_row = len(fields) + 1
        size = max(1, max_params // per_row)
        for start in range(0, len(entries), size):
            chunk = entries[start : start + size]
            rows = [
                [index, *inserts.db_values(instance, converters, pre_save=False)]
                for index, (instance, _) in enumerate(chunk)
            ]
            if arrays is not None:
                params = [list(column) for column in zip(*rows, strict=True)]
            else:
                params = [value for row in rows for value in row]
                relation = f"VALUES {', '.join([row_sql] * len(chunk))}"
            sql = f"WITH {table} ({columns}) AS ({relation}) {select}"
            with connection.cursor() as cursor:
                cursor.execute(sql, [*params, *select_params])
                for row in cursor.fetchall():
                    instance, excluded = chunk[row[0]]
                    bad = [
                        check
                        for check, ok, named in zip(checks, row[1:], names, strict=True)
                        if not ok and not (named & excluded)
                    ]
                    if bad:
                        failing[id(instance)] = bad
    return failing


def _referenced(constraint: CheckConstraint) -> set[str]:
    return set(Q(constraint.condition).referenced_base_fields)


def _checks_select(model_class, checks: list[CheckConstraint], using: str) -> tuple[str, tuple]:
    """SELECT "_row", <each condition> FROM <the model's table>, as Django compiles it."""
    connection = connections[using]
    row = RawSQL(
        f"{connection.ops.quote_name(model_class._meta.db_table)}.{connection.ops.quote_name('_row')}",
        (),
    )
    annotations = {"_row_": row} | {
        f"_check_{i}": Coalesce(Q(c.condition), True, output_field=BooleanField())
        for i, c in enumerate(checks)
    }
    queryset = (
        model_class._base_manager.using(using)
        .annotate(**annotations)
        .order_by()
        .values_list(*annotations)
    )
    sql, params = queryset.query.get_compiler(using=using).as_sql()
    return sql, tuple(params)
