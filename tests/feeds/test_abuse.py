"""Wrong tokens are rate-limited per client address; database outages are a 503."""

import pytest
from django.db import connection

from tests.feeds.conftest import TOKEN, check_body

pytestmark = pytest.mark.django_db


def _wrong(client, **extra):
    return client.post("/convertedin/orders", {"token": "not-the-right-token"}, **extra)


def test_wrong_tokens_get_429_with_retry_after_after_a_few_failures(client, feed, settings):
    settings.FEED_TOKEN_FAILURES_PER_MINUTE = 3
    for _ in range(3):
        assert _wrong(client).status_code == 401
    response = _wrong(client)
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    body = check_body("orders", response)
    assert body["message"].startswith("Too many requests")


def test_the_right_token_still_works_from_a_limited_address(client, feed, settings):
    settings.FEED_TOKEN_FAILURES_PER_MINUTE = 2
    for _ in range(3):
        _wrong(client)
    response = client.post("/convertedin/orders", {"token": TOKEN})
    assert response.status_code == 200


def test_a_spoofed_forwarded_for_does_not_reset_the_count(client, feed, settings):
    settings.FEED_TOKEN_FAILURES_PER_MINUTE = 2
    settings.TRUSTED_PROXY_COUNT = 0
    statuses = [_wrong(client, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(4)]
    assert statuses == [401, 401, 429, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_count(client, feed, settings):
    settings.FEED_TOKEN_FAILURES_PER_MINUTE = 2
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(2):
        _wrong(client, HTTP_X_FORWARDED_FOR="203.0.113.1")
    assert _wrong(client, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 429
    assert _wrong(client, HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_is_a_503_with_retry_after(client, feed, monkeypatch):
    from django.db.utils import OperationalError

    def down(*args, **kwargs):
        raise OperationalError("could not connect to server")

    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", down)
        response = client.post("/convertedin/orders", {"token": TOKEN})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {"message": "The store's database is unavailable. Try again shortly."}


# Bad input: a token no text can be is a wrong token, not a failure.

SURROGATE_JSON = b'{"token": "\\ud800"}'
MULTIPART = "multipart/form-data; boundary=BoUnDaRy"


def _multipart(value: bytes) -> bytes:
    return (
        b'--BoUnDaRy\r\nContent-Disposition: form-data; name="token"\r\n\r\n'
        + value
        + b"\r\n--BoUnDaRy--\r\n"
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (SURROGATE_JSON, "application/json"),
        (b'{"token": "' + TOKEN.encode() + b'\\udfff"}', "application/json"),
        (b'{"token": "\\udfff' + TOKEN.encode() + b'"}', "application/json"),
        (b"token=%ED%A0%80", "application/x-www-form-urlencoded"),
        (b"token=" + TOKEN.encode() + b"%ED%A0%80", "application/x-www-form-urlencoded"),
        (_multipart(b"\xed\xa0\x80"), MULTIPART),
        (_multipart(TOKEN.encode() + b"\xff\xfe"), MULTIPART),
    ],
)
def test_a_token_that_is_not_valid_text_is_a_wrong_token(client, feed, caplog, body, content_type):
    response = client.post("/convertedin/orders", body, content_type=content_type)
    assert response.status_code == 401
    assert check_body("orders", response) == {"message": "Unauthenticated."}
    assert [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []


def test_tokens_that_are_not_valid_text_count_as_wrong_ones(client, feed, settings):
    settings.FEED_TOKEN_FAILURES_PER_MINUTE = 2
    statuses = [
        client.post("/convertedin/orders", SURROGATE_JSON, content_type="application/json")
        for _ in range(3)
    ]
    assert [r.status_code for r in statuses] == [401, 401, 429]
