"""The webhook subscriptions' admin: the secret shown once, targets checked, the reason a
subscriber was disabled shown."""

import pytest
from django.utils import timezone

from push.models import WebhookSubscription
from push.webhooks import subscription_secret, webhook_subscription_create

ADD = "/admin/push/webhooksubscription/add/"


@pytest.mark.django_db
def test_adding_shows_the_secret_once(admin_client, store):
    response = admin_client.post(
        ADD,
        {"url": "http://127.0.0.1:9/hooks", "topics": ["orders/create"], "active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    subscription = WebhookSubscription.objects.get()
    secret = subscription_secret(subscription)
    assert secret in response.content.decode()
    page = admin_client.get(f"/admin/push/webhooksubscription/{subscription.pk}/change/")
    assert secret not in page.content.decode()


@pytest.mark.django_db
def test_an_unsafe_target_is_a_message_on_the_form(admin_client, store, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = admin_client.post(
        ADD, {"url": "https://169.254.169.254/", "topics": ["orders/create"], "active": "on"}
    )
    assert response.status_code == 200
    assert "private or reserved address" in response.content.decode()
    assert not WebhookSubscription.objects.exists()


@pytest.mark.django_db
def test_the_change_page_shows_why_a_subscriber_was_disabled(admin_client, store):
    subscription, _ = webhook_subscription_create(
        url="http://127.0.0.1:9/hooks", topics=["orders/create"]
    )
    WebhookSubscription.objects.update(
        active=False,
        disabled_at=timezone.now(),
        disabled_reason="Every delivery failed since 2026-12-05 10:00 UTC; the last: HTTP 502",
    )
    page = admin_client.get(f"/admin/push/webhooksubscription/{subscription.pk}/change/")
    assert "Every delivery failed since 2026-12-05 10:00 UTC" in page.content.decode()
    log = admin_client.get(
        f"/admin/push/webhookdelivery/?subscription__id__exact={subscription.pk}"
    )
    assert log.status_code == 200


@pytest.mark.django_db
def test_switching_a_disabled_subscriber_on_clears_the_reason(admin_client, store):
    subscription, _ = webhook_subscription_create(
        url="http://127.0.0.1:9/hooks", topics=["orders/create"]
    )
    WebhookSubscription.objects.update(
        active=False, disabled_at=timezone.now(), disabled_reason="Every delivery failed"
    )
    response = admin_client.post(
        f"/admin/push/webhooksubscription/{subscription.pk}/change/",
        {"url": subscription.url, "topics": ["orders/create"], "active": "on"},
    )
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.active
    assert (subscription.disabled_at, subscription.disabled_reason) == (None, "")
