"""The Recompute button as it runs in production: a `manage.py db_worker` subprocess counts
the report (PostgreSQL only: the subprocess shares the test database)."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection
from django.urls import reverse

from shop.models import Customer, QualityRun
from tests.factories import CustomerFactory

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "postgres" not in os.environ.get("DATABASE_URL", ""),
        reason="worker subprocesses share the test database on PostgreSQL only",
    ),
]


def _run_worker_until_idle() -> None:
    database = urlsplit(os.environ["DATABASE_URL"])
    test_db = urlunsplit(database._replace(path="/" + connection.settings_dict["NAME"]))
    env = {**os.environ, "DATABASE_URL": test_db, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_recompute_is_counted_by_the_worker_and_shown(admin_client, store):
    CustomerFactory(phone="")
    CustomerFactory()

    admin_client.post(reverse("admin:shop_quality"))
    _run_worker_until_idle()

    run = QualityRun.objects.get()
    assert run.computed_at is not None
    response = admin_client.get(reverse("admin:shop_quality"))
    assert "As of" in response.content.decode()
    counts = {
        (s.model, f.check.key): f.count for s in response.context["sections"] for f in s.findings
    }
    assert counts[(Customer, "missing_phone")] == 1
