"""A deadline for the statements of one API read: an expensive combination of filters is
cut short and answered 503, instead of holding a worker (and the database) for minutes."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import OperationalError, connection, transaction

from .exceptions import QueryTimeout

# PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout.
QUERY_CANCELED = "57014"
# SQLite calls the progress handler every this many virtual machine instructions.
SQLITE_STEPS = 10_000


def timeout_seconds() -> float:
    return float(settings.API_QUERY_TIMEOUT_SECONDS)


def _set_local_timeout(seconds: float) -> None:
    with connection.cursor() as cursor:
        milliseconds = max(1, round(seconds * 1000))
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{milliseconds}"])


@contextmanager
def _postgresql(seconds: float) -> Iterator[None]:
    # SET LOCAL lasts until the transaction ends, so no later request on this connection
    # inherits it, whatever happens in between.
    if connection.in_atomic_block:
        # Already in a transaction (the tests'): the limit holds until that one ends.
        _set_local_timeout(seconds)
        yield
        return
    with transaction.atomic():
        _set_local_timeout(seconds)
        yield


@contextmanager
def _sqlite(seconds: float, state: dict) -> Iterator[None]:
    connection.ensure_connection()
    raw = connection.connection
    deadline = time.monotonic() + seconds

    def past_deadline() -> int:
        # A non-zero answer makes SQLite abort the statement with "interrupted".
        state["passed"] = time.monotonic() > deadline
        return int(state["passed"])

    raw.set_progress_handler(past_deadline, SQLITE_STEPS)
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)


@contextmanager
def query_deadline() -> Iterator[None]:
    """Stop the block's statements after API_QUERY_TIMEOUT_SECONDS and raise QueryTimeout.

    PostgreSQL stops any one statement that runs that long (statement_timeout); SQLite stops
    the block's statements once that long has passed since the block began.
    """
    seconds = timeout_seconds()
    state = {"passed": False}
    if connection.vendor == "postgresql":
        limit = _postgresql(seconds)
    elif connection.vendor == "sqlite":
        limit = _sqlite(seconds, state)
    else:  # pragma: no cover - the app runs on PostgreSQL and SQLite only
        yield
        return
    try:
        with limit:
            yield
    except OperationalError as exc:
        cancelled = getattr(exc.__cause__, "sqlstate", None) == QUERY_CANCELED
        if not (cancelled or state["passed"]):
            raise
        raise QueryTimeout(seconds) from exc
