"""What the world may do to a push: an internationalised store domain, a failure in one push,
a receiver that drips its answer or floods it. None stops the others or holds a worker past
the deadline."""

import json
import logging
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.utils import timezone

from feeds.tokens import feed_token_create
from push import checks, delivery
from push.delivery import deliver_due, shop_domain
from push.models import PushEvent
from push.tokens import push_token_store
from shop import services
from tests.push.conftest import TOKEN
from tests.push.test_delivery import accept_all, deliver_all, received

Status = PushEvent.Status


def new_customer(n: int = 0):
    return services.customer_create(email=f"c{n}@example.com", first_name="A", last_name="B")


# The store's domain --------------------------------------------------------------------


@pytest.mark.django_db
def test_an_arabic_store_domain_goes_out_in_punycode(receiver, store):
    store.base_url = "https://متجر.مصر/"
    store.save()
    accept_all(receiver)
    new_customer()
    deliver_all()
    [(topic, headers, _)] = received(receiver)
    assert topic == "customers/create"
    assert headers["X-Shop-Domain"] == "xn--pgbep1f.xn--wgbh1c"
    assert PushEvent.objects.get().status == Status.DELIVERED


def test_the_domain_is_encoded_by_idna_2008_and_without_the_package_by_the_codec(monkeypatch):
    assert shop_domain("https://Cake-Store.example.com/x") == "cake-store.example.com"
    assert shop_domain("https://متجر.مصر/") == "xn--pgbep1f.xn--wgbh1c"
    assert shop_domain("https://straße.de/") == "xn--strae-oqa.de"  # IDNA 2008 keeps ß
    monkeypatch.setitem(sys.modules, "idna", None)  # the package absent: import fails
    assert shop_domain("https://متجر.مصر/") == "xn--pgbep1f.xn--wgbh1c"
    assert shop_domain("https://straße.de/") == "strasse.de"  # the codec's IDNA 2003


@pytest.mark.django_db
def test_a_domain_no_header_can_carry_is_each_push_s_error_not_the_workers(receiver, store):
    store.base_url = "https://☃.example/"
    store.save()
    accept_all(receiver)
    new_customer()
    before = timezone.now()
    assert deliver_due() == 1
    event = PushEvent.objects.get()
    assert (event.status, event.attempts, event.error_class) == (Status.PENDING, 1, "HeaderError")
    assert event.last_error == (
        "The store's domain in https://☃.example/ is not a valid internationalised name"
    )
    assert event.due_at > before
    assert received(receiver) == []


# One push's failure ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_failure_building_one_push_is_its_own_and_the_others_flow(receiver, monkeypatch, caplog):
    accept_all(receiver)
    customers = [new_customer(n) for n in range(3)]
    broken = customers[1].pk
    build = delivery.record_item

    def record_item(entity, record_id, **kwargs):
        if record_id == broken:
            raise KeyError("price")
        return build(entity, record_id, **kwargs)

    monkeypatch.setattr(delivery, "record_item", record_item)
    before = timezone.now()
    with caplog.at_level(logging.WARNING, logger="push.delivery"):
        assert deliver_due() == 3
    statuses = dict(PushEvent.objects.values_list("record_id", "status"))
    assert statuses == {
        customers[0].pk: Status.DELIVERED,
        broken: Status.PENDING,
        customers[2].pk: Status.DELIVERED,
    }
    assert sorted(body["id"] for _, _, body in received(receiver)) == [
        customers[0].pk,
        customers[2].pk,
    ]
    failed = PushEvent.objects.get(record_id=broken)
    assert (failed.attempts, failed.error_class, failed.last_error) == (
        1,
        "KeyError",
        "KeyError: 'price'",
    )
    assert failed.due_at.timestamp() >= before.timestamp() + 8  # the first retry delay, -20%
    [record] = caplog.records
    assert record.levelname == "WARNING"
    assert record.getMessage() == (
        f"Push customers/create of customers #{broken} failed (attempt 1): KeyError: 'price'"
    )
    assert TOKEN not in caplog.text

    monkeypatch.setattr(delivery, "record_item", build)  # fixed: the retry delivers
    PushEvent.objects.update(due_at=timezone.now())
    deliver_all()
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_error) == (Status.DELIVERED, 2, "")


@pytest.mark.django_db
def test_an_error_message_never_carries_the_token(receiver):
    receiver.expect_request("/api/webhooks/api/customers/create").respond_with_data(
        f"token {TOKEN} is not valid for this shop", status=400
    )
    new_customer()
    deliver_all()
    event = PushEvent.objects.get()
    assert event.last_error == "localhost answered HTTP 400: token … is not valid for this shop"
    assert TOKEN not in event.last_answer


@pytest.mark.django_db
def test_an_answer_the_database_cannot_store_as_is_is_stored_cleaned(receiver):
    receiver.expect_request("/api/webhooks/api/customers/create").respond_with_data(
        b"bad\x00body \xff\xfe", status=500
    )
    new_customer()
    assert deliver_due() == 1
    event = PushEvent.objects.get()
    assert event.last_answer == "bad\ufffdbody \ufffd\ufffd"
    assert event.last_error == "localhost answered HTTP 500: bad\ufffdbody \ufffd\ufffd"


# Receivers that drip or flood -------------------------------------------------------------


class Misbehaving:
    """A local receiver that answers every POST the way `mode` says, recording each request:
    `drip` answers 200 with Content-Length: 100000 and sends one byte every DRIP seconds;
    `drip_headers` sends its status line, then a header one byte every DRIP seconds;
    `flood` answers `status` with a 50 MB body as fast as the connection takes it."""

    DRIP = 0.5
    FLOOD = 50 * 1024 * 1024

    def __init__(self):
        self.mode = "drip"
        self.status = 200
        self.body_start = b""
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                seen = {"id": body["id"], "started": time.monotonic(), "sent": 0, "ended": None}
                with receiver.lock:
                    receiver.requests.append(seen)
                if receiver.mode == "drip_headers":
                    self._drip_headers(seen)
                    return
                total = 100_000 if receiver.mode == "drip" else receiver.FLOOD
                self.send_response(receiver.status if receiver.mode == "flood" else 200)
                self.send_header("Content-Length", str(total))
                self.end_headers()
                try:
                    if receiver.mode == "drip":
                        while seen["sent"] < total and time.monotonic() - seen["started"] < 30:
                            self.wfile.write(b"x")
                            self.wfile.flush()
                            seen["sent"] += 1
                            time.sleep(receiver.DRIP)
                    else:
                        chunk = receiver.body_start + b"y" * (65536 - len(receiver.body_start))
                        while seen["sent"] < total:
                            self.wfile.write(chunk)
                            seen["sent"] += len(chunk)
                            chunk = b"y" * 65536
                except OSError:
                    pass  # the client closed the connection
                seen["ended"] = time.monotonic()
                self.close_connection = True

            def _drip_headers(self, seen):
                try:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    while time.monotonic() - seen["started"] < 30:
                        self.wfile.write(b"z")
                        self.wfile.flush()
                        seen["sent"] += 1
                        time.sleep(receiver.DRIP)
                except OSError:
                    pass
                seen["ended"] = time.monotonic()
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/api/webhooks/api/"

    def wait(self, condition, seconds: float = 10) -> None:
        ends = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < ends, "timed out"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def misbehaving(settings, store):
    receiver = Misbehaving()
    settings.CONVERTEDIN_WEBHOOK_URL = receiver.url
    settings.PUSH_DEADLINE_SECONDS = 2.0
    settings.PUSH_CLAIM_SECONDS = 5.0
    push_token_store(token_row=feed_token_create(name="c", token=TOKEN), token=TOKEN)
    yield receiver
    receiver.stop()


@pytest.mark.django_db(transaction=True)
def test_a_dripping_answer_ends_at_the_deadline_and_no_second_worker_sends_meanwhile(
    misbehaving,
):
    new_customer()
    first: dict = {}

    def first_worker():
        try:
            started = time.monotonic()
            first["tried"] = deliver_due()
            first["seconds"] = time.monotonic() - started
        finally:
            connection.close()

    worker = threading.Thread(target=first_worker)
    worker.start()
    misbehaving.wait(lambda: misbehaving.requests)
    arrived = misbehaving.requests[0]["started"]
    second = []
    # A second worker tries while the first holds the record (SQLite's shared in-memory test
    # database takes no concurrent write, so it stops short of the first one's recording).
    while time.monotonic() < arrived + 1.6:
        second.append(deliver_due())
        time.sleep(0.05)
    worker.join(10)
    assert not worker.is_alive()
    assert len(second) >= 3
    assert set(second) == {0}
    assert len(misbehaving.requests) == 1
    assert first["tried"] == 1
    assert 2.0 <= first["seconds"] < 3.0, first["seconds"]
    event = PushEvent.objects.get()
    assert (event.status, event.attempts, event.last_status, event.last_error) == (
        Status.PENDING,
        1,
        200,
        "The answer took longer than 2 s",
    )
    assert event.error_class == "AnswerTooSlow"
    assert 2000 <= event.duration_ms < 3000
    # The connection was closed: the receiver's next write failed, long before its 100000 bytes.
    seen = misbehaving.requests[0]
    misbehaving.wait(lambda: seen["ended"] is not None, 3)
    assert seen["ended"] - seen["started"] < 2.0 + 1.5
    assert seen["sent"] < 10


@pytest.mark.django_db
def test_dripping_headers_end_at_the_deadline_too(misbehaving):
    misbehaving.mode = "drip_headers"
    new_customer()
    started = time.monotonic()
    assert deliver_due() == 1
    assert 2.0 <= time.monotonic() - started < 3.0
    event = PushEvent.objects.get()
    assert (event.status, event.last_status, event.last_error) == (
        Status.PENDING,
        200,  # its status line came in time
        "The answer took longer than 2 s",
    )
    seen = misbehaving.requests[0]
    misbehaving.wait(lambda: seen["ended"] is not None, 3)
    assert seen["sent"] < 10


@pytest.mark.django_db(transaction=True)
def test_a_push_starts_only_if_it_ends_well_inside_the_claim(misbehaving, settings):
    settings.PUSH_CLAIM_SECONDS = 6.0
    customers = [new_customer(n) for n in range(3)]
    started = time.monotonic()
    # Lease 6 s, deadline 2 s: a push starts only in the first 6 × 0.9 - 2 = 3.4 s. The third,
    # due at 4 s, could outlive the claim, so it is handed back.
    assert deliver_due() == 2
    assert time.monotonic() - started < 6
    assert [seen["id"] for seen in misbehaving.requests] == [c.pk for c in customers[:2]]
    third = PushEvent.objects.get(record_id=customers[2].pk)
    assert (third.status, third.attempts) == (Status.PENDING, 0)
    assert third.due_at <= timezone.now()


@pytest.mark.django_db
@pytest.mark.parametrize("status", [200, 500])
def test_of_a_huge_answer_only_the_cap_is_read_and_kept(misbehaving, settings, status):
    settings.PUSH_ANSWER_BYTES = 1024
    misbehaving.mode = "flood"
    misbehaving.status = status
    misbehaving.body_start = b"Internal error: the queue is full\nTraceback (most recent call):\n"
    new_customer()
    started = time.monotonic()
    assert deliver_due() == 1
    assert time.monotonic() - started < 2
    event = PushEvent.objects.get()
    assert len(event.last_answer) == 1024
    assert event.last_answer.startswith("Internal error: the queue is full\n")
    if status == 200:
        assert (event.status, event.last_error) == (Status.DELIVERED, "")
    else:
        assert (event.status, event.last_status) == (Status.PENDING, 500)
        assert event.last_error == "127.0.0.1 answered HTTP 500: Internal error: the queue is full"
    # The connection was closed after the cap: the receiver could not send its 50 MB.
    seen = misbehaving.requests[0]
    misbehaving.wait(lambda: seen["ended"] is not None, 5)
    assert seen["sent"] < Misbehaving.FLOOD


def test_a_long_first_line_is_cut_between_words():
    from push.http import shorten

    line = "converted.in answered HTTP 500: " + "word " * 100
    short = shorten(line)
    assert len(short) <= 200
    assert short.endswith("word…")


# The settings -----------------------------------------------------------------------------


def test_the_deadline_must_be_at_most_half_the_claim(settings):
    settings.PUSH_DEADLINE_SECONDS = 15
    settings.PUSH_CLAIM_SECONDS = 60
    assert checks.deadline_within_claim(None) == []
    settings.PUSH_DEADLINE_SECONDS = 40
    [error] = checks.deadline_within_claim(None)
    assert error.id == "push.E001"
    settings.PUSH_DEADLINE_SECONDS = 0
    assert checks.deadline_within_claim(None)[0].id == "push.E001"
