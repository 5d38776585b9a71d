"""After an erasure, none of the erased values is in any answer of any door, in what converted.in
and the webhook subscribers receive, or in a dump of the database.

The customer's values are spread first through every door that keeps a copy: API writes with
Idempotency-Key (stored answers), pushes and webhooks answered by receivers that echo the body
(kept answers), the admin's log, the feed's request log, an import waiting with a file naming
them and a refused import quoting them. Committed (transaction=True), so that pg_dump sees it.
"""

import io
import json
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils.html import escape
from rest_framework.test import APIClient
from werkzeug import Request, Response

from feeds.tokens import feed_token_create
from push import delivery, webhooks
from push.tokens import push_token_store
from shop import imports
from shop.api.services import api_key_create
from shop.models import Customer, ImportRun, Order
from tests.factories import ProductFactory, StoreFactory
from tests.feeds.conftest import check_body

FIRST, LAST = "Zubaida", "قنديلوفا"
EMAIL = "zubaida.qandeel@example.net"
PHONE = "+201112223334"
ORDER_EMAIL = "z.qandeel.orders@example.org"
ORDER_PHONE = "+201115556667"
VALUES = [FIRST, LAST, EMAIL, PHONE, ORDER_EMAIL, ORDER_PHONE]
TOKEN = "cvin-erasure-token-0123456789"


def forms(value: str) -> set[str]:
    """The ways a value may be written: as is, in lower and upper case, JSON-escaped, and a
    phone's digits."""
    found = {value, value.lower(), value.upper(), json.dumps(value)[1:-1]}
    if value.startswith("+"):
        found.add(value[1:])
    return found


def leaks(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return sorted({form for value in VALUES for form in forms(value) if form in text})


def sql_dump() -> str:
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return "\n".join(connection.connection.iterdump())
    settings = connection.settings_dict
    options = settings.get("OPTIONS", {})
    pg_dump = Path(os.environ.get("PGTMP_BIN", "/usr/lib/postgresql/15/bin")) / "pg_dump"
    command = [str(pg_dump), "--no-owner", "-U", settings["USER"] or "postgres"]
    host, port = settings["HOST"] or options.get("host"), settings["PORT"] or options.get("port")
    if host:
        command += ["-h", str(host)]
    if port:
        command += ["-p", str(port)]
    env = {**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""}
    done = subprocess.run(
        [*command, settings["NAME"]], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def echo(request: Request) -> Response:
    """A receiver that answers with what it got, as some do: its answer is kept."""
    return Response(request.get_data(), status=200, content_type="application/json")


@pytest.fixture
def world(transactional_db, httpserver, settings, tmp_path):
    settings.IMPORT_DIR = tmp_path / "imports"
    settings.CONVERTEDIN_WEBHOOK_URL = httpserver.url_for("/api/webhooks/api/")
    httpserver.expect_request(
        re.compile("^/api/webhooks/api/"), method="POST"
    ).respond_with_handler(echo)
    StoreFactory(base_url="https://store.example.com/")
    row = feed_token_create(name="converted.in", token=TOKEN)
    push_token_store(token_row=row, token=TOKEN)
    webhooks.webhook_subscription_create(
        url=httpserver.url_for("/hooks"), topics=list(webhooks.TOPICS)
    )
    httpserver.expect_request("/hooks", method="POST").respond_with_handler(echo)
    for n in range(2):
        ProductFactory(handle=f"erasure-product-{n}")
    admin = User.objects.create_superuser("boss", "boss@store.example.com", "pw")
    admin_client = Client()
    admin_client.force_login(admin)
    _, raw = api_key_create(
        name="ERP",
        scopes=[
            "customers.read",
            "customers.write",
            "orders.read",
            "orders.write",
            "customers.erase",
            "customers.export",
        ],
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return {"admin": admin, "admin_client": admin_client, "api": api, "server": httpserver}


def deliver() -> None:
    while delivery.deliver_due() or webhooks.deliver_due():
        pass


def spread(world) -> tuple[Customer, list[Order]]:
    """Write the customer and their orders through the doors that keep copies."""
    api = world["api"]
    created = api.post(
        "/api/v1/customers",
        {"email": EMAIL, "first_name": FIRST, "last_name": LAST, "phone": PHONE},
        format="json",
        HTTP_IDEMPOTENCY_KEY="create-customer",
    )
    assert created.status_code == 201, created.content
    customer = Customer.objects.get(pk=created.json()["id"])
    products = [p.pk for p in ProductFactory._meta.model.objects.order_by("id")]
    orders = []
    for n, extra in enumerate([{}, {"contact_email": ORDER_EMAIL, "phone": ORDER_PHONE}]):
        answer = api.post(
            "/api/v1/orders",
            {
                "customer": customer.pk,
                "financial_status": "successful",
                "reference": f"#E-{n}",
                "customer_locale": "ar",
                "line_items": [{"product": products[n], "quantity": 2}],
                **extra,
            },
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"create-order-{n}",
        )
        assert answer.status_code == 201, answer.content
        orders.append(Order.objects.get(pk=answer.json()["id"]))
    LogEntry.objects.log_actions(
        world["admin"].pk,
        [customer],
        CHANGE,
        change_message=f"Phone was {PHONE}, email {EMAIL}.",
    )
    LogEntry.objects.log_actions(
        world["admin"].pk, orders, CHANGE, change_message=f"Contact {ORDER_EMAIL} {ORDER_PHONE}"
    )
    deliver()  # pushes and webhooks answered, the answers kept
    feed = Client()
    for endpoint in ("customers", "orders"):
        assert feed.post(f"/convertedin/{endpoint}", {"token": TOKEN}).status_code == 200
    upload = SimpleUploadedFile("customers.csv", f"email,first_name\n{EMAIL},{FIRST}\n".encode())
    ImportRun.objects.create(
        model="shop.Customer",
        file_name=f"{LAST}.csv",
        stored_name=imports.store_upload(upload, "csv"),
        file_format="csv",
        state=ImportRun.State.CHECKED,
    )
    ImportRun.objects.create(
        model="shop.Order",
        file_name="orders.csv",
        file_format="csv",
        state=ImportRun.State.REFUSED,
        refusals=[{"row": 2, "errors": {"phone": [f"{ORDER_PHONE} of {FIRST} {LAST}"]}}],
    )
    return customer, orders


def door_answers(world, customer: Customer, orders: list[Order]) -> dict[str, bytes]:
    """Every answer a door gives about the customer, their orders, and searches for them."""
    api, admin = world["api"], world["admin_client"]
    feed = Client()
    got: dict[str, bytes] = {}

    def keep(name: str, response) -> None:
        assert response.status_code == 200, (name, response.status_code)
        got[name] = b"".join(response.streaming_content) if response.streaming else response.content

    for endpoint in ("customers", "orders"):
        answer = feed.post(f"/convertedin/{endpoint}", {"token": TOKEN})
        check_body(endpoint, answer)  # the placeholders keep the feed's contract
        keep(f"feed {endpoint}", answer)
    keep("api customer", api.get(f"/api/v1/customers/{customer.pk}"))
    keep("api customers", api.get("/api/v1/customers"))
    keep("api customers by cursor", api.get("/api/v1/customers?cursor="))
    keep("api customers synced", api.get("/api/v1/customers?updated_after=2000-01-01T00:00:00Z"))
    keep("api export", api.get(f"/api/v1/customers/{customer.pk}/export"))
    keep("api orders", api.get(f"/api/v1/orders?customer={customer.pk}"))
    for order in orders:
        keep(f"api order {order.pk}", api.get(f"/api/v1/orders/{order.pk}"))
        keep(f"admin order {order.pk}", admin.get(f"/admin/shop/order/{order.pk}/change/"))
        keep(f"admin order history {order.pk}", admin.get(f"/admin/shop/order/{order.pk}/history/"))
    return _more_answers(world, customer, orders, got)


def searches(world) -> dict[str, tuple[str, int, bytes]]:
    """Each search for an erased value: (the value, how many records it found, the answer)."""
    api, admin = world["api"], world["admin_client"]
    found = {}
    for value in VALUES:
        for name, param in (("query", "query"), ("email", "email"), ("phone", "phone")):
            answer = api.get("/api/v1/customers", {param: value})
            assert answer.status_code == 200
            found[f"api {name}={value}"] = (value, len(answer.json()["data"]), answer.content)
        for model in ("customer", "order"):
            page = admin.get(f"/admin/shop/{model}/", {"q": value, "deleted": "all"})
            assert page.status_code == 200
            count = page.context["cl"].result_count
            found[f"admin {model}s ?q={value}"] = (value, count, page.content)
    return found


def leaks_beside(value: str, text: bytes) -> list[str]:
    """Leaks of a search's answer other than the echo of the text searched for."""
    shown = text.decode()
    # As typed, in the search box, in links and in links' preserved filters (quoted twice).
    echoes = {
        echo
        for f in forms(value)
        for echo in (f, escape(f), quote(f, safe=""), quote_plus(f), quote(quote(f, safe="")))
    }
    for form in sorted(echoes, key=len, reverse=True):
        shown = shown.replace(form, "")
    return leaks(shown)


def _more_answers(world, customer: Customer, orders: list[Order], got: dict) -> dict:
    admin = world["admin_client"]

    def keep(name: str, response) -> None:
        assert response.status_code == 200, (name, response.status_code)
        got[name] = b"".join(response.streaming_content) if response.streaming else response.content

    keep("admin customers", admin.get("/admin/shop/customer/?deleted=all"))
    keep("admin orders", admin.get("/admin/shop/order/"))
    keep("admin customer", admin.get(f"/admin/shop/customer/{customer.pk}/change/"))
    keep("admin customer history", admin.get(f"/admin/shop/customer/{customer.pk}/history/"))
    keep("admin log", admin.get("/admin/"))
    keep("admin import runs", admin.get("/admin/shop/importrun/"))
    for run in ImportRun.objects.all():
        keep(f"admin import run {run.pk}", admin.get(f"/admin/shop/importrun/{run.pk}/change/"))
    keep("admin push log", admin.get("/admin/convertedin/push/log/"))
    keep("admin connection", admin.get("/admin/convertedin/"))
    keep("admin webhook deliveries", admin.get("/admin/push/webhookdelivery/"))
    for model in ("customer", "order"):
        keep(
            f"admin {model} export",
            admin.post(f"/admin/shop/{model}/export/", {"format": "0", "resource": "0"}),
        )
    keep(
        "admin data export",
        admin.post(
            "/admin/shop/customer/?deleted=all",
            {"action": "export_selected", "_selected_action": [customer.pk]},
        ),
    )
    return got


def test_no_erased_value_is_left_anywhere(world, tmp_path):
    customer, orders = spread(world)
    server = world["server"]
    # The search finds the values while they are there.
    assert leaks(sql_dump()) != []
    assert leaks(door_answers(world, customer, orders)["api export"]) != []
    assert leaks(server.log[0][0].get_data()) != []
    assert any(count for _, count, _ in searches(world).values())
    assert any((tmp_path / "imports").iterdir())
    pushed_before = len(server.log)

    erased = world["api"].post(
        f"/api/v1/customers/{customer.pk}/erase", HTTP_IDEMPOTENCY_KEY="erase-once"
    )
    assert erased.status_code == 200, erased.content
    deliver()

    # What converted.in and the subscribers were told, after the erasure.
    told = [(request.path, request.get_data()) for request, _ in server.log[pushed_before:]]
    paths = sorted(path for path, _ in told)
    assert paths == sorted(
        [
            "/api/webhooks/api/customers/delete",
            "/api/webhooks/api/orders/update",
            "/api/webhooks/api/orders/update",
            "/hooks",
            "/hooks",
            "/hooks",
        ]
    )
    hooks = sorted(json.loads(body)["type"] for path, body in told if path == "/hooks")
    assert hooks == ["customers/delete", "orders/update", "orders/update"]
    assert {path: leaks(body) for path, body in told} == {path: [] for path, _ in told}

    answers = door_answers(world, customer, orders)
    assert {name: leaks(body) for name, body in answers.items()} == {name: [] for name in answers}
    found = searches(world)
    assert {
        name: (count, leaks_beside(value, body)) for name, (value, count, body) in found.items()
    } == {name: (0, []) for name in found}
    store_dir = tmp_path / "store"
    call_command("store_export", str(store_dir), stdout=io.StringIO())
    exported = {p.name: leaks(p.read_bytes()) for p in store_dir.iterdir()}
    assert exported == {name: [] for name in exported}
    assert not any((tmp_path / "imports").iterdir())  # the waiting import's file is gone
    assert leaks(sql_dump()) == []
    # The amounts are all there.
    assert [o.total_price for o in Order.objects.filter(customer=customer).order_by("id")] == [
        o.total_price for o in orders
    ]
