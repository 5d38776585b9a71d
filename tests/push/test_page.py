import re
from html import unescape

import pytest
from django.utils import timezone

from feeds.models import FeedToken
from feeds.tokens import feed_token_create
from push.models import PushEvent, PushState
from shop import services
from tests.push.test_delivery import accept_all, deliver_all

TOKEN = "cvin-push-token-0123456789"
PAGE = "/admin/convertedin/"


@pytest.fixture
def clerk(staff_client, store):
    return staff_client(
        "view_feedtoken", "add_feedtoken", "view_feedrequest", "view_pushevent", "change_pushevent"
    )


@pytest.mark.django_db
def test_adding_a_token_on_the_page_keeps_it_for_pushing_encrypted(clerk):
    clerk.post(PAGE + "tokens/add/", {"token-name": "converted.in", "token-token": TOKEN})
    state = PushState.load()
    assert state.token == FeedToken.objects.get()
    assert state.token_ciphertext
    assert TOKEN not in state.token_ciphertext
    page = clerk.get(PAGE).content.decode()
    assert "Pushing changes to converted.in" in page
    assert TOKEN not in page
    assert "stored before pushing existed" not in page


@pytest.mark.django_db
def test_a_token_stored_before_pushing_is_asked_for_again(clerk):
    feed_token_create(name="old", token=TOKEN)
    assert "stored before pushing existed" in clerk.get(PAGE).content.decode()
    clerk.post(PAGE + "push/token/", {"push-token": "wrong-token-000000"})
    assert not PushState.load().token_ciphertext
    clerk.post(PAGE + "push/token/", {"push-token": TOKEN})
    assert PushState.load().token_ciphertext
    assert "stored before pushing existed" not in clerk.get(PAGE).content.decode()


@pytest.mark.django_db
def test_pause_resume_and_retry_now(clerk):
    clerk.post(PAGE + "push/pause/")
    assert PushState.load().paused == PushState.Pause.MANUAL
    assert "Paused" in clerk.get(PAGE).content.decode()
    clerk.post(PAGE + "push/resume/")
    assert PushState.load().paused == ""
    customer = services.customer_create(email="a@example.com", first_name="A", last_name="B")
    PushEvent.objects.update(status="failed", attempts=3, finished_at=timezone.now())
    event = PushEvent.objects.get(record_id=customer.pk)
    page = clerk.get(PAGE).content.decode()
    assert f"customers #{customer.pk}" in page
    assert "Retry now" in page
    clerk.post(PAGE + f"push/{event.pk}/retry/")
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("pending", 0)


@pytest.mark.django_db
def test_pausing_needs_the_permission(staff_client, store):
    client = staff_client("view_feedtoken", "view_pushevent")
    assert client.post(PAGE + "push/pause/").status_code == 403
    assert client.get(PAGE + "push/pause/").status_code == 405
    assert PushState.load().paused == ""


# The delivery log -------------------------------------------------------------------------

LOG = PAGE + "push/log/"


def log_rows(html: str) -> list[tuple[str, str, str]]:
    """(topic, changes, last answer) of each row of the delivery log, top to bottom."""
    rows = re.findall(r'<tr data-event="\d+">(.*?)</tr>', html, flags=re.S)
    cell = r'<td class="{}"[^>]*>(.*?)</td>'
    return [
        tuple(
            unescape(re.search(cell.format(name), row, flags=re.S).group(1)).strip()
            for name in ("topic", "changes", "answer")
        )
        for row in rows
    ]


@pytest.mark.django_db
def test_each_row_is_one_push_with_its_own_topic(clerk, receiver):
    accept_all(receiver)
    customer = services.customer_create(email="a@example.com", first_name="A", last_name="B")
    services.customer_update(customer=customer, first_name="C")
    services.customer_update(customer=customer, first_name="D")
    deliver_all()  # three changes waited together: one push
    services.customer_update(customer=customer, first_name="E")
    deliver_all()
    services.customer_soft_delete(customer=customer)
    deliver_all()
    assert PushEvent.objects.count() == 5
    expected = [
        ("customers/delete", "delete", "HTTP 200"),
        ("customers/update", "update", "HTTP 200"),
        ("customers/create", "3 changes: create, update ×2", "HTTP 200"),
    ]
    assert log_rows(clerk.get(LOG).content.decode()) == expected
    # The connection page's table lists the same pushes.
    connection_page = clerk.get(PAGE).content.decode()
    shown = re.findall(r'<tr data-event="(\d+)">', connection_page)
    assert shown == [
        str(pk) for pk in PushEvent.objects.filter(carried_by=None).values_list("pk", flat=True)
    ]


@pytest.mark.django_db
def test_errors_read_as_words(clerk, receiver, settings):
    receiver.expect_request("/api/webhooks/api/customers/create").respond_with_data(
        "Database is down\nTraceback (most recent call last):\n  File ...", status=500
    )
    services.customer_create(email="a@example.com", first_name="A", last_name="B")
    deliver_all()
    settings.CONVERTEDIN_WEBHOOK_URL = "http://127.0.0.1:9/"  # nothing listens
    services.customer_create(email="b@example.com", first_name="A", last_name="B")
    deliver_all()
    html = clerk.get(LOG).content.decode()
    assert [answer for _, _, answer in log_rows(html)] == [
        "Could not connect to 127.0.0.1: connection refused",
        "localhost answered HTTP 500: Database is down",
    ]
    assert "ConnectionPool" not in html
    assert "object at 0x" not in html


def _pushes(n: int) -> None:
    """`n` delivered pushes, each carrying three changes of its customer."""
    now = timezone.now()
    for record in range(n):
        carried = [
            PushEvent.objects.create(entity="customers", record_id=record, action=action)
            for action in ("create", "update")
        ]
        carrier = PushEvent.objects.create(
            entity="customers",
            record_id=record,
            action="update",
            status="delivered",
            topic="customers/create",
            attempts=1,
            last_status=200,
            finished_at=now,
        )
        PushEvent.objects.filter(pk__in=[e.pk for e in carried]).update(
            carried_by=carrier, status="delivered", finished_at=now
        )


@pytest.mark.django_db
@pytest.mark.parametrize("pushes", [1, 40])
def test_the_log_costs_the_same_queries_however_many_pushes(
    clerk, pushes, django_assert_num_queries
):
    _pushes(pushes)
    clerk.get(LOG)  # the session and the user's permissions, cached for the next request
    # the store (admin middleware), session, user, permissions (user, group), the log's page
    with django_assert_num_queries(6):
        html = clerk.get(LOG).content.decode()
    rows = log_rows(html)
    assert len(rows) == pushes
    assert set(rows) == {("customers/create", "3 changes: create, update ×2", "HTTP 200")}


@pytest.mark.django_db
def test_the_log_is_paged_by_id(clerk):
    _pushes(55)
    first = clerk.get(LOG).content.decode()
    assert len(log_rows(first)) == 50
    carriers = list(PushEvent.objects.filter(carried_by=None).order_by("-id"))
    older = re.search(r'href="/admin/convertedin/push/log/\?before=(\d+)" id="older"', first)
    assert older.group(1) == str(carriers[49].pk)
    second = clerk.get(LOG, {"before": older.group(1)}).content.decode()
    shown = [int(pk) for pk in re.findall(r'<tr data-event="(\d+)">', second)]
    assert shown == [c.pk for c in carriers[50:]]
    assert 'id="older"' not in second
    assert clerk.get(LOG, {"before": "x1"}).status_code == 400


@pytest.mark.django_db
def test_the_log_needs_the_permission(staff_client, store):
    client = staff_client("view_feedtoken")
    assert client.get(LOG).status_code == 403


@pytest.mark.django_db
def test_retrying_a_push_retries_every_change_it_carried(clerk):
    _pushes(1)
    PushEvent.objects.update(status="failed")
    carrier = PushEvent.objects.get(carried_by=None)
    clerk.post(PAGE + f"push/{carrier.pk}/retry/")
    assert set(PushEvent.objects.values_list("status", "attempts")) == {("pending", 0)}
