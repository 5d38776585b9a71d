"""The pump starts itself and runs as one chain; a stalled worker shows on /healthz and the page.

The workers themselves run in tests/push/test_worker*.py; here the pump is called in-process on
the database backend, and the lease lives in the suite's cache (the database, or Redis).
"""

import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import dateformat, timezone
from django_tasks_db.models import DBTaskResult

from feeds.tokens import feed_token_create, feed_token_revoke
from push.models import PushEvent, PushState
from push.tasks import LEASE_KEY, pump, pump_ensure, stalled_since
from push.tokens import push_token_store
from shop import services, signals
from shop.models import Store

TOKEN = "cvin-push-token-0123456789"
PAGE = "/admin/convertedin/"
Status = PushEvent.Status


def waiting_pumps() -> list[list]:
    return [
        r.args_kwargs["args"]
        for r in DBTaskResult.objects.filter(task_path=pump.module_path, status="READY")
    ]


@pytest.fixture
def connected(store):
    push_token_store(token_row=feed_token_create(name="c", token=TOKEN), token=TOKEN)


# One chain ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_transaction_of_many_writes_asks_for_a_pump_once(
    store, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for n in range(20):
            services.customer_create(email=f"c{n}@example.com", first_name="A", last_name="B")
    assert len(callbacks) == 1
    [args] = waiting_pumps()
    assert args == [cache.get(LEASE_KEY)]


@pytest.mark.django_db(transaction=True)
def test_writes_start_one_pump_however_many_they_are(store):
    for n in range(20):
        services.customer_create(email=f"c{n}@example.com", first_name="A", last_name="B")
    assert PushEvent.objects.count() == 20
    [args] = waiting_pumps()
    assert args == [cache.get(LEASE_KEY)]


@pytest.mark.django_db
def test_a_bulk_load_starts_no_pump(store, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        signals.bulk_load_started.send(sender=None)
        try:
            services.customer_create(email="a@example.com", first_name="A", last_name="B")
        finally:
            signals.bulk_load_finished.send(sender=None)
    assert callbacks == []
    assert waiting_pumps() == []


@pytest.mark.django_db
def test_a_second_chain_ends_without_a_successor(store, settings):
    settings.PUSH_PUMP_SECONDS = 0.1
    assert pump_ensure()
    [[chain]] = waiting_pumps()
    assert not pump_ensure()
    assert pump.call("another-chain") == 0
    assert waiting_pumps() == [[chain]]
    assert pump.call(chain) == 0  # nothing to send, but the chain goes on
    assert waiting_pumps() == [[chain], [chain]]


@pytest.mark.django_db
def test_a_pump_enqueued_without_a_chain_joins_a_free_lease_and_ends_on_a_held_one(store, settings):
    settings.PUSH_PUMP_SECONDS = 0.1
    pump.call()
    [[chain]] = waiting_pumps()
    assert cache.get(LEASE_KEY) == chain
    pump.call()
    assert waiting_pumps() == [[chain]]


@pytest.mark.django_db
def test_a_lapsed_lease_is_taken_over_by_the_chain_that_comes_first(store, settings):
    settings.PUSH_PUMP_SECONDS = 0.1
    assert pump_ensure()
    [[old]] = waiting_pumps()
    cache.delete(LEASE_KEY)  # the lease lapsed while the old chain's pump waited
    assert pump_ensure()
    new = cache.get(LEASE_KEY)
    assert pump.call(old) == 0
    assert cache.get(LEASE_KEY) == new
    assert sorted(waiting_pumps()) == sorted([[old], [new]])  # the old one ends here


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", ["database", "redis"])
def test_concurrent_triggers_enqueue_one_pump(store, settings, backend, request):
    if backend == "redis":
        url = request.getfixturevalue("redis_url")
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
        }
    elif connection.vendor == "sqlite":
        pytest.skip("the in-memory SQLite test database takes one writer at a time")
    start = threading.Barrier(20)
    enqueued = []

    def trigger():
        start.wait(10)
        try:
            enqueued.append(pump_ensure())
        finally:
            connection.close()

    threads = [threading.Thread(target=trigger) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert enqueued.count(True) == 1
    assert len(waiting_pumps()) == 1
    cache.clear()


# Stalled --------------------------------------------------------------------------------


def _waiting(seconds_due: float, status=Status.PENDING) -> PushEvent:
    return PushEvent.objects.create(
        entity="customers",
        record_id=1,
        action="update",
        status=status,
        due_at=timezone.now() - timedelta(seconds=seconds_due),
    )


@pytest.mark.django_db
def test_stalled_when_a_change_waits_long_and_none_was_delivered(connected, settings):
    settings.PUSH_STALL_SECONDS = 180
    assert stalled_since() is None
    _waiting(100)
    assert stalled_since() is None  # due for less than PUSH_STALL_SECONDS
    old = _waiting(200)
    _waiting(300, status=Status.DELIVERED)
    assert stalled_since() == old.due_at
    lost = _waiting(400, status=Status.SENDING)  # its worker died, none took it again
    assert stalled_since() == lost.due_at


@pytest.mark.django_db
def test_not_stalled_while_a_worker_delivers_a_backlog(connected):
    _waiting(1000)
    PushEvent.objects.create(
        entity="customers",
        record_id=2,
        action="update",
        status=Status.DELIVERED,
        finished_at=timezone.now() - timedelta(seconds=5),
    )
    assert stalled_since() is None


@pytest.mark.django_db
def test_not_stalled_while_pushing_is_paused_or_has_no_token(store):
    _waiting(1000)
    assert stalled_since() is None  # no token
    row = feed_token_create(name="c", token=TOKEN)
    push_token_store(token_row=row, token=TOKEN)
    assert stalled_since() is not None
    PushState.objects.filter(pk=1).update(paused=PushState.Pause.MANUAL)
    assert stalled_since() is None
    PushState.objects.filter(pk=1).update(paused="")
    feed_token_revoke(token=row)
    assert stalled_since() is None


@pytest.mark.django_db
def test_healthz_reports_a_stalled_push_in_one_query(client, connected, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert client.get("/healthz").json()["push"] == {"stalled": False, "stalled_since": None}
    event = _waiting(1000)
    with django_assert_num_queries(1):
        response = client.get("/healthz")
    assert response.status_code == 200
    push = response.json()["push"]
    assert push["stalled"] is True
    assert push["stalled_since"] == event.due_at.isoformat()


@pytest.mark.django_db
def test_the_connection_page_says_in_words_that_no_worker_delivers(
    staff_client, connected, settings
):
    clerk = staff_client("view_feedtoken", "view_pushevent")
    assert 'id="push-stalled"' not in clerk.get(PAGE).content.decode()
    event = _waiting(1000)
    _waiting(500)
    page = clerk.get(PAGE).content.decode()
    since = dateformat.format(
        timezone.localtime(event.due_at, ZoneInfo(Store.load().time_zone)), "Y-m-d H:i T"
    )
    assert (
        f"2 changes have waited since {since}: no worker is delivering them.</strong> "
        "Start one with <code>python manage.py db_worker</code>."
    ) in page
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]},
    }
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0"}}
    assert "python manage.py rqworker --with-scheduler default" in clerk.get(PAGE).content.decode()


@pytest.mark.django_db
def test_a_cache_outage_does_not_end_the_chain(store, settings, tmp_path):
    settings.PUSH_PUMP_SECONDS = 0.1
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"unix://{tmp_path}/no-redis-here.sock",
        }
    }
    assert pump.call("a-chain") == 0
    assert waiting_pumps() == [["a-chain"]]
