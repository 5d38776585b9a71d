"""What a newcomer meets first: the URLs `make run` prints answer, one log line a message,
a favicon."""

import os
import re
import subprocess
import sys
from pathlib import Path

from feeds.tokens import feed_token_create

ROOT = Path(__file__).resolve().parents[2]


def _printed_urls() -> list[str]:
    """The URLs `make run` prints, as paths (make -n shows its commands without running)."""
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": "8000"}
    out = subprocess.run(
        ["make", "-n", "run"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    printed = "\n".join(line for line in out.splitlines() if line.startswith("echo"))
    return re.findall(r"http://127\.0\.0\.1:8000(/[^\s\"]*)", printed)


def test_every_url_make_run_prints_answers(admin_client, store):
    paths = _printed_urls()
    assert {"/admin/", "/admin/convertedin/", "/api/docs/", "/healthz"} <= set(paths)
    assert "/convertedin/storeinfo" in paths
    feed_token_create(name="converted.in", token="a-newcomers-token-1234")
    for path in paths:
        if path.startswith("/convertedin/"):
            response = admin_client.post(path, {"token": "a-newcomers-token-1234"})
        else:
            response = admin_client.get(path)
        assert response.status_code == 200, path


def test_the_favicon_is_an_icon(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"


def test_admin_pages_name_the_svg_icon(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert 'rel="icon"' in page


LOG_TWICE = """
import logging, django
django.setup()
logging.getLogger("django.request").warning("Not Found: /nothing-here")
logging.getLogger("django.utils.autoreload").info("Watching for file changes")
"""


def test_local_settings_write_each_log_message_once(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "-c", LOG_TWICE], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len([line for line in lines if "Not Found: /nothing-here" in line]) == 1, lines
    assert len([line for line in lines if "Watching for file changes" in line]) == 1, lines
    assert all(line.startswith("{") for line in lines), lines
