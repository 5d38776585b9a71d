"""Every door that adds a converted.in token adds it once, for the feed and for pushes alike."""

import ast
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from feeds.models import FeedToken
from feeds.tokens import feed_token_match
from push.delivery import deliver_due
from push.models import PushState
from push.tokens import convertedin_token_add, push_token
from shop import services

pytestmark = pytest.mark.django_db

OLD = "cvin-old-token-0000000000"
ROOT = Path(__file__).resolve().parents[2]


def _connection_page(admin_client, token):
    response = admin_client.post(
        reverse("feeds-connection:token-add"), {"token-name": "page", "token-token": token}
    )
    assert response.status_code == 302


def _feed_tokens_admin(admin_client, token):
    response = admin_client.post(
        reverse("admin:feeds_feedtoken_add"), {"name": "admin", "token": token}
    )
    assert response.status_code == 302


def _command(admin_client, token):
    call_command("feed_token", "add", "--name", "shell", "--token", token)


def _service(admin_client, token):
    convertedin_token_add(name="service", token=token)


DOORS = {
    "connection page": _connection_page,
    "Feed tokens admin": _feed_tokens_admin,
    "feed_token add": _command,
    "service": _service,
}


@pytest.mark.parametrize("door", DOORS)
def test_a_token_added_at_any_door_is_the_one_pushes_then_carry(
    door, admin_client, store, httpserver, settings
):
    settings.CONVERTEDIN_WEBHOOK_URL = httpserver.url_for("/hook/")
    httpserver.expect_request("/hook/customers/create", method="POST").respond_with_data("ok")
    convertedin_token_add(name="old", token=OLD)
    new = f"cvin-{door.replace(' ', '-')}-token-0123456789"

    DOORS[door](admin_client, new)

    row = FeedToken.objects.get(name__in=["page", "admin", "shell", "service"])
    assert feed_token_match(new) == row.pk
    assert feed_token_match(OLD) is not None  # the old token still reads the feed
    state = PushState.load()
    assert state.token_id == row.pk
    assert push_token(state) == new
    services.customer_create(email="door@example.com", first_name="D", last_name="Oor")
    assert deliver_due() == 1
    (request, _), *_ = httpserver.log
    assert request.path == "/hook/customers/create"
    assert request.headers["token"] == new


def test_a_token_is_added_whole_or_not_at_all(store, settings):
    """When its push copy cannot be kept, the feed's hash is not kept either."""
    convertedin_token_add(name="old", token=OLD)
    settings.PUSH_TOKEN_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ValueError, match="Fernet key"):
        convertedin_token_add(name="new", token="cvin-new-token-0123456789")
    assert list(FeedToken.objects.values_list("name", flat=True)) == ["old"]


def test_a_refused_token_changes_nothing(store):
    convertedin_token_add(name="old", token=OLD)
    state = PushState.load()
    with pytest.raises(ValidationError):
        convertedin_token_add(name="again", token=OLD)
    assert FeedToken.objects.count() == 1
    assert PushState.load().token_ciphertext == state.token_ciphertext


def _calls(path: Path, name: str) -> bool:
    tree = ast.parse(path.read_text())
    return any(
        isinstance(node, ast.Call)
        and (getattr(node.func, "id", None) == name or getattr(node.func, "attr", None) == name)
        for node in ast.walk(tree)
    )


def test_no_door_adds_a_feed_token_without_its_push_copy():
    """Only the one service creates a feed token; a new door must call the service."""
    callers = {
        str(path.relative_to(ROOT))
        for package in ("config", "shop", "feeds", "push", "templates")
        for path in (ROOT / package).rglob("*.py")
        if _calls(path, "feed_token_create")
    }
    assert callers == {"push/tokens.py"}


@pytest.mark.django_db
def test_the_command_without_a_token_and_no_terminal_says_how_to_give_it():
    with pytest.raises(CommandError, match="--token"):
        call_command("feed_token", "add", "--name", "shell")
    assert not FeedToken.objects.exists()
