import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from werkzeug import Response

from feeds.builders import build_payload
from feeds.models import FeedToken
from feeds.tokens import feed_token_create, feed_token_revoke
from push.delivery import deliver_due
from push.models import PushEvent, PushState
from push.tokens import push_token_missing, push_token_store
from shop import services
from tests.factories import CustomerFactory, OrderFactory, ProductFactory

TOKEN = "cvin-push-token-0123456789"
Status = PushEvent.Status


def feed_item(endpoint: str, record_id: int) -> dict:
    data = build_payload(endpoint, per_page=1000)["data"]
    return next(item for item in data if item["id"] == record_id)


def received(httpserver) -> list[tuple[str, dict, dict]]:
    return [
        (request.path.removeprefix("/api/webhooks/api/"), dict(request.headers), request.json)
        for request, _ in httpserver.log
    ]


def accept_all(httpserver, status: int = 200):
    httpserver.expect_request("/api/webhooks/api/", method="POST").respond_with_data("")
    for prefix in ("orders", "customers", "products", "collections"):
        for action in ("create", "update", "delete"):
            httpserver.expect_request(f"/api/webhooks/api/{prefix}/{action}").respond_with_data(
                "ok", status=status
            )


def deliver_all():
    while deliver_due():
        pass


# The outbox ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_service_write_writes_its_events_in_one_insert(store):
    customer = CustomerFactory()
    with CaptureQueriesContext(connection) as queries:
        services.customer_update(customer=customer, first_name="Mona")
    pushing = [q["sql"] for q in queries if "push_" in q["sql"]]
    assert len(pushing) == 1
    assert pushing[0].startswith("INSERT")
    assert list(PushEvent.objects.order_by("id").values_list("entity", "record_id", "action")) == [
        ("customers", customer.pk, "update")
    ]


@pytest.mark.django_db
def test_an_order_write_pushes_its_customer_too(store):
    order = OrderFactory()
    services.order_soft_delete(order=order)
    services.order_restore(order=order)
    events = list(
        PushEvent.objects.filter(entity__in=["orders", "customers"])
        .order_by("id")
        .values_list("entity", "record_id", "action")
    )
    assert events == [
        ("orders", order.pk, "create"),
        ("customers", order.customer_id, "update"),
        ("orders", order.pk, "delete"),
        ("customers", order.customer_id, "update"),
        ("orders", order.pk, "create"),
        ("customers", order.customer_id, "update"),
    ]


@pytest.mark.django_db
def test_a_rolled_back_write_leaves_no_event(store):
    customer = CustomerFactory()

    def write_then_fail():
        with transaction.atomic():
            services.customer_update(customer=customer, first_name="Gone")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert not PushEvent.objects.exists()


# Delivery -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_entity_and_action_goes_out_as_the_feeds_item(receiver):
    accept_all(receiver)
    category = services.category_create(title="Cakes", handle="cakes", available=True)
    product = ProductFactory(category=category)
    services.product_update(product=product, title="Chocolate cake")
    customer = CustomerFactory()
    order = OrderFactory(customer=customer, line_items=[services.LineItemInput(product, 2)])
    deliver_all()
    sent = received(receiver)
    expected = {
        ("collections/create", category.pk): feed_item("categories", category.pk),
        ("products/update", product.pk): feed_item("products", product.pk),
        ("orders/create", order.pk): feed_item("orders", order.pk),
        ("customers/update", customer.pk): feed_item("customers", customer.pk),
    }
    assert {(topic, body["id"]): body for topic, _, body in sent} == expected
    for _, headers, _ in sent:
        assert headers["Content-Type"] == "application/json"
        assert headers["Token"] == TOKEN
        assert headers["X-Shop-Domain"] == "cake-store.example.com"
    assert set(PushEvent.objects.values_list("status", flat=True)) == {Status.DELIVERED}

    receiver.clear_log()
    services.order_soft_delete(order=order)
    deliver_all()
    topics = {topic: body for topic, _, body in received(receiver)}
    assert topics["orders/delete"]["id"] == order.pk
    assert topics["orders/delete"]["line_items"][0]["quantity"] == 2
    assert topics["customers/update"] == feed_item("customers", customer.pk)


@pytest.mark.django_db
def test_waiting_changes_of_a_record_go_out_as_one_push_of_its_latest_item(receiver):
    accept_all(receiver)
    customer = services.customer_create(email="a@example.com", first_name="A", last_name="B")
    services.customer_update(customer=customer, first_name="Latest")
    deliver_all()
    [(topic, _, body)] = received(receiver)
    assert topic == "customers/create"
    assert body == feed_item("customers", customer.pk)
    assert body["first_name"] == "Latest"


@pytest.mark.django_db
def test_a_server_error_is_retried_later_then_delivered(receiver):
    accept_all(receiver, status=500)
    customer = services.customer_create(email="a@example.com", first_name="A", last_name="B")
    before = timezone.now()
    deliver_all()
    event = PushEvent.objects.get()
    assert (event.status, event.attempts, event.last_status) == (Status.PENDING, 1, 500)
    assert event.due_at >= before + timedelta(seconds=8)
    receiver.clear()
    accept_all(receiver)
    PushEvent.objects.update(due_at=timezone.now())
    deliver_all()
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_status) == (Status.DELIVERED, 2, 200)
    assert received(receiver)[0][2] == feed_item("customers", customer.pk)


@pytest.mark.django_db
def test_a_429_waits_as_long_as_retry_after_says(receiver):
    receiver.expect_request("/api/webhooks/api/customers/create").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "120"})
    )
    services.customer_create(email="a@example.com", first_name="A", last_name="B")
    before = timezone.now()
    deliver_all()
    event = PushEvent.objects.get()
    assert event.status == Status.PENDING
    assert event.due_at >= before + timedelta(seconds=119)


@pytest.mark.django_db
def test_retries_run_out_then_the_event_fails(receiver):
    accept_all(receiver, status=503)
    services.customer_create(email="a@example.com", first_name="A", last_name="B")
    for _ in range(3):
        PushEvent.objects.update(due_at=timezone.now())
        deliver_all()
    event = PushEvent.objects.get()
    assert (event.status, event.attempts) == (Status.FAILED, 3)


@pytest.mark.django_db
def test_a_receiver_down_or_hanging_is_retried(receiver, settings):
    def hang(request):
        time.sleep(1.5)  # past the read timeout of the test settings
        return Response("late")

    receiver.expect_request("/api/webhooks/api/customers/create").respond_with_handler(hang)
    services.customer_create(email="a@example.com", first_name="A", last_name="B")
    deliver_all()
    event = PushEvent.objects.get()
    assert (event.status, event.last_error, event.error_class) == (
        Status.PENDING,
        "The answer took longer than 1 s",
        "AnswerTooSlow",
    )

    settings.CONVERTEDIN_WEBHOOK_URL = "http://127.0.0.1:9/"  # nothing listens
    PushEvent.objects.update(due_at=timezone.now())
    deliver_all()
    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.PENDING, 2)
    assert event.last_error == "Could not connect to 127.0.0.1: connection refused"
    assert event.error_class == "ConnectionError"


@pytest.mark.django_db
def test_other_client_errors_fail_at_once_with_the_answer_kept(receiver):
    receiver.expect_request("/api/webhooks/api/customers/create").respond_with_data(
        "bad body", status=422
    )
    services.customer_create(email="a@example.com", first_name="A", last_name="B")
    deliver_all()
    event = PushEvent.objects.get()
    assert (event.status, event.last_status, event.last_answer) == (Status.FAILED, 422, "bad body")
    assert event.last_error == "localhost answered HTTP 422: bad body"


@pytest.mark.django_db
def test_a_refused_token_pauses_pushing(receiver):
    receiver.expect_request("/api/webhooks/api/customers/create").respond_with_data(
        "no", status=401
    )
    services.customer_create(email="a@example.com", first_name="A", last_name="B")
    deliver_all()
    assert PushState.load().paused == PushState.Pause.REFUSED
    event = PushEvent.objects.get()
    assert (event.status, event.attempts) == (Status.PENDING, 0)
    receiver.clear_log()
    deliver_all()
    assert received(receiver) == []


@pytest.mark.django_db
def test_a_revoked_token_stops_pushes(receiver):
    accept_all(receiver)
    feed_token_revoke(token=PushState.load().token)
    services.customer_create(email="a@example.com", first_name="A", last_name="B")
    deliver_all()
    assert received(receiver) == []
    assert PushEvent.objects.get().status == Status.PENDING


@pytest.mark.django_db
def test_a_token_stored_before_pushing_must_be_pasted_again(store):
    feed_token_create(name="old", token=TOKEN)
    assert push_token_missing()
    assert PushState.load().token_ciphertext == ""
    push_token_store(token_row=FeedToken.objects.get(), token=TOKEN)
    assert not push_token_missing()
    assert TOKEN not in PushState.load().token_ciphertext


@pytest.mark.django_db
def test_the_pump_delivers_and_leaves_its_successor_waiting(receiver, settings):
    from django_tasks_db.models import DBTaskResult

    from push.tasks import pump, pump_start

    settings.PUSH_PUMP_SECONDS = 0.3
    settings.PUSH_POLL_SECONDS = 0.05
    accept_all(receiver)
    services.customer_create(email="a@example.com", first_name="A", last_name="B")
    assert pump.call() == 1
    assert PushEvent.objects.get().status == Status.DELIVERED
    waiting = DBTaskResult.objects.filter(task_path=pump.module_path, status="READY")
    assert waiting.count() == 1
    pump_start()  # one waits already: no second chain
    assert waiting.count() == 1
