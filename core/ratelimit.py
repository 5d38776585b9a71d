"""Fixed-window rate limits counted atomically, so every worker process and thread sees one
count and decides on the count it wrote.

Each hit is one atomic operation that adds one and returns the new count: on Redis (when
settings.RATELIMIT_REDIS_URL is set; it defaults to REDIS_URL) INCR and EXPIREAT in one
MULTI/EXEC; otherwise, in the database, one
`INSERT … ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1 RETURNING count`
(SQLite 3.35 or later, PostgreSQL). A hit is allowed when the count it wrote is within the
limit, so at most `limit` hits of a key are allowed in a window whatever the concurrency.
Never read a count first and write it after: a burst would pass between the two.

Database rows of ended windows are deleted by every RATELIMIT_PRUNE_EVERY-th new row (by id);
Redis expires its keys itself.
"""

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connections, router
from rest_framework import exceptions, status

# A key longer than the column is stored as its hash.
MAX_KEY_LENGTH = 200
REDIS_PREFIX = "ratelimit:"
# Decrement a Redis count only while its window's key lives: a take-back arriving after the
# key expired must not leave a count of -1 behind without an expiry.
REDIS_TAKE_BACK = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class CounterUnavailable(exceptions.APIException):
    """Redis, where the counters are kept, cannot be reached: no request passes uncounted.

    An API exception, so the REST API and the feed answer it in their own shapes (503 with
    Retry-After); the admin's login answers it in words.
    """

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Requests cannot be counted against their limits right now. Try again shortly."
    default_code = "rate_limit_unavailable"
    wait = 5


@dataclass(frozen=True)
class Verdict:
    """The outcome of one hit: the count it wrote and whether that is within the limit."""

    allowed: bool
    count: int
    retry_after: int
    key: str
    window_start: int


def client_ip(request) -> str:
    """Return the client's address.

    X-Forwarded-For is believed only when settings.TRUSTED_PROXY_COUNT says how many
    proxies of ours stand in front of the app; otherwise a client could reset its own count
    by sending a new header with every request.
    """
    trusted = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    if trusted <= 0:
        return remote
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [p for p in forwarded if p]
    chain = [*forwarded, remote]
    # Our proxies append to the right: the client is the address the outermost one saw.
    index = max(len(chain) - 1 - trusted, 0)
    return chain[index]


def _stored_key(key: str) -> str:
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def _redis_url() -> str:
    return getattr(settings, "RATELIMIT_REDIS_URL", "") or ""


@lru_cache(maxsize=4)
def _redis(url: str) -> Any:
    import redis

    # One connection pool per process (redis-py opens a new one after a fork).
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


@contextmanager
def _redis_errors() -> Iterator[None]:
    import redis

    try:
        yield
    except redis.RedisError as exc:
        raise CounterUnavailable from exc


def _redis_key(key: str, window_start: int) -> str:
    return f"{REDIS_PREFIX}{key}:{window_start}"


def _model():
    # Imported when first used: the logging setup imports this module (client_ip) before the
    # app registry is ready.
    from .models import RateLimitCount

    return RateLimitCount


def _database_connection():
    return connections[router.db_for_write(_model())]


def _sql_names(connection) -> dict[str, str]:
    quote = connection.ops.quote_name
    return {
        "table": quote(_model()._meta.db_table),
        **{field: quote(field) for field in ("id", "key", "window_start", "count", "expires_at")},
    }


def _count_in_database(key: str, window_start: int, ends: int) -> int:
    connection = _database_connection()
    sql = (
        "INSERT INTO {table} ({key}, {window_start}, {count}, {expires_at}) "
        "VALUES (%s, %s, 1, %s) "
        "ON CONFLICT ({key}, {window_start}) DO UPDATE SET {count} = {table}.{count} + 1 "
        "RETURNING {id}, {count}"
    ).format(**_sql_names(connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, window_start, ends])
        row_id, count = cursor.fetchone()
    every = getattr(settings, "RATELIMIT_PRUNE_EVERY", 100)
    if count == 1 and every > 0 and row_id % every == 0:
        prune()
    return count


def _count_in_redis(url: str, key: str, window_start: int, ends: int) -> int:
    redis_key = _redis_key(key, window_start)
    with _redis_errors():
        pipe = _redis(url).pipeline(transaction=True)
        pipe.incr(redis_key)
        pipe.expireat(redis_key, ends + 1)
        count, _ = pipe.execute()
    return int(count)


def hit(key: str, *, limit: int, window: int) -> Verdict:
    """Count one hit for `key` and tell whether the count written is within `limit` per
    fixed `window` of seconds."""
    key = _stored_key(key)
    now = int(time.time())
    window_start = now // window * window
    ends = window_start + window
    url = _redis_url()
    if url:
        count = _count_in_redis(url, key, window_start, ends)
    else:
        count = _count_in_database(key, window_start, ends)
    return Verdict(count <= limit, count, max(1, ends - int(time.time())), key, window_start)


def take_back(verdict: Verdict) -> None:
    """Undo the hit that gave `verdict`, in the window it was counted in."""
    url = _redis_url()
    if url:
        with _redis_errors():
            _redis(url).eval(REDIS_TAKE_BACK, 1, _redis_key(verdict.key, verdict.window_start))
        return
    connection = _database_connection()
    sql = (
        "UPDATE {table} SET {count} = {count} - 1 "
        "WHERE {key} = %s AND {window_start} = %s AND {count} > 0"
    ).format(**_sql_names(connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, [verdict.key, verdict.window_start])


def reset(key: str, *, window: int) -> None:
    """Forget the hits of `key` in the current window."""
    key = _stored_key(key)
    window_start = int(time.time()) // window * window
    url = _redis_url()
    if url:
        with _redis_errors():
            _redis(url).delete(_redis_key(key, window_start))
        return
    _model().objects.filter(key=key, window_start=window_start).delete()


def prune() -> int:
    """Delete the database's counts of windows that have ended; return how many."""
    deleted, _ = _model().objects.filter(expires_at__lte=int(time.time())).delete()
    return deleted
