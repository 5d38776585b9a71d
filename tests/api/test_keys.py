from io import StringIO

import pytest
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from shop.api.models import ApiKey
from shop.api.services import api_key_create


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("api_key", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_command_creates_a_working_key_printed_once(store):
    raw, note = run("create", "--name", "ERP", "--scopes", "customers.read,orders.write")

    api_key = ApiKey.objects.get()
    assert raw.startswith(api_key.prefix)
    assert (api_key.name, api_key.scopes) == ("ERP", ["customers.read", "orders.write"])
    assert "won't be shown again" in note
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/customers").status_code == 200
    assert client.get("/api/v1/orders").status_code == 403


def test_command_sets_expiry_and_rate_limit(db):
    run(
        "create",
        "--name",
        "Script",
        "--scopes",
        "products.read",
        "--expires-at",
        "2030-01-01T00:00:00+00:00",
        "--rate-limit",
        "30",
    )
    api_key = ApiKey.objects.get()
    assert api_key.expires_at.year == 2030
    assert api_key.rate_limit == 30


@pytest.mark.parametrize(
    "args",
    [
        ("--scopes", "customers.read,admin.write"),
        ("--scopes", "customers.read", "--expires-at", "next week"),
    ],
)
def test_command_refuses_bad_input(db, args):
    with pytest.raises(CommandError):
        run("create", "--name", "ERP", *args)
    assert not ApiKey.objects.exists()


def test_command_lists_and_revokes_keys(store):
    api_key, raw = api_key_create(name="ERP", scopes=["customers.read"])
    listing, _ = run("list")
    assert api_key.prefix in listing
    assert raw not in listing

    run("revoke", api_key.prefix)

    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    response = APIClient().get("/api/v1/customers", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401
    with pytest.raises(CommandError):
        run("revoke", "sk_store_unknown")


def test_admin_creates_a_key_and_shows_it_once(store, admin_client):
    response = admin_client.post(
        "/admin/api/apikey/add/",
        {"name": "ERP", "scopes": ["customers.read", "customers.write"], "rate_limit": "120"},
        follow=True,
    )

    assert response.status_code == 200
    api_key = ApiKey.objects.get()
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    shown = [m for m in messages if m.startswith("The new API key is ")]
    assert len(shown) == 1
    raw = shown[0].split()[5]
    assert raw.startswith(api_key.prefix)
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/customers").status_code == 200
    change_page = admin_client.get(f"/admin/api/apikey/{api_key.pk}/change/")
    assert raw not in change_page.content.decode()


def test_admin_changes_scopes_and_revokes_keys(store, admin_client):
    api_key, raw = api_key_create(name="ERP", scopes=["customers.read"])
    admin_client.post(
        f"/admin/api/apikey/{api_key.pk}/change/",
        {"name": "ERP", "scopes": ["orders.read"], "rate_limit": ""},
    )
    api_key.refresh_from_db()
    assert api_key.scopes == ["orders.read"]

    admin_client.post(
        "/admin/api/apikey/",
        {"action": "revoke_selected", "_selected_action": [api_key.pk]},
    )

    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    for url in ("/admin/api/apikey/", "/admin/api/apikey/?state=usable", "/admin/api/apikey/add/"):
        assert admin_client.get(url).status_code == 200
