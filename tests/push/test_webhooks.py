"""Webhooks for the store's own systems: fan-out, Standard Webhooks messages, retries,
isolation of subscribers, target checks and disabling a failing subscriber."""

import itertools
import json
import socket
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks import Webhook

from push import webhooks
from push.models import PushEvent, PushState, WebhookDelivery, WebhookSubscription
from shop import services
from shop.api.services import api_key_create
from tests.factories import CustomerFactory, OrderFactory

Status = WebhookDelivery.Status


_n = itertools.count()


def new_product():
    n = next(_n)
    return services.product_create(title=f"Lamp {n}", handle=f"lamp-{n}", price=Decimal("9.50"))


def deliver_all() -> int:
    total = 0
    while tried := webhooks.deliver_due():
        total += tried
    return total


def subscribe(httpserver, path="/hooks", topics=webhooks.TOPICS):
    return webhooks.webhook_subscription_create(url=httpserver.url_for(path), topics=list(topics))


def received(httpserver, path="/hooks") -> list:
    return [request for request, _ in httpserver.log if request.path == path]


def api_get(entity: str, pk: int) -> dict:
    _, raw = api_key_create(
        name="reader", scopes=["customers.read", "orders.read", "products.read"]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.get(f"/api/v1/{entity}/{pk}")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
def test_messages_are_signed_per_the_spec_and_carry_what_the_api_answers(store, httpserver):
    httpserver.expect_request("/hooks", method="POST").respond_with_data("ok")
    subscription, secret = subscribe(httpserver)
    customer = CustomerFactory()
    order = OrderFactory(customer=customer)
    product = new_product()
    category = services.category_create(title="Lights", handle="lights")
    services.category_soft_delete(category=category)

    assert deliver_all() == WebhookDelivery.objects.count() > 0
    verifier = Webhook(secret)
    seen: dict[str, list] = {}
    for request in received(httpserver):
        headers = {k.lower(): v for k, v in request.headers.items()}
        payload = verifier.verify(request.get_data(), headers)  # raises when the signature fails
        assert set(payload) == {"type", "timestamp", "data"}
        assert headers["webhook-id"].startswith("msg_")
        seen.setdefault(payload["type"], []).append(payload["data"])

    assert seen["orders/create"] == [api_get("orders", order.pk)]
    assert api_get("customers", customer.pk) in seen["customers/update"]
    assert seen["products/create"] == [api_get("products", product.pk)]
    (deleted,) = seen["collections/delete"]
    assert deleted["id"] == category.pk
    assert deleted["deleted_at"] is not None  # a delete carries the record's last state
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {Status.DELIVERED}
    assert len({r.headers["webhook-id"] for r in received(httpserver)}) == len(seen_all(seen))


def seen_all(seen: dict) -> list:
    return [item for items in seen.values() for item in items]


@pytest.mark.django_db
def test_a_subscription_gets_its_topics_only_and_changes_made_after_it(store, httpserver):
    httpserver.expect_request("/hooks", method="POST").respond_with_data("ok")
    product = new_product()
    services.product_update(product=product, title="Older")  # before the subscription
    subscribe(httpserver, topics=["orders/create", "customers/delete", "products/update"])
    OrderFactory()
    services.customer_soft_delete(customer=CustomerFactory())
    new_product()

    deliver_all()
    types = sorted(json.loads(r.get_data())["type"] for r in received(httpserver))
    assert types == ["customers/delete", "orders/create"]
    assert not PushEvent.objects.filter(fanned_out=False).exists()


@pytest.mark.django_db
def test_a_retry_carries_the_same_id_and_a_fresh_valid_signature(store, httpserver, settings):
    subscription, secret = subscribe(httpserver, topics=["products/create"])
    httpserver.expect_ordered_request("/hooks").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/hooks").respond_with_data("ok")
    new_product()

    assert webhooks.deliver_due() == 1
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts, row.last_status) == (Status.PENDING, 1, 503)
    assert "answered HTTP 503: busy" in row.last_error
    assert row.due_at > timezone.now()  # waits for the retry delay
    assert webhooks.deliver_due() == 0

    WebhookDelivery.objects.update(due_at=timezone.now())
    assert webhooks.deliver_due() == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.DELIVERED, 2)
    first, second = received(httpserver)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == row.message_id
    for request in (first, second):
        Webhook(secret).verify(request.get_data(), dict(request.headers))


@pytest.mark.django_db
def test_retries_end_after_the_push_delays(store, httpserver, settings):
    settings.CONVERTEDIN_PUSH_RETRY_DELAYS = [1.0]
    subscribe(httpserver, topics=["products/create"])
    httpserver.expect_request("/hooks").respond_with_data("no", status=500)
    new_product()
    webhooks.deliver_due()
    WebhookDelivery.objects.update(due_at=timezone.now())
    webhooks.deliver_due()
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts) == (Status.FAILED, 2)
    assert row.finished_at is not None


def silent_server():
    """A TCP server that accepts and never answers: each try lasts the whole deadline."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list = []
    stop = threading.Event()

    def serve():
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return sock, stop, held


@pytest.mark.django_db
def test_a_round_waited_for_records_a_hanging_try_and_its_rows_wait_with_it(
    store, httpserver, receiver
):
    from push.delivery import deliver_due as push_due

    receiver.expect_request("/api/webhooks/api/products/create").respond_with_data("ok")
    httpserver.expect_request("/healthy").respond_with_data("ok")
    sock, stop, held = silent_server()
    try:
        port = sock.getsockname()[1]
        webhooks.webhook_subscription_create(
            url=f"http://127.0.0.1:{port}/hangs", topics=["products/create"]
        )
        healthy, _ = subscribe(httpserver, "/healthy", topics=["products/create"])
        products = [new_product() for _ in range(5)]

        tried = webhooks.deliver_due()
        assert push_due() == 5
    finally:
        stop.set()
        sock.close()
        for conn in held:
            conn.close()

    assert tried == 6  # five to the healthy one; one to the hanging one, which then waits
    assert len(received(httpserver, "/healthy")) == 5
    assert set(
        WebhookDelivery.objects.filter(subscription=healthy).values_list("status", flat=True)
    ) == {Status.DELIVERED}
    hanging = WebhookDelivery.objects.exclude(subscription=healthy)
    assert sorted(hanging.values_list("attempts", flat=True)) == [0, 0, 0, 0, 1]
    assert set(hanging.values_list("status", flat=True)) == {Status.PENDING}
    assert "took longer than 1 s" in hanging.get(attempts=1).last_error
    # The untried rows wait with the failed one, not before it.
    due = set(hanging.values_list("due_at", flat=True))
    assert len(due) == 1
    assert due.pop() > timezone.now()
    assert PushEvent.objects.filter(status="delivered").count() == len(products)


@pytest.mark.django_db
def test_a_hanging_subscriber_holds_back_neither_another_nor_the_push(store, httpserver, receiver):
    """The worker's sender returns at once: the healthy subscriber's rows and the pushes go out
    while the hanging try is under way, and the hanging try is recorded when it comes back."""
    from push.delivery import deliver_due as push_due

    receiver.expect_request("/api/webhooks/api/products/create").respond_with_data("ok")
    httpserver.expect_request("/healthy").respond_with_data("ok")
    sock, stop, held = silent_server()
    sender = webhooks.Sender()
    try:
        port = sock.getsockname()[1]
        hanging, _ = webhooks.webhook_subscription_create(
            url=f"http://127.0.0.1:{port}/hangs", topics=["products/create"]
        )
        healthy, _ = subscribe(httpserver, "/healthy", topics=["products/create"])
        for _ in range(3):
            new_product()
        started = time.monotonic()

        def step_until(condition):
            while not condition():
                sender.step()
                sender.wait(0.01)
                assert time.monotonic() - started < 0.5  # the deadline is 1 s

        def delivered(subscription):
            return WebhookDelivery.objects.filter(
                subscription=subscription, status=Status.DELIVERED
            ).count()

        step_until(lambda: delivered(healthy) == 3)
        assert push_due() == 3
        for _ in range(2):  # its next rows go out once its flight is back, not the other's
            new_product()
        step_until(lambda: delivered(healthy) == 5)
        assert push_due() == 2
        assert sender.busy
        assert set(
            WebhookDelivery.objects.filter(subscription=hanging).values_list("status", flat=True)
        ) == {Status.SENDING, Status.PENDING}  # the first three claimed; the last two wait
        assert len(held) == 1
        while sender.busy:  # its try comes back; its rows wait for the retry, untried
            sender.step()
            sender.wait(0.05)
        assert 1.0 <= time.monotonic() - started < 2.0
    finally:
        sender.close()
        stop.set()
        sock.close()
        for conn in held:
            conn.close()

    rows = WebhookDelivery.objects.filter(subscription=hanging)
    tried = rows.get(attempts=1)
    assert "took longer than 1 s" in tried.last_error
    assert tried.status == Status.PENDING
    assert rows.filter(attempts=0).count() == 4
    assert set(rows.values_list("due_at", flat=True)) == {tried.due_at}
    assert PushEvent.objects.filter(status="delivered").count() == 5
    assert len(received(httpserver, "/healthy")) == 5


@pytest.mark.django_db
def test_a_winding_down_sender_serves_only_answering_subscribers_and_a_stopped_one_none(
    store, httpserver
):
    httpserver.expect_request("/down").respond_with_data("down", status=500)
    httpserver.expect_request("/up").respond_with_data("ok")
    down, _ = subscribe(httpserver, "/down", topics=["products/create"])
    up, _ = subscribe(httpserver, "/up", topics=["products/create"])
    new_product()
    assert webhooks.deliver_due() == 2
    down.refresh_from_db()
    assert down.failing_since is not None

    WebhookDelivery.objects.update(due_at=timezone.now())  # its retry falls due
    new_product()
    sender = webhooks.Sender()
    try:
        sender.wind_down()
        sender.step()
        sender.wait(None)
        assert sender.step() == 1
        assert [r.path for r, _ in httpserver.log[2:]] == ["/up"]
        sender.stop()
        new_product()
        assert sender.step() == 0
        assert not sender.busy
    finally:
        sender.close()
    assert len(httpserver.log) == 3
    assert PushEvent.objects.filter(fanned_out=False).count() == 1  # left for the next pump
    assert WebhookDelivery.objects.filter(subscription=down, attempts=1).count() == 1


@pytest.mark.django_db
def test_a_subscriber_failing_for_a_day_is_disabled_with_the_reason(store, httpserver):
    subscription, _ = subscribe(httpserver, topics=["products/create"])
    httpserver.expect_request("/hooks").respond_with_data("down", status=502)
    new_product()
    webhooks.deliver_due()
    subscription.refresh_from_db()
    assert subscription.active
    assert subscription.failing_since is not None

    WebhookSubscription.objects.update(failing_since=timezone.now() - timedelta(days=1, seconds=1))
    WebhookDelivery.objects.update(due_at=timezone.now())
    webhooks.deliver_due()
    subscription.refresh_from_db()
    assert not subscription.active
    assert "answered HTTP 502: down" in subscription.disabled_reason
    assert webhooks.deliver_due() == 0  # a disabled subscriber's rows wait

    webhooks.webhook_subscription_update(subscription=subscription, active=True)
    subscription.refresh_from_db()
    assert (subscription.failing_since, subscription.disabled_reason) == (None, "")


@pytest.mark.django_db
def test_a_success_clears_failing_since(store, httpserver):
    subscription, _ = subscribe(httpserver, topics=["products/create"])
    httpserver.expect_ordered_request("/hooks").respond_with_data("", status=500)
    httpserver.expect_ordered_request("/hooks").respond_with_data("")
    new_product()
    webhooks.deliver_due()
    WebhookDelivery.objects.update(due_at=timezone.now())
    webhooks.deliver_due()
    subscription.refresh_from_db()
    assert subscription.failing_since is None


@pytest.mark.django_db
def test_pausing_the_push_pauses_webhooks(store, httpserver):
    httpserver.expect_request("/hooks").respond_with_data("ok")
    subscribe(httpserver)
    new_product()
    state = PushState.load()
    state.paused = PushState.Pause.MANUAL
    state.save()
    assert webhooks.deliver_due() == 0
    state.paused = ""
    state.save()
    assert webhooks.deliver_due() == 1


@pytest.mark.django_db
def test_the_secret_is_kept_encrypted(store, httpserver):
    subscription, secret = subscribe(httpserver)
    assert secret.startswith("whsec_")
    assert secret not in subscription.secret_ciphertext
    assert webhooks.subscription_secret(subscription) == secret


# Targets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://example.com/hook", "must use https"),
        ("https://127.0.0.1/hook", "private or reserved"),
        ("https://10.0.0.1/hook", "private or reserved"),
        ("https://169.254.169.254/latest/meta-data", "private or reserved"),
        ("https://[::1]/hook", "private or reserved"),
        ("https://[::ffff:127.0.0.1]/hook", "private or reserved"),
        ("https://100.100.100.200/hook", "private or reserved"),
        ("https://localhost/hook", "private or reserved"),
        ("ftp://example.com/", "http(s) URL"),
    ],
)
@pytest.mark.django_db
def test_production_refuses_unsafe_targets_when_saving(store, settings, url, words):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(ValidationError, match=words.replace("(", r"\(").replace(")", r"\)")):
        webhooks.webhook_subscription_create(url=url, topics=["orders/create"])
    assert not WebhookSubscription.objects.exists()


@pytest.mark.django_db
def test_production_refuses_a_target_that_turned_private_when_sending(store, httpserver, settings):
    httpserver.expect_request("/hooks").respond_with_data("ok")
    subscribe(httpserver, topics=["products/create"])  # saved while loopback was allowed
    WebhookSubscription.objects.update(url=httpserver.url_for("/hooks").replace("http:", "https:"))
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    new_product()
    assert webhooks.deliver_due() == 1
    row = WebhookDelivery.objects.get()
    assert "private or reserved" in row.last_error
    assert row.status == Status.PENDING
    assert httpserver.log == []


@pytest.mark.django_db
def test_redirects_are_not_followed(store, httpserver):
    httpserver.expect_request("/hooks").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/elsewhere")}
    )
    subscribe(httpserver, topics=["products/create"])
    new_product()
    webhooks.deliver_due()
    assert [r.path for r, _ in httpserver.log] == ["/hooks"]
    assert WebhookDelivery.objects.get().last_status == 302


@pytest.mark.parametrize("changes", [2, 8])
@pytest.mark.django_db
def test_a_round_costs_the_same_queries_however_many_it_sends(
    store, httpserver, django_assert_num_queries, changes
):
    httpserver.expect_request("/hooks").respond_with_data("ok")
    subscribe(httpserver)
    for _ in range(changes):
        new_product()
    # Fan-out 4 (events, subscriptions, insert, mark), claim 5 (anything due, paused, whose,
    # the subscriber's rows, lease), render 1, the subscriptions 1, the outcomes 1, and the
    # atomic blocks' savepoints 4.
    with django_assert_num_queries(16):
        assert webhooks.deliver_due() == changes
    assert WebhookDelivery.objects.filter(status=Status.DELIVERED).count() == changes


@pytest.mark.django_db
def test_an_undecryptable_secret_is_that_subscribers_failure(store, httpserver):
    httpserver.expect_request("/good").respond_with_data("ok")
    broken, _ = subscribe(httpserver, "/broken", topics=["products/create"])
    subscribe(httpserver, "/good", topics=["products/create"])
    WebhookSubscription.objects.filter(pk=broken.pk).update(secret_ciphertext="garbage")
    new_product()
    assert webhooks.deliver_due() == 2
    assert [r.path for r, _ in httpserver.log] == ["/good"]
    row = WebhookDelivery.objects.get(subscription=broken)
    assert (row.status, row.error_class) == (Status.PENDING, "InvalidToken")
    assert "cannot be decrypted" in row.last_error


@pytest.mark.django_db
def test_rotating_the_keys_keeps_the_secrets(store, httpserver, settings):
    from cryptography.fernet import Fernet

    from push.tokens import push_token_rotate

    subscription, secret = subscribe(httpserver)
    old = subscription.secret_ciphertext
    settings.PUSH_TOKEN_KEYS = [Fernet.generate_key().decode(), *settings.PUSH_TOKEN_KEYS]
    push_token_rotate()
    subscription.refresh_from_db()
    assert subscription.secret_ciphertext != old
    settings.PUSH_TOKEN_KEYS = settings.PUSH_TOKEN_KEYS[:1]
    assert webhooks.subscription_secret(subscription) == secret


@pytest.mark.django_db
def test_production_takes_a_public_https_target(store, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    assert webhooks.target_addresses("https://93.184.216.34/hook") == ["93.184.216.34"]
    subscription, _ = webhooks.webhook_subscription_create(
        url="https://93.184.216.34/hook", topics=["orders/create"]
    )
    assert subscription.pk


@pytest.mark.django_db
def test_a_lone_subscriber_whose_secret_is_undecryptable_fails_alone(store, httpserver):
    """With nothing left to send once its row is failed, the round still records it."""
    broken, _ = subscribe(httpserver, "/broken", topics=["products/create"])
    WebhookSubscription.objects.filter(pk=broken.pk).update(secret_ciphertext="garbage")
    new_product()
    assert webhooks.deliver_due() == 1
    row = WebhookDelivery.objects.get(subscription=broken)
    assert (row.status, row.attempts, row.error_class) == (Status.PENDING, 1, "InvalidToken")
