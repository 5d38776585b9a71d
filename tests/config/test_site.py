"""Site-wide behaviour: health check, JSON errors for machine clients, logs, login throttle."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse

from core import ratelimit

ROOT = Path(__file__).resolve().parents[2]


def test_healthz_answers_200_when_the_database_answers(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "up",
        "push": {"stalled": False, "stalled_since": None},
    }


def test_healthz_answers_503_when_the_database_does_not(client, db, monkeypatch):
    def broken(*args, **kwargs):
        raise connection.Database.OperationalError("server closed the connection")

    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", broken)
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/convertedin/nothing-here"])
def test_unknown_machine_paths_get_a_json_404(client, db, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "message" in response.json()


def test_unknown_admin_paths_get_an_html_404(client, db):
    response = client.get("/not-a-page")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_request_log_is_one_json_line_without_query_string(client, db, caplog):
    with caplog.at_level(logging.INFO, logger="request"):
        client.get("/healthz?token=secret-in-query")
    record = next(r for r in caplog.records if r.name == "request")
    from core.middleware import JsonLinesFormatter

    line = JsonLinesFormatter().format(record)
    entry = json.loads(line)
    assert entry["path"] == "/healthz"
    assert entry["status"] == 200
    assert "secret-in-query" not in line


def test_forwarded_for_is_ignored_unless_a_proxy_is_trusted(rf, settings):
    request = rf.get("/", HTTP_X_FORWARDED_FOR="1.2.3.4", REMOTE_ADDR="10.0.0.9")
    settings.TRUSTED_PROXY_COUNT = 0
    assert ratelimit.client_ip(request) == "10.0.0.9"
    settings.TRUSTED_PROXY_COUNT = 1
    assert ratelimit.client_ip(request) == "1.2.3.4"
    spoofed = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 1.2.3.4", REMOTE_ADDR="10.0.0.9")
    assert ratelimit.client_ip(spoofed) == "1.2.3.4"


def test_admin_login_is_refused_after_repeated_failures(client, django_user_model, settings):
    settings.ADMIN_LOGIN_FAILURES_PER_USER = 3
    django_user_model.objects.create_superuser("boss", "", "right-password-123")
    url = reverse("admin:login")
    for _ in range(3):
        response = client.post(url, {"username": "boss", "password": "wrong"})
        assert response.status_code == 200
    response = client.post(url, {"username": "boss", "password": "right-password-123"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_admin_login_still_works_before_the_limit(client, django_user_model):
    django_user_model.objects.create_superuser("boss", "", "right-password-123")
    url = reverse("admin:login")
    client.post(url, {"username": "boss", "password": "wrong"})
    response = client.post(url, {"username": "boss", "password": "right-password-123"})
    assert response.status_code == 302


def test_a_refused_login_attempt_does_not_check_the_password(client, django_user_model, settings):
    settings.ADMIN_LOGIN_FAILURES_PER_USER = 2
    django_user_model.objects.create_superuser("boss", "", "right-password-123")
    url = reverse("admin:login")
    for _ in range(2):
        client.post(url, {"username": "boss", "password": "wrong"})
    response = client.post(url, {"username": "boss", "password": "right-password-123"})
    assert response.status_code == 429
    assert response.content == b"Too many failed login attempts. Try again in a few minutes."
    assert "_auth_user_id" not in client.session


def test_a_successful_login_gives_its_count_back(client, django_user_model, settings):
    settings.ADMIN_LOGIN_FAILURES_PER_USER = 3
    django_user_model.objects.create_superuser("boss", "", "right-password-123")
    url = reverse("admin:login")
    for _ in range(2):
        assert client.post(url, {"username": "boss", "password": "wrong"}).status_code == 200
    right = client.post(url, {"username": "boss", "password": "right-password-123"})
    assert right.status_code == 302
    client.logout()
    assert client.post(url, {"username": "boss", "password": "wrong"}).status_code == 200
    assert client.post(url, {"username": "boss", "password": "wrong"}).status_code == 429


def test_login_posts_refused_before_the_password_is_checked_do_not_count(
    django_user_model, settings
):
    from django.test import Client

    settings.ADMIN_LOGIN_FAILURES_PER_USER = 2
    django_user_model.objects.create_superuser("boss", "", "right-password-123")
    url = reverse("admin:login")
    no_csrf = Client(enforce_csrf_checks=True)
    for _ in range(5):
        assert no_csrf.post(url, {"username": "boss", "password": "wrong"}).status_code == 403
    response = Client().post(url, {"username": "boss", "password": "right-password-123"})
    assert response.status_code == 302


def _run_check(env_extra):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS"}}
    env.update(env_extra, DJANGO_SETTINGS_MODULE="config.settings.production")
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = _run_check({"ALLOWED_HOSTS": "shop.example.com"})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_settings_refuse_to_start_without_allowed_hosts():
    result = _run_check({"SECRET_KEY": "x" * 60})
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_production_settings_pass_the_deployment_check():
    result = _run_check(
        {"SECRET_KEY": "k3y-" + "abcdefghij" * 6, "ALLOWED_HOSTS": "shop.example.com"}
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_take_a_secret_key_starting_with_a_dollar_as_it_is():
    result = _run_check(
        {"SECRET_KEY": "$k3y-" + "abcdefghij" * 6, "ALLOWED_HOSTS": "shop.example.com"}
    )
    assert result.returncode == 0, result.stdout + result.stderr


PRINT_SETTINGS = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({
    "hosts": settings.ALLOWED_HOSTS,
    "origins": settings.CSRF_TRUSTED_ORIGINS,
    "database": [db["ENGINE"], db["NAME"], db["HOST"], db["PORT"], db["CONN_MAX_AGE"]],
    "cache": settings.CACHES["default"],
    "redirect": settings.SECURE_SSL_REDIRECT,
    "hsts": settings.SECURE_HSTS_SECONDS,
    "proxies": settings.TRUSTED_PROXY_COUNT,
    "feed_key": settings.FEED_TOKEN_HASH_KEY,
}))
"""


def test_production_settings_read_the_environment():
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="s3cret",
        ALLOWED_HOSTS="shop.example.com,www.shop.example.com",
        CSRF_TRUSTED_ORIGINS="https://shop.example.com",
        DATABASE_URL="postgres://store:pw@db.internal:5433/store",
        CONN_MAX_AGE="30",
        REDIS_URL="redis://cache.internal:6379/1",
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="60",
        TRUSTED_PROXY_COUNT="1",
    )
    result = subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "hosts": ["shop.example.com", "www.shop.example.com"],
        "origins": ["https://shop.example.com"],
        "database": ["django.db.backends.postgresql", "store", "db.internal", 5433, 30],
        "cache": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://cache.internal:6379/1",
        },
        "redirect": False,
        "hsts": 60,
        "proxies": 1,
        "feed_key": "s3cret",
    }


def test_a_database_outage_in_a_view_is_a_json_503_not_a_500(rf):
    from django.db.utils import OperationalError

    from core.middleware import DatabaseUnavailableMiddleware

    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    request = rf.post("/convertedin/orders")
    response = middleware.process_exception(request, OperationalError("connection refused"))
    assert response.status_code == 503
    assert json.loads(response.content)["message"].startswith("The store's database")
    assert response["Retry-After"] == "5"
    assert middleware.process_exception(request, ValueError("other")) is None


def test_no_token_api_key_or_password_ever_reaches_the_logs(client, store, caplog):
    """Drive the feed, the API and the admin login with secrets, then grep every log line."""
    from django.contrib.auth import get_user_model

    from core.middleware import JsonLinesFormatter
    from feeds.tokens import feed_token_create
    from shop.api.services import api_key_create

    feed_secret = "feed-secret-token-5f3a9c1e"
    feed_token_create(name="converted.in", token=feed_secret)
    _, api_secret = api_key_create(name="erp", scopes=["customers.read"])
    password = "admin-password-7Yq2!x"
    get_user_model().objects.create_superuser("boss", "", password)

    with caplog.at_level(logging.DEBUG):
        client.post("/convertedin/orders", {"token": feed_secret, "page": "1"})
        client.post("/convertedin/orders", {"token": feed_secret + "-wrong"})
        client.post(f"/convertedin/orders?token={feed_secret}", {"token": feed_secret})
        client.post("/convertedin/orders", {"token": feed_secret, "page": "x"})
        client.get("/api/v1/customers", HTTP_AUTHORIZATION=f"Bearer {api_secret}")
        client.get("/api/v1/customers", HTTP_AUTHORIZATION=f"Bearer {api_secret}x")
        client.post(reverse("admin:login"), {"username": "boss", "password": password + "x"})
        client.post(reverse("admin:login"), {"username": "boss", "password": password})

    formatter = JsonLinesFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert any('"logger": "request"' in line for line in lines)
    text = "\n".join(lines)
    for secret in (feed_secret, api_secret, api_secret[-20:], password):
        assert secret not in text


def test_a_token_in_a_feed_path_never_reaches_the_logs(client, db, caplog):
    from core.middleware import JsonLinesFormatter

    secret = "token-in-the-path-8c1d"
    with caplog.at_level(logging.DEBUG):
        response = client.post(f"/convertedin/orders/{secret}", {"page": "1"})
    assert response.status_code == 404
    lines = [JsonLinesFormatter().format(record) for record in caplog.records]
    assert any("/convertedin/orders/…" in line for line in lines)
    assert not [line for line in lines if secret in line]


@pytest.mark.parametrize(
    "url",
    [
        "/admin/shop/customer/?currency__exact=%00",
        "/admin/shop/order/?financial_status__exact=%00",
        "/admin/shop/product/?vendor=%00",
        "/admin/autocomplete/?app_label=shop&model_name=order&field_name=customer&term=%00",
        "/admin/shop/customer/?q=a%00b",
    ],
)
def test_a_nul_in_an_admin_query_is_a_400(admin_client, url):
    response = admin_client.get(url)
    assert response.status_code == 400
    assert b"NUL" in response.content


def test_a_nul_in_an_api_query_is_a_json_400(client, db):
    response = client.get("/api/v1/customers?query=%00")
    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "code": "invalid",
        "message": "A parameter holds a NUL character.",
        "errors": {"query": ["NUL characters are not allowed."]},
    }


def test_a_nul_in_a_login_name_is_refused_not_a_database_error(client, db):
    url = reverse("admin:login")
    as_form = client.post(url, {"username": "u\x00", "password": "x"})
    urlencoded = client.post(
        url, "username=u%00&password=x", content_type="application/x-www-form-urlencoded"
    )
    assert as_form.status_code == 200  # the login form refuses it: "Null characters..."
    assert "Null characters are not allowed" in as_form.content.decode()
    assert urlencoded.status_code == 400


@pytest.mark.parametrize("variant", [" boss", "boss ", "\tboss", "   boss   "])
def test_a_locked_login_stays_locked_however_the_name_is_padded(
    client, django_user_model, settings, variant
):
    settings.ADMIN_LOGIN_FAILURES_PER_USER = 3
    django_user_model.objects.create_superuser("boss", "", "right-password-123")
    url = reverse("admin:login")
    for _ in range(3):
        client.post(url, {"username": "boss", "password": "wrong"})
    response = client.post(url, {"username": variant, "password": "right-password-123"})
    assert response.status_code == 429


@pytest.mark.parametrize("path", ["/convertedin/orders", "/api/v1/customers"])
def test_plain_http_to_a_machine_endpoint_is_a_json_403_not_a_redirect(client, db, settings, path):
    settings.SECURE_SSL_REDIRECT = True
    response = client.post(path, {"token": "x"})
    assert response.status_code == 403
    assert "Use HTTPS" in response.json()["message"]
    assert client.get("/admin/").status_code == 301  # people are still sent to HTTPS


@pytest.mark.parametrize(
    "url", ["/admin/", "/admin/shop/order/", "/api/docs/", "/admin/convertedin/"]
)
def test_every_html_page_carries_a_content_security_policy(admin_client, store, url):
    response = admin_client.get(url)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
