import pytest

from feeds.tokens import feed_token_create
from push.tokens import push_token_store

TOKEN = "cvin-push-token-0123456789"


@pytest.fixture
def receiver(httpserver, settings, store):
    """converted.in's webhook endpoint on a real local HTTP server; a push token kept."""
    settings.CONVERTEDIN_WEBHOOK_URL = httpserver.url_for("/api/webhooks/api/")
    store.base_url = "https://cake-store.example.com/"
    store.save()
    row = feed_token_create(name="converted.in", token=TOKEN)
    push_token_store(token_row=row, token=TOKEN)
    return httpserver
