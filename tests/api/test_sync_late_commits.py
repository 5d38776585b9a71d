"""An incremental sync misses no record whose transaction commits after the sync went past
where that record sorts: a write transaction held open while a client syncs to the end and
stores its cursor, committed afterwards, is on the client's next sync from that cursor.

On PostgreSQL each write holds its transaction open on a connection of its own (a thread)
while the client syncs over HTTP against the live server. On SQLite, whose writers take
turns, the store is a file that a live server (a subprocess) and writers in processes of their
own share, as in a single-server install.
"""

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from django.db import connection, transaction

from shop import services
from shop.models import Customer
from tests.factories import CustomerFactory

ROOT = Path(__file__).resolve().parents[2]
SINCE = "2000-01-01T00:00:00Z"
WAIT = 30  # seconds: the longest any one step of these tests may take


class Client:
    """A client that syncs customers: updated_after with cursor=, then links.next to the end,
    keeping meta.next_cursor to resume from on its next sync."""

    def __init__(self, base_url: str, key: str):
        self.url = f"{base_url}/api/v1/customers"
        self.headers = {"Authorization": f"Bearer {key}"}

    def sync(self, cursor: str = "") -> tuple[dict[int, str], str]:
        """The first name of each customer the sync listed (the latest listing wins), and the
        cursor to store."""
        params = {"updated_after": SINCE, "cursor": cursor, "per_page": 2}
        response = requests.get(self.url, params=params, headers=self.headers, timeout=WAIT)
        seen: dict[int, str] = {}
        while True:
            assert response.status_code == 200, response.text
            body = response.json()
            seen.update({record["id"]: record["first_name"] for record in body["data"]})
            cursor = body["meta"]["next_cursor"] or cursor
            if body["links"]["next"] is None:
                return seen, cursor
            response = requests.get(body["links"]["next"], headers=self.headers, timeout=WAIT)


class HeldWrite(threading.Thread):
    """Run `write` in a transaction on a connection of its own, and hold the transaction
    open (the rows written, uncommitted) until release() or, with `after`, run that too."""

    def __init__(self, write: Callable[[], None], after: Callable[[], None] | None = None):
        super().__init__(daemon=True)
        self.write, self.after = write, after
        self.written, self.released = threading.Event(), threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with transaction.atomic():
                self.write()
                self.written.set()
                assert self.released.wait(WAIT)
                if self.after is not None:
                    self.after()
        except BaseException as exc:  # reported by finish()
            self.error = exc
            self.written.set()
        finally:
            connection.close()

    def hold(self) -> "HeldWrite":
        self.start()
        assert self.written.wait(WAIT)
        assert self.error is None, self.error
        return self

    def finish(self) -> None:
        self.released.set()
        self.join(WAIT)
        assert not self.is_alive()
        assert self.error is None, self.error


def rename(pk: int, name: str) -> Callable[[], None]:
    def write() -> None:
        services.customer_update(customer=Customer.objects.get(pk=pk), first_name=name)

    return write


@pytest.fixture
def postgres_client(live_server, make_key, store) -> Client:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has its own test of writers taking turns, below")
    return Client(live_server.url, make_key())


def test_a_write_committed_after_a_sync_passed_it_is_on_the_next_sync(postgres_client):
    late, other = CustomerFactory(first_name="Early"), CustomerFactory(first_name="Other")
    _, stored = postgres_client.sync()

    held = HeldWrite(rename(late.pk, "Late")).hold()
    # Committed while the late write is open, and stamped after it.
    rename(other.pk, "After")()
    during, stored = postgres_client.sync(stored)
    held.finish()
    after, stored = postgres_client.sync(stored)

    assert after == {late.pk: "Late", other.pk: "After"}
    # The pages stopped where the open transaction began: the later write waited for it.
    assert during == {}
    assert postgres_client.sync(stored)[0] == {}


def test_a_transaction_begun_earlier_committing_later_stamps_holds_no_open_write_back(
    postgres_client,
):
    """The open write began after a longer transaction (an import batch) that writes on and
    commits while it is open: that batch's later record waits too, though its transaction is
    older than the open one. Stopping only before records of transactions not older than the
    oldest one running (pg_snapshot_xmin) would list it, and the late record would be lost."""
    late, first, second = (CustomerFactory(first_name=name) for name in ("A", "B", "C"))
    _, stored = postgres_client.sync()

    batch = HeldWrite(rename(first.pk, "Batch 1"), after=rename(second.pk, "Batch 2")).hold()
    held = HeldWrite(rename(late.pk, "Late")).hold()
    batch.finish()  # writes its second record, stamped after the late one, and commits
    during, stored = postgres_client.sync(stored)
    held.finish()
    after, stored = postgres_client.sync(stored)

    assert {**during, **after} == {late.pk: "Late", first.pk: "Batch 1", second.pk: "Batch 2"}
    assert late.pk in after
    assert postgres_client.sync(stored)[0] == {}


def test_with_no_write_open_a_committed_write_is_on_the_very_next_sync(postgres_client):
    customer = CustomerFactory(first_name="Before")
    _, stored = postgres_client.sync()
    rename(customer.pk, "After")()
    assert postgres_client.sync(stored)[0] == {customer.pk: "After"}


# SQLite -----------------------------------------------------------------------------------

SETUP = """
from shop.api.services import api_key_create
from shop.api.models import SCOPE_NAMES
from shop.models import Store
from tests.factories import CustomerFactory

Store.load()
ids = [CustomerFactory(first_name=name).pk for name in ("Early", "Other", "Third")]
_, key = api_key_create(name="Sync", scopes=sorted(SCOPE_NAMES))
print(json.dumps({"ids": ids, "key": key}))
"""
# A write transaction, step by step on each line read: begin (taking the write lock), write
# one customer through the services, commit. It says each step's end, and when it is about
# to begin.
STEPWISE = """
from django.db import transaction
from shop import services
from shop.models import Customer

print("ready", flush=True)
with transaction.atomic():
    print("begun", flush=True)
    sys.stdin.readline()
    services.customer_update(customer=Customer.objects.get(pk={pk}), first_name={name!r})
    print("written", flush=True)
    sys.stdin.readline()
print("committed", flush=True)
"""
# The server's rate limits in memory, so that its reads write nothing and never wait for a
# writer: the sync runs while writes are open.
SERVER_SETTINGS = """
from config.settings.test import *  # noqa: F403

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Writer:
    """A STEPWISE write transaction in a process of its own."""

    def __init__(self, process: subprocess.Popen):
        assert process.stdin is not None
        assert process.stdout is not None
        self.process, self.stdin = process, process.stdin
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stdout) -> None:
        for line in stdout:
            self.lines.put(line.strip())

    def said(self, timeout: float = WAIT) -> str | None:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def go(self) -> None:
        self.stdin.write("\n")
        self.stdin.flush()


class SqliteStore:
    """A store in a SQLite file, served by `manage.py runserver` and written by processes."""

    def __init__(self, path: Path, redis_url: str):
        (path.parent / "server_settings.py").write_text(SERVER_SETTINGS)
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{path}",
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=self.env, check=True
        )
        self.server_env = {
            **self.env,
            "DJANGO_SETTINGS_MODULE": "server_settings",
            "PYTHONPATH": os.pathsep.join([str(path.parent), str(ROOT)]),
            # The server counts its rate limits in Redis, as a SQLite store that serves syncs
            # beside long writes should: counted in the database, each request would queue
            # for the write lock the open write holds, and the test holds it until the sync
            # has run.
            "RATELIMIT_REDIS_URL": redis_url,
        }
        self.processes: list[subprocess.Popen] = []

    def script(self, code: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-c", f"import json, sys, django\ndjango.setup()\n{code}"],
            cwd=ROOT,
            env=env or self.env,
            text=True,
            **kwargs,
        )
        self.processes.append(process)
        return process

    def run(self, code: str) -> str:
        process = self.script(code, stdout=subprocess.PIPE)
        out, _ = process.communicate(timeout=WAIT)
        assert process.returncode == 0
        return out.strip().splitlines()[-1]

    def writer(self, pk: int, name: str) -> Writer:
        code = STEPWISE.format(pk=pk, name=name)
        return Writer(self.script(code, stdin=subprocess.PIPE, stdout=subprocess.PIPE))

    def serve(self) -> str:
        port = _free_port()
        self.script(
            f"from django.core.management import call_command\n"
            f"call_command('runserver', '127.0.0.1:{port}', use_reloader=False)",
            env=self.server_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return f"http://127.0.0.1:{port}"
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the server did not start")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(WAIT)


@pytest.fixture
def sqlite_store(tmp_path, request):
    if "postgres" in os.environ.get("DATABASE_URL", ""):
        pytest.skip("on PostgreSQL the tests above run against the test database")
    store = SqliteStore(tmp_path / "store.sqlite3", request.getfixturevalue("redis_url"))
    try:
        yield store
    finally:
        store.stop()


def test_on_sqlite_a_write_waiting_for_the_lock_stamps_after_the_open_one_commits(
    sqlite_store,
):
    """A write that began while another write transaction held the lock waits, and stamps
    its record only once it holds the lock: after the first committed. A sync run between
    the two commits, which goes past the first, still gets the second on its next sync."""
    setup = json.loads(sqlite_store.run(SETUP))
    first_pk, second_pk, _ = setup["ids"]
    client = Client(sqlite_store.serve(), setup["key"])
    _, stored = client.sync()

    first = sqlite_store.writer(first_pk, "First")
    assert first.said() == "ready"
    assert first.said() == "begun"
    second = sqlite_store.writer(second_pk, "Second")
    assert second.said() == "ready"
    assert second.said(timeout=1) is None  # waits for the lock the first holds
    first.go()
    assert first.said() == "written"
    # The server reads beside the open write: nothing uncommitted is listed.
    during, stored = client.sync(stored)
    assert during == {}

    first.go()
    assert first.said() == "committed"
    assert second.said() == "begun"
    second.go()
    assert second.said() == "written"
    # Between the two commits: the first is listed, and the cursor goes past its stamp.
    between, stored = client.sync(stored)
    assert between == {first_pk: "First"}

    second.go()
    assert second.said() == "committed"
    after, stored = client.sync(stored)
    assert after == {second_pk: "Second"}
    assert client.sync(stored)[0] == {}
