"""Webhooks delivered by the worker as it runs in production (db_worker on PostgreSQL), beside
the push to converted.in, while another subscriber fails."""

import os

import pytest
from standardwebhooks import Webhook

from push import webhooks
from push.models import PushEvent, WebhookDelivery
from shop import services
from tests.push.test_worker import _stop, _wait, _worker, connected  # noqa: F401

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "postgres" not in os.environ.get("DATABASE_URL", ""),
        reason="worker subprocesses share the test database on PostgreSQL only",
    ),
]


def test_the_worker_delivers_signed_webhooks_beside_the_push(httpserver, connected):  # noqa: F811
    httpserver.expect_request("/api/webhooks/api/customers/create").respond_with_data("ok")
    httpserver.expect_request("/erp").respond_with_data("ok")
    httpserver.expect_request("/broken").respond_with_data("down", status=500)
    _, secret = webhooks.webhook_subscription_create(
        url=httpserver.url_for("/erp"), topics=["customers/create"]
    )
    webhooks.webhook_subscription_create(
        url=httpserver.url_for("/broken"), topics=["customers/create"]
    )
    customers = [
        services.customer_create(email=f"w{n}@example.com", first_name="W", last_name="H")
        for n in range(20)
    ]
    worker = _worker(connected)
    try:
        _wait(
            lambda: (
                WebhookDelivery.objects.filter(
                    subscription__url__endswith="/erp", status="delivered"
                ).count()
                == len(customers)
                and not PushEvent.objects.exclude(status="delivered").exists()
            )
        )
    finally:
        _stop(worker)
    erp = [request for request, _ in httpserver.log if request.path == "/erp"]
    assert sorted(
        Webhook(secret).verify(r.get_data(), dict(r.headers))["data"]["id"] for r in erp
    ) == sorted(c.pk for c in customers)
    broken = WebhookDelivery.objects.filter(subscription__url__endswith="/broken")
    assert broken.exclude(attempts=0).exists()
    assert not broken.filter(status="delivered").exists()
