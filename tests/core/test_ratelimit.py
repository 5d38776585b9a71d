"""The rate limiter's counter on each backend: the database (SQLite or PostgreSQL, as the suite
runs) and Redis."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import IntegrityError, connection, connections
from django.test import Client

from core import ratelimit
from core.models import RateLimitCount


@pytest.fixture(params=["database", "redis"])
def backend(request, settings):
    """Point the rate limiter at the database or at the throwaway Redis."""
    if request.param == "redis":
        settings.RATELIMIT_REDIS_URL = request.getfixturevalue("redis_url")
    else:
        settings.RATELIMIT_REDIS_URL = ""
    return request.param


def _fresh_window(window: int, need: float) -> None:
    """Wait, at most `need` seconds, until at least `need` seconds of the window are left."""
    left = window - time.time() % window
    if left < need:
        time.sleep(left + 0.01)


def test_each_hit_counts_one_and_passes_up_to_the_limit(db, backend):
    _fresh_window(60, 5)
    verdicts = [ratelimit.hit("k", limit=3, window=60) for _ in range(5)]
    assert [v.count for v in verdicts] == [1, 2, 3, 4, 5]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert all(1 <= v.retry_after <= 60 for v in verdicts)


def test_keys_and_window_lengths_count_apart(db, backend):
    _fresh_window(60, 5)
    ratelimit.hit("a", limit=1, window=60)
    assert ratelimit.hit("b", limit=1, window=60).allowed
    assert not ratelimit.hit("a", limit=1, window=60).allowed
    assert ratelimit.hit("a", limit=1, window=3600 * 24 * 365).count == 1


def test_a_new_window_starts_from_zero(db, backend):
    _fresh_window(2, 1)
    assert ratelimit.hit("k", limit=1, window=2).allowed
    assert not ratelimit.hit("k", limit=1, window=2).allowed
    time.sleep(2 - time.time() % 2 + 0.05)
    assert ratelimit.hit("k", limit=1, window=2).count == 1


def test_take_back_undoes_one_hit(db, backend):
    _fresh_window(60, 5)
    ratelimit.hit("k", limit=2, window=60)
    second = ratelimit.hit("k", limit=2, window=60)
    ratelimit.take_back(second)
    assert ratelimit.hit("k", limit=2, window=60).count == 2


def test_taking_back_a_count_that_is_gone_leaves_no_count_behind(db, backend):
    _fresh_window(2, 1)
    verdict = ratelimit.hit("k", limit=1, window=2)
    ratelimit.reset("k", window=2)
    ratelimit.take_back(verdict)
    ratelimit.take_back(verdict)
    assert ratelimit.hit("k", limit=1, window=2).count == 1


def test_reset_forgets_the_window(db, backend):
    _fresh_window(60, 5)
    for _ in range(3):
        ratelimit.hit("k", limit=2, window=60)
    ratelimit.reset("k", window=60)
    assert ratelimit.hit("k", limit=2, window=60).count == 1


def test_a_key_longer_than_the_column_is_counted_by_its_hash(db, backend):
    _fresh_window(60, 5)
    long = "x" * 500
    assert ratelimit.hit(long, limit=1, window=60).count == 1
    assert ratelimit.hit(long, limit=1, window=60).count == 2
    assert ratelimit.hit(long + "y", limit=1, window=60).count == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_hits_pass_exactly_the_limit(backend):
    """40 threads, each with its own database connection, hit one key limited to 20."""
    if backend == "database" and connection.vendor == "sqlite":
        pytest.skip(
            "the in-memory SQLite test database locks whole tables between threads; "
            "tests/core/test_limits_live.py runs SQLite in a file behind real servers"
        )
    _fresh_window(60, 15)
    start = threading.Barrier(40, timeout=30)

    def one(_):
        try:
            start.wait()
            return ratelimit.hit("burst", limit=20, window=60)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=40) as pool:
        verdicts = list(pool.map(one, range(40), timeout=60))
    assert sorted(v.count for v in verdicts) == list(range(1, 41))
    assert sum(v.allowed for v in verdicts) == 20


# The database backend ------------------------------------------------------------------


def test_a_hit_in_the_database_is_one_statement(db, settings, django_assert_num_queries):
    settings.RATELIMIT_REDIS_URL = ""
    _fresh_window(60, 5)
    ratelimit.hit("k", limit=5, window=60)
    with django_assert_num_queries(1) as captured:
        assert ratelimit.hit("k", limit=5, window=60).count == 2
    sql = captured.captured_queries[0]["sql"]
    assert "ON CONFLICT" in sql
    assert "RETURNING" in sql


def test_the_database_keeps_one_row_per_key_and_window(db):
    RateLimitCount.objects.create(key="k", window_start=60, count=1, expires_at=120)
    with pytest.raises(IntegrityError):
        RateLimitCount.objects.create(key="k", window_start=60, count=1, expires_at=120)


def test_new_rows_prune_the_ended_windows(db, settings):
    settings.RATELIMIT_REDIS_URL = ""
    settings.RATELIMIT_PRUNE_EVERY = 1
    _fresh_window(60, 5)
    RateLimitCount.objects.create(key="old", window_start=0, count=3, expires_at=60)
    ratelimit.hit("live", limit=5, window=60)
    ratelimit.hit("new", limit=5, window=60)
    assert sorted(RateLimitCount.objects.values_list("key", flat=True)) == ["live", "new"]


def test_pruning_can_be_turned_off(db, settings):
    settings.RATELIMIT_REDIS_URL = ""
    settings.RATELIMIT_PRUNE_EVERY = 0
    RateLimitCount.objects.create(key="old", window_start=0, count=3, expires_at=60)
    ratelimit.hit("new", limit=5, window=60)
    assert RateLimitCount.objects.filter(key="old").exists()
    assert ratelimit.prune() == 1
    assert not RateLimitCount.objects.filter(key="old").exists()


def test_the_database_is_new_enough_for_upserts_returning_rows(db):
    if connection.vendor == "sqlite":
        assert connection.Database.sqlite_version_info >= (3, 35)
    else:
        assert connection.vendor == "postgresql"


# Redis ---------------------------------------------------------------------------------


def test_redis_keys_expire_when_their_window_ends(settings, redis_url):
    import redis

    settings.RATELIMIT_REDIS_URL = redis_url
    verdict = ratelimit.hit("k", limit=5, window=60)
    client = redis.Redis.from_url(redis_url)
    keys = client.keys(f"{ratelimit.REDIS_PREFIX}*")
    assert keys == [f"{ratelimit.REDIS_PREFIX}k:{verdict.window_start}".encode()]
    assert 0 < client.ttl(keys[0]) <= 61


# Redis out of reach ---------------------------------------------------------------------


@pytest.fixture
def redis_down(settings, tmp_path):
    settings.RATELIMIT_REDIS_URL = f"unix://{tmp_path}/no-redis.sock"


def test_without_redis_a_hit_is_refused_not_passed(redis_down):
    with pytest.raises(ratelimit.CounterUnavailable):
        ratelimit.hit("k", limit=5, window=60)


def test_without_redis_the_api_answers_503_in_its_shape(redis_down, store):
    from shop.api.services import api_key_create

    _, raw = api_key_create(name="ERP", scopes=["customers.read"])
    response = Client().get("/api/v1/customers", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.json()
    assert (body["status"], body["code"]) == (503, "rate_limit_unavailable")


def test_without_redis_a_wrong_feed_token_is_answered_503(redis_down, db):
    response = Client().post("/convertedin/orders", {"token": "not-the-right-token"})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["message"].startswith("Requests cannot be counted")


def test_without_redis_the_admin_login_checks_no_password(redis_down, django_user_model):
    django_user_model.objects.create_superuser("boss", "", "right-password-123")
    client = Client()
    response = client.post("/admin/login/", {"username": "boss", "password": "right-password-123"})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "_auth_user_id" not in client.session
