import pytest
from django.utils import timezone

from feeds.models import FeedToken
from feeds.tokens import feed_token_create
from push.models import PushEvent, PushState
from shop import services

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
