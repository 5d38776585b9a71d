"""Every door of the store admin checks the model permission: a staff member who may only
view, and one with no permission at all, can neither change data nor read what they may not."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from feeds.tokens import feed_token_create
from shop.api.services import api_key_create
from shop.models import Customer, ImportRun, Product
from tests.factories import CategoryFactory, OrderFactory

pytestmark = pytest.mark.django_db

MODELS = [
    (model, model_admin)
    for model, model_admin in admin.site._registry.items()
    if model._meta.app_label in {"shop", "feeds", "api"}
]


@pytest.fixture
def records(store):
    order = OrderFactory()
    records = {
        "customer": order.customer,
        "order": order,
        "product": order.line_items.first().product,
        "category": CategoryFactory(),
        "store": store,
        "apikey": api_key_create(name="ERP", scopes=["orders.read"])[0],
        "feedtoken": feed_token_create(name="converted.in", token="a-token-of-converted-in"),
    }
    return records


def _client(*, view: bool) -> Client:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    if view:
        user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client = Client()
    client.force_login(user)
    return client


def _urls(records) -> list[tuple[str, str]]:
    """(url, what it is) for every page of every model in the admin."""
    urls = []
    for model, model_admin in MODELS:
        info = model._meta.app_label, model._meta.model_name
        record = records.get(model._meta.model_name)
        # The list of imports is an import page: for who may import.
        kind = "import" if model is ImportRun else "changelist"
        urls.append((reverse("admin:{}_{}_changelist".format(*info)), kind))
        if record is not None:
            urls.append((reverse("admin:{}_{}_history".format(*info), args=[record.pk]), "history"))
        if hasattr(model_admin, "has_import_permission"):
            urls.append((reverse("admin:{}_{}_import".format(*info)), "import"))
            urls.append((reverse("admin:{}_{}_export".format(*info)), "export"))
    return urls


def test_a_staff_member_without_permissions_opens_no_page(records):
    client = _client(view=False)
    urls = [
        *(url for url, _ in _urls(records)),
        reverse("admin:shop_quality"),
        reverse("feeds-connection:page"),
        reverse("feeds-connection:preview", args=["customers"]),
    ]
    opened = {url: client.get(url).status_code for url in urls}
    assert {url: code for url, code in opened.items() if code not in (302, 403)} == {}


def test_a_view_only_staff_member_may_look_and_export_but_not_import(records):
    client = _client(view=True)
    for url, kind in _urls(records):
        status = client.get(url).status_code
        expected = 403 if kind == "import" else 200
        assert (url, status) in {(url, expected), (url, 302)}, (url, status)


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("admin:shop_product_import", "title,handle,price\nStill,still-station-1,0.01\n"),
        ("admin:shop_customer_import", "email,first_name,last_name\nx@example.com,X,Y\n"),
    ],
)
def test_a_view_only_staff_member_cannot_import(records, url, data):
    client = _client(view=True)
    upload = SimpleUploadedFile("data.csv", data.encode(), content_type="text/csv")
    response = client.post(reverse(url), {"import_file": upload, "format": "0", "resource": "0"})
    assert response.status_code == 403
    assert not Customer.objects.filter(email="x@example.com").exists()
    assert not Product.objects.filter(price="0.01").exists()


def test_a_staff_member_without_permissions_cannot_export(records):
    client = _client(view=False)
    response = client.post(reverse("admin:shop_order_export"), {"format": "0", "resource": "0"})
    assert response.status_code == 403


@pytest.mark.parametrize("view", [True, False])
@pytest.mark.parametrize("action", ["soft_delete_selected", "restore_selected"])
@pytest.mark.parametrize("model_name", ["customer", "order", "product", "category"])
def test_no_action_runs_without_the_delete_permission(records, view, action, model_name):
    record = records[model_name]
    if action == "restore_selected":
        type(record).objects.filter(pk=record.pk).update(deleted_at="2026-01-01T00:00:00Z")
    before = type(record).objects.get(pk=record.pk).deleted_at
    client = _client(view=view)

    client.post(
        reverse(f"admin:shop_{model_name}_changelist") + "?deleted=all",
        {"action": action, "_selected_action": [record.pk]},
    )

    assert type(record).objects.get(pk=record.pk).deleted_at == before


def test_the_delete_permission_lets_a_staff_member_soft_delete(records):
    client = _client(view=True)
    user = User.objects.get(username="staff")
    user.user_permissions.add(Permission.objects.get(codename="delete_category"))
    category = records["category"]

    client.post(
        reverse("admin:shop_category_changelist"),
        {"action": "soft_delete_selected", "_selected_action": [category.pk]},
    )

    category.refresh_from_db()
    assert category.deleted_at is not None


def test_a_view_only_staff_member_cannot_add_or_change(records):
    client = _client(view=True)
    customer = records["customer"]
    assert client.get(reverse("admin:shop_customer_add")).status_code == 403
    response = client.post(
        reverse("admin:shop_customer_change", args=[customer.pk]),
        {"email": "changed@example.com", "first_name": "C", "last_name": "D"},
    )
    assert response.status_code == 403
    customer.refresh_from_db()
    assert customer.email != "changed@example.com"


def test_every_admin_action_declares_its_permissions():
    undeclared = [
        (model._meta.label, name)
        for model, model_admin in MODELS
        for name in model_admin.actions or []
        if not getattr(model_admin.get_action(name)[0], "allowed_permissions", None)
    ]
    assert undeclared == []


@pytest.mark.parametrize("view", [True, False])
@pytest.mark.parametrize("model_name", ["apikey", "feedtoken"])
def test_no_credential_is_revoked_without_the_change_permission(records, view, model_name):
    record = records[model_name]
    client = _client(view=view)
    info = record._meta.app_label, record._meta.model_name

    client.post(
        reverse("admin:{}_{}_changelist".format(*info)),
        {"action": "revoke_selected", "_selected_action": [record.pk]},
    )

    assert type(record).objects.get(pk=record.pk).revoked_at is None
