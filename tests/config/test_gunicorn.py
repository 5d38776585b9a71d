"""The production server keeps answering while clients send their bodies slowly."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_TIMEOUT": "30",
    }
    # The health check reads the push outbox: the database needs its tables.
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "-c", "config/gunicorn.py", "config.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield port
    process.kill()
    process.wait(timeout=10)


def test_the_health_check_answers_while_three_clients_send_bodies_slowly(server):
    slow = []
    for _ in range(3):
        client = socket.create_connection(("127.0.0.1", server), timeout=5)
        client.sendall(
            b"POST /convertedin/orders HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
            b"token=abc"
        )
        slow.append(client)
    time.sleep(0.5)  # the slow clients hold their connections, their bodies unfinished

    with urllib.request.urlopen(f"http://127.0.0.1:{server}/healthz", timeout=5) as answer:
        assert answer.status == 200

    for client in slow:
        client.close()
