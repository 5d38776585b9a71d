"""No surprise pushes: local settings push to the app's own stand-in for converted.in, the
connection page says where pushes go, and production keeps converted.in's address."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from django.core.wsgi import get_wsgi_application
from django.db import connections
from django.urls import reverse

from push import receiver
from push.delivery import deliver_due
from push.models import PushEvent
from push.tokens import convertedin_token_add
from shop import services

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "cvin-local-token-0123456789"
CONVERTED_IN = "https://app.converted.in/api/webhooks/api/"


@pytest.fixture(autouse=True)
def _nothing_received():
    receiver._received.clear()
    yield
    receiver._received.clear()


class _Quiet(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def web_server():
    """The app on a real local HTTP server, in a thread with its own database connection."""
    server = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=_Quiet)

    def serve():
        try:
            server.serve_forever(poll_interval=0.05)
        finally:
            connections.close_all()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def _settings_of(module: str, **env_extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "CONVERTEDIN_WEBHOOK_URL"}
    env.update(env_extra, DJANGO_SETTINGS_MODULE=module)
    code = (
        "import json; from django.conf import settings as s; print(json.dumps("
        "[s.CONVERTEDIN_WEBHOOK_URL, s.PUSH_LOCAL_RECEIVER]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    url, on = json.loads(result.stdout)
    return {"url": url, "receiver": on}


def test_local_settings_push_to_the_apps_own_receiver():
    assert _settings_of("config.settings.local", WEB_PORT="8123") == {
        "url": "http://127.0.0.1:8123/dev/convertedin/",
        "receiver": True,
    }
    assert _settings_of("config.settings.local") == {
        "url": "http://127.0.0.1:8000/dev/convertedin/",
        "receiver": True,
    }


def test_local_settings_push_where_the_environment_says():
    assert _settings_of("config.settings.local", CONVERTEDIN_WEBHOOK_URL=CONVERTED_IN) == {
        "url": CONVERTED_IN,
        "receiver": True,
    }


def test_production_settings_push_to_converted_in():
    found = _settings_of(
        "config.settings.production", SECRET_KEY="x" * 50, ALLOWED_HOSTS="shop.example.com"
    )
    assert found == {"url": CONVERTED_IN, "receiver": False}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/dev/convertedin/customers/create"), ("get", "/dev/convertedin/")],
)
def test_the_receiver_is_not_there_unless_turned_on(admin_client, method, path):
    response = getattr(admin_client, method)(path, {})
    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_push_lands_in_the_local_receiver(web_server, admin_client, client, settings, caplog):
    from tests.factories import StoreFactory

    StoreFactory(base_url="https://cake-store.example.com/")
    settings.PUSH_LOCAL_RECEIVER = True
    settings.CONVERTEDIN_WEBHOOK_URL = f"{web_server}/dev/convertedin/"
    convertedin_token_add(name="converted.in", token=TOKEN)
    customer = services.customer_create(email="mona@example.com", first_name="M", last_name="A")

    with caplog.at_level("INFO", logger="push.receiver"):
        assert deliver_due() == 1

    assert PushEvent.objects.get().status == PushEvent.Status.DELIVERED
    assert [(r.getMessage(), r.fields) for r in caplog.records if r.name == "push.receiver"] == [
        ("push received locally", {"topic": "customers/create"})
    ]
    response = admin_client.get(reverse("push-receiver:received"))
    assert response.status_code == 200
    assert TOKEN not in response.content.decode()
    (entry,) = response.json()["received"]
    assert entry["topic"] == "customers/create"
    assert entry["shop_domain"] == "cake-store.example.com"
    assert entry["token"] == f"…{TOKEN[-4:]}"
    assert entry["body"]["id"] == customer.pk
    assert entry["body"]["email"] == "mona@example.com"
    # Only staff read what was received.
    assert client.get(reverse("push-receiver:received")).status_code == 302


@pytest.mark.django_db
def test_the_receiver_refuses_a_push_without_a_token_or_json(client, settings):
    settings.PUSH_LOCAL_RECEIVER = True
    url = "/dev/convertedin/orders/create"
    assert client.post(url, b"{}", content_type="application/json").status_code == 401
    bad = client.post(url, b"{", content_type="application/json", HTTP_TOKEN="t")
    assert (bad.status_code, bad.json()) == (400, {"message": "The body is not JSON."})
    assert receiver.received() == []


def _destination(admin_client) -> str:
    page = admin_client.get(reverse("feeds-connection:page"))
    assert page.status_code == 200
    html = page.content.decode()
    start = html.index('<p id="push-destination">')
    return " ".join(html[start : html.index("</p>", start)].split())


@pytest.mark.django_db
def test_the_page_says_pushes_go_to_converted_in_and_how_to_change_it(
    admin_client, store, settings
):
    settings.CONVERTEDIN_WEBHOOK_URL = CONVERTED_IN
    text = _destination(admin_client)
    assert "Pushes go to converted.in at <code>app.converted.in</code>." in text
    assert "set the <code>CONVERTEDIN_WEBHOOK_URL</code> environment variable and restart" in text


@pytest.mark.django_db
def test_the_page_says_pushes_go_to_the_local_receiver(admin_client, store, settings):
    settings.PUSH_LOCAL_RECEIVER = True
    settings.CONVERTEDIN_WEBHOOK_URL = "http://127.0.0.1:8000/dev/convertedin/"
    text = _destination(admin_client)
    assert "local stand-in for converted.in at <code>127.0.0.1:8000</code>" in text
    assert 'href="/dev/convertedin/"' in text
    assert f"(converted.in's is <code>{CONVERTED_IN}</code>)" in text


@pytest.mark.django_db
def test_the_page_shows_another_receiver_by_its_host_only(admin_client, store, settings):
    settings.CONVERTEDIN_WEBHOOK_URL = "https://user:s3cret@hooks.example.com:8443/k/s3cret/"
    text = _destination(admin_client)
    assert "Pushes go to <code>hooks.example.com:8443</code>, not to converted.in" in text
    assert "s3cret" not in text
