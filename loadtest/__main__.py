"""Load and fault tests against gunicorn and PostgreSQL, on loopback only.

Run with `make loadtest` (which starts a throwaway PostgreSQL through bin/with-postgres), or
`python -m loadtest --seconds 60` with DATABASE_URL pointing at a PostgreSQL database that may
be wiped. Every request loop is bounded in time and count and stops by itself.

Phases:
1. load: 8 crawlers walking the orders and customers feeds end to end, 4 writers creating and
   updating orders through the REST API, 2 clients soft-deleting and restoring orders, and a
   stream of wrong feed tokens; every crawl is checked for lost and duplicated records;
2. PostgreSQL stopped for a few seconds mid-crawl: the app answers 503, then recovers;
3. a gunicorn worker killed mid-request;
4. clients that disconnect mid-response.
Afterwards, no order may be half-written: each has line items and totals that match them.
During the load a push worker (`manage.py db_worker`) sends every change to a local stand-in
for converted.in; once the load ends and the queue drains, every outbox event written during
the load must have been delivered (none failed or dropped).
"""

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
FEED_TOKEN = "loadtest-feed-token-" + "x" * 16
MAX_REQUESTS = 200_000  # a hard bound on top of the time limit
PUSH_DRAIN_SECONDS = 180  # how long the push queue may take to drain after the load


SECURITY_HEADING = "## Security"


def django_env(port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="loadtest-secret-" + "k" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        # The load comes from one machine: the clients say who they are in
        # X-Forwarded-For, as a reverse proxy would, and the app trusts one proxy.
        TRUSTED_PROXY_COUNT="1",
        BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=os.environ.get("WEB_CONCURRENCY", "4"),
        CONN_MAX_AGE="60",
    )
    return env


def manage(env, *args) -> str:
    out = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


# HTTP ------------------------------------------------------------------------------------


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)
    connection_errors: int = 0
    requests: int = 0

    def record(self, label: str, status: int, seconds: float) -> None:
        with self.lock:
            self.latencies[label].append(seconds)
            self.statuses[(label, status)] += 1
            self.requests += 1

    def errors(self) -> int:
        with self.lock:
            self.connection_errors += 1
            return self.connection_errors

    def five_xx(self, allowed_503: bool = False) -> int:
        return sum(
            n
            for (_, status), n in self.statuses.items()
            if status >= 500 and not (allowed_503 and status == 503)
        )


class Client:
    def __init__(self, base: str, stats: Stats, address: str, deadline: float):
        self.base = base
        self.stats = stats
        self.address = address
        self.deadline = deadline

    def call(self, label, method, path, *, form=None, body=None, headers=None, timeout=30):
        if self.stats.requests >= MAX_REQUESTS:
            raise TimeoutError("request budget spent")
        data = None
        hdrs = {"X-Forwarded-For": self.address, **(headers or {})}
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            status = exc.code
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            self.stats.errors()
            return None, None
        self.stats.record(label, status, time.perf_counter() - started)
        try:
            return status, json.loads(payload) if payload else None
        except ValueError:
            return status, payload


def crawl(client: Client, endpoint: str, per_page: int, allow_outage: bool = False):
    """Walk every page of a feed endpoint; return the ids in page order, or None if the
    deadline came first. 503s and dropped connections are retried after a pause."""
    ids: list[int] = []
    page = 1
    while time.monotonic() < client.deadline:
        status, data = client.call(
            f"feed:{endpoint}",
            "POST",
            f"/convertedin/{endpoint}",
            form={"token": FEED_TOKEN, "page": page, "per_page": per_page},
        )
        if status is None or status >= 500:
            # Counted by Stats; a crawler retries the page, as converted.in's would.
            time.sleep(0.5)
            continue
        if status != 200:
            raise AssertionError(f"{endpoint} page {page}: {status} {data}")
        ids.extend(item["id"] for item in data["data"])
        if page >= data["last_page"]:
            return ids
        page += 1
    return None


# The check -------------------------------------------------------------------------------


class Ledger:
    """What the deleters did, so a crawl is judged only on the records that existed, live,
    for the whole crawl and that no concurrent delete could have moved."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events: list[tuple[float, int]] = []  # (time, order id) of deletes and restores

    def note(self, order_id: int) -> None:
        with self.lock:
            self.events.append((time.monotonic(), order_id))

    def touched(self, start: float, end: float) -> set[int]:
        with self.lock:
            return {oid for t, oid in self.events if start - 1 <= t <= end + 1}


def live_ids(model_name: str) -> set[int]:
    from django.db import DatabaseError, connection

    from shop.models import Customer, Order

    model = {"orders": Order, "customers": Customer}[model_name]
    for _ in range(60):
        try:
            return set(model.objects.alive().values_list("id", flat=True))
        except DatabaseError:  # the database is being restarted: reconnect and retry
            connection.close()
            time.sleep(0.5)
    raise RuntimeError("the database did not come back")


@dataclass
class CrawlResult:
    crawls: int = 0
    checked: int = 0
    lost: int = 0
    duplicated: int = 0
    moved: int = 0
    unfinished: int = 0


def crawler(client, endpoint, ledger, result, lock, stop):
    while not stop.is_set() and time.monotonic() < client.deadline:
        started = time.monotonic()
        before = live_ids(endpoint)
        ids = crawl(client, endpoint, per_page=random.choice([100, 250, 500]))
        ended = time.monotonic()
        if ids is None:
            with lock:
                result.unfinished += 1
            return
        after = live_ids(endpoint)
        seen = Counter(ids)
        stable = before & after
        if endpoint == "orders":
            touched = ledger.touched(started, ended)
            stable -= touched
            if touched:
                # A soft delete or restore shifts every later record by one place (the
                # contract pages by offset over live rows), so only records before the first
                # touched id are judged.
                stable = {i for i in stable if i < min(touched)}
        lost = len(stable - set(seen))
        duplicated = sum(1 for i in stable if seen[i] > 1)
        moved = sum(1 for i, n in seen.items() if n > 1 and i not in stable)
        with lock:
            result.crawls += 1
            result.checked += len(stable)
            result.lost += lost
            result.duplicated += duplicated
            result.moved += moved


def writer(client, api_key, customers, products, created, stop):
    auth = {"Authorization": f"Bearer {api_key}"}
    rng = random.Random()
    while not stop.is_set() and time.monotonic() < client.deadline:
        items = [
            {"product": rng.choice(products), "quantity": rng.randint(1, 3)}
            for _ in range(rng.randint(1, 4))
        ]
        status, data = client.call(
            "api:orders create",
            "POST",
            "/api/v1/orders",
            body={
                "customer": rng.choice(customers),
                "financial_status": "processing",
                "line_items": items,
            },
            headers=auth,
        )
        if status == 201:
            order_id = data["data"]["id"] if "data" in data else data["id"]
            created.append(order_id)
            client.call(
                "api:orders update",
                "PATCH",
                f"/api/v1/orders/{order_id}",
                body={"financial_status": "successful"},
                headers=auth,
            )
        elif status is None or status in {429, 503}:
            time.sleep(0.2)


def deleter(client, api_key, created, ledger, stop):
    auth = {"Authorization": f"Bearer {api_key}"}
    rng = random.Random()
    while not stop.is_set() and time.monotonic() < client.deadline:
        if not created:
            time.sleep(0.1)
            continue
        order_id = rng.choice(created[-200:])
        ledger.note(order_id)
        client.call("api:orders delete", "DELETE", f"/api/v1/orders/{order_id}", headers=auth)
        time.sleep(0.05)
        client.call(
            "api:orders restore", "POST", f"/api/v1/orders/{order_id}/restore", headers=auth
        )
        ledger.note(order_id)


def bad_tokens(client, stop):
    n = 0
    while not stop.is_set() and time.monotonic() < client.deadline:
        n += 1
        client.call(
            "feed:bad token",
            "POST",
            "/convertedin/orders",
            form={"token": f"wrong-token-{n:08d}", "page": 1},
        )
        time.sleep(0.02)


# Server ----------------------------------------------------------------------------------


class Server:
    def __init__(self, env, port):
        self.env, self.port = env, port
        self.log = open(ROOT / "var" / "loadtest-gunicorn.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_healthy()

    def wait_healthy(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{self.port}/healthz"
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise RuntimeError("gunicorn did not become healthy")

    def workers(self) -> list[int]:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True
        )
        return [int(p) for p in out.stdout.split()]

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def pg_ctl(action: str) -> None:
    pg_dir, pg_bin, port = (
        os.environ["PGTMP_DIR"],
        os.environ["PGTMP_BIN"],
        os.environ["PGTMP_PORT"],
    )
    cmd = [f"{pg_bin}/pg_ctl", "-D", f"{pg_dir}/data", "-w", "-l", f"{pg_dir}/server.log"]
    if action == "stop":
        cmd += ["-m", "fast", "stop"]
    else:
        cmd += ["-o", f"-k {pg_dir} -p {port} -c listen_addresses='' -c fsync=off", "start"]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "pgtmp", "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True)


# Push ------------------------------------------------------------------------------------


class PushReceiver:
    """converted.in's webhook endpoint, on loopback: notes each record that arrives."""

    def __init__(self):
        from push.outbox import TOPIC_PREFIX

        entities = {prefix: entity for entity, prefix in TOPIC_PREFIX.items()}
        self.lock = threading.Lock()
        self.received: set[tuple[str, int]] = set()
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as converted.in's server would

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prefix = self.path.rstrip("/").split("/")[-2]
                with receiver.lock:
                    receiver.requests += 1
                    receiver.received.add((entities.get(prefix, prefix), int(body["id"])))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/webhooks/api/"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class PushWorker:
    """`manage.py db_worker` as the Procfile runs it, pushing to the receiver."""

    def __init__(self, env, url):
        from push.tasks import pump_start

        pump_start()
        env = {**env, "CONVERTEDIN_WEBHOOK_URL": url, "PUSH_POLL_SECONDS": "0.1"}
        self.log = open(ROOT / "var" / "loadtest-worker.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [PYTHON, "manage.py", "db_worker", "--interval", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def last_push_event() -> int:
    from django.db.models import Max

    from push.models import PushEvent

    return PushEvent.objects.aggregate(last=Max("id"))["last"] or 0


@dataclass
class PushResult:
    created: int = 0
    delivered: int = 0
    waiting: int = 0
    failed: int = 0
    never_arrived: int = 0  # records whose events are marked delivered but never arrived
    orders_without_event: int = 0  # orders the API created that no event names
    drained_after: float | None = None  # seconds after the load's end

    @property
    def lost(self) -> int:
        return self.failed + self.never_arrived + self.orders_without_event


def push_result(after_event: int, receiver: PushReceiver, created_orders: list[int]) -> PushResult:
    """Wait (bounded) for the events written during the load to drain; then account for each."""
    from django.db.models import Count

    from push.models import PushEvent

    events = PushEvent.objects.filter(id__gt=after_event)
    waiting = events.filter(status__in=[PushEvent.Status.PENDING, PushEvent.Status.SENDING])
    started = time.monotonic()
    drained_after = None
    while time.monotonic() - started < PUSH_DRAIN_SECONDS:
        if not waiting.exists():
            drained_after = time.monotonic() - started
            break
        time.sleep(0.5)
    counts = dict(events.values_list("status").annotate(n=Count("id")).order_by())
    delivered = set(events.filter(status="delivered").values_list("entity", "record_id"))
    named = set(events.filter(entity="orders").values_list("record_id", flat=True))
    with receiver.lock:
        arrived = set(receiver.received)
    return PushResult(
        created=sum(counts.values()),
        delivered=counts.get(PushEvent.Status.DELIVERED, 0),
        waiting=counts.get(PushEvent.Status.PENDING, 0) + counts.get(PushEvent.Status.SENDING, 0),
        failed=counts.get(PushEvent.Status.FAILED, 0),
        never_arrived=len(delivered - arrived),
        orders_without_event=len(set(created_orders) - named),
        drained_after=drained_after,
    )


def report_push(result: PushResult, elapsed: float, receiver: PushReceiver) -> list[str]:
    drained = (
        f"{result.drained_after:.1f} s"
        if result.drained_after is not None
        else f"not within {PUSH_DRAIN_SECONDS} s"
    )
    return [
        "## Pushing to converted.in during the load",
        "",
        "A push worker (`manage.py db_worker`, as the Procfile runs it) ran beside gunicorn "
        "for the whole load, sending every change to a local stand-in for converted.in that "
        "answers 200. After the load, the queue was left to drain (at most "
        f"{PUSH_DRAIN_SECONDS} s); then every outbox event written during the load was "
        "accounted for. Lost: failed, or marked delivered while its record never arrived, "
        "or an order the API created that no event names.",
        "",
        "| events created | delivered | still waiting | failed | lost | pushes received | "
        "events/s created during the load | queue drained after the load in |",
        "|---|---|---|---|---|---|---|---|",
        f"| {result.created:,} | {result.delivered:,} | {result.waiting} | {result.failed} | "
        f"{result.lost} | {receiver.requests:,} | {result.created / elapsed:.0f} | {drained} |",
        "",
    ]


# Phases ----------------------------------------------------------------------------------


def percentile(values, q):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def phase_load(base, seconds, api_key, customers, products):
    stats, ledger, lock, stop = Stats(), Ledger(), threading.Lock(), threading.Event()
    deadline = time.monotonic() + seconds
    results = {"orders": CrawlResult(), "customers": CrawlResult()}
    created: list[int] = []
    threads = []
    for i in range(8):
        endpoint = "orders" if i % 2 == 0 else "customers"
        client = Client(base, stats, f"198.51.100.{10 + i}", deadline)
        threads.append(
            threading.Thread(
                target=crawler, args=(client, endpoint, ledger, results[endpoint], lock, stop)
            )
        )
    for i in range(4):
        client = Client(base, stats, f"198.51.100.{30 + i}", deadline)
        threads.append(
            threading.Thread(
                target=writer, args=(client, api_key, customers, products, created, stop)
            )
        )
    for i in range(2):
        client = Client(base, stats, f"198.51.100.{40 + i}", deadline)
        threads.append(
            threading.Thread(target=deleter, args=(client, api_key, created, ledger, stop))
        )
    threads.append(
        threading.Thread(
            target=bad_tokens, args=(Client(base, stats, "203.0.113.66", deadline), stop)
        )
    )
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 120)
    stop.set()
    elapsed = time.perf_counter() - started
    return stats, results, elapsed, created


def phase_outage(base, outage_seconds=4):
    stats, ledger, lock, stop = Stats(), Ledger(), threading.Lock(), threading.Event()
    deadline = time.monotonic() + 120
    result = CrawlResult()
    client = Client(base, stats, "198.51.100.90", deadline)
    t = threading.Thread(target=crawler, args=(client, "orders", ledger, result, lock, stop))
    probe = Client(base, stats, "198.51.100.91", deadline)
    t.start()
    time.sleep(1.5)
    pg_ctl("stop")
    outage_statuses = Counter()
    outage_end = time.monotonic() + outage_seconds
    while time.monotonic() < outage_end:
        status, _ = probe.call("healthz", "GET", "/healthz", timeout=5)
        outage_statuses[status] += 1
        status, _ = probe.call(
            "feed:orders", "POST", "/convertedin/orders", form={"token": FEED_TOKEN}, timeout=5
        )
        outage_statuses[status] += 1
        time.sleep(0.25)
    pg_ctl("start")
    recovered_after = None
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30:
        status, _ = probe.call("healthz", "GET", "/healthz", timeout=5)
        if status == 200:
            recovered_after = time.monotonic() - t0
            break
        time.sleep(0.1)
    stop.set()
    t.join(timeout=120)
    return stats, result, outage_statuses, recovered_after


def phase_kill_worker(base, server):
    stats, ledger, lock, stop = Stats(), Ledger(), threading.Lock(), threading.Event()
    deadline = time.monotonic() + 90
    results = CrawlResult()
    threads = [
        threading.Thread(
            target=crawler,
            args=(
                Client(base, stats, f"198.51.100.{100 + i}", deadline),
                "orders",
                ledger,
                results,
                lock,
                stop,
            ),
        )
        for i in range(4)
    ]
    for t in threads:
        t.start()
    killed = 0
    for _ in range(3):
        time.sleep(1.0)
        workers = server.workers()
        if workers:
            os.kill(random.choice(workers), signal.SIGKILL)
            killed += 1
    for t in threads:
        t.join(timeout=120)
    server.wait_healthy()
    return stats, results, killed


def phase_disconnects(port, count=30):
    body = urllib.parse.urlencode({"token": FEED_TOKEN, "page": 1, "per_page": 1000}).encode()
    request = (
        f"POST /convertedin/orders HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
        f"X-Forwarded-For: 198.51.100.200\r\nConnection: close\r\n\r\n"
    ).encode() + body
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
            sock.recv(64)  # read the first bytes, then hang up mid-response
    stats = Stats()
    client = Client(f"http://127.0.0.1:{port}", stats, "198.51.100.201", time.monotonic() + 30)
    ok = sum(
        1
        for _ in range(10)
        if client.call("feed:orders", "POST", "/convertedin/orders", form={"token": FEED_TOKEN})[0]
        == 200
    )
    return ok


def integrity_problems() -> dict[str, int]:
    from django.db.models import Count, F, Sum

    from shop.models import Order

    no_items = Order.objects.annotate(n=Count("line_items")).filter(n=0).count()
    wrong_subtotal = (
        Order.objects.annotate(s=Sum(F("line_items__price") * F("line_items__quantity")))
        .exclude(s=F("subtotal_price"))
        .count()
    )
    return {
        "orders without line items": no_items,
        "orders whose subtotal disagrees": wrong_subtotal,
    }


def report_table(stats: Stats, elapsed: float) -> list[str]:
    lines = [
        "| endpoint | requests | p50 ms | p95 ms | p99 ms | statuses |",
        "|---|---|---|---|---|---|",
    ]
    for label in sorted(stats.latencies):
        values = stats.latencies[label]
        statuses = ", ".join(
            f"{status}: {n}" for (lbl, status), n in sorted(stats.statuses.items()) if lbl == label
        )
        lines.append(
            f"| {label} | {len(values)} | {percentile(values, 50) * 1000:.1f} | "
            f"{percentile(values, 95) * 1000:.1f} | {percentile(values, 99) * 1000:.1f} | "
            f"{statuses} |"
        )
    lines.append("")
    lines.append(
        f"{stats.requests} requests in {elapsed:.1f} s: {stats.requests / elapsed:.0f} requests/s; "
        f"5xx: {stats.five_xx()}; dropped connections: {stats.connection_errors}."
    )
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m loadtest")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--port", type=int, default=8731)
    parser.add_argument("--out", default=str(ROOT / "docs" / "reliability.md"))
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        parser.error("DATABASE_URL must point at a PostgreSQL database (make loadtest sets one).")
    if not 5 <= args.seconds <= 900:
        parser.error("--seconds must be between 5 and 900.")

    (ROOT / "var").mkdir(exist_ok=True)
    env = django_env(args.port)
    os.environ.update(env)
    print("setting up the database ...", flush=True)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    manage(
        env,
        "seed_demo",
        "--customers",
        str(args.customers),
        "--orders",
        str(args.orders),
        "--no-progress",
    )

    import django

    django.setup()
    from push.tokens import convertedin_token_add
    from shop.api.services import api_key_create
    from shop.models import Customer, Product

    convertedin_token_add(name="load test", token=FEED_TOKEN)
    _, api_key = api_key_create(
        name="load test",
        scopes=["orders.read", "orders.write", "customers.read", "products.read"],
        rate_limit=1_000_000,
    )
    customers = list(Customer.objects.alive().exclude(phone="").values_list("id", flat=True)[:2000])
    products = list(Product.objects.alive().values_list("id", flat=True))

    server = Server(env, args.port)
    base = f"http://127.0.0.1:{args.port}"
    report = ["# Reliability: load and fault tests", ""]
    receiver = PushReceiver()
    worker = PushWorker(env, receiver.url)
    try:
        print(f"phase 1: load for {args.seconds} s, pushing ...", flush=True)
        after_event = last_push_event()
        stats, crawls, elapsed, created_orders = phase_load(
            base, args.seconds, api_key, customers, products
        )
        created = len(created_orders)
        print("  waiting for the push queue to drain ...", flush=True)
        pushed = push_result(after_event, receiver, created_orders)
        worker.stop()
        report += [
            f"Measured by `make loadtest` (`python -m loadtest --seconds {args.seconds}`) on "
            f"{os.cpu_count()} cores: gunicorn with {env['WEB_CONCURRENCY']} sync workers, "
            f"PostgreSQL {os.environ.get('PGTMP_BIN', '').split('/')[-2] or ''} from "
            f"bin/with-postgres, a store of {args.customers:,} customers and "
            f"{args.orders:,} orders; a push worker beside it.",
            "",
            "## Load",
            "",
            "8 crawlers walking the orders and customers feeds end to end (per_page 100, 250 "
            "or 500), 4 writers creating and updating orders through the REST API, 2 clients "
            "soft-deleting and restoring orders, and a stream of wrong feed tokens.",
            "",
            *report_table(stats, elapsed),
            f"Orders created through the API during the run: {created}.",
            "",
            "| feed | full crawls | records checked | lost | duplicated | seen twice after a "
            "concurrent delete/restore (not judged) | crawls cut by the time limit |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, r in crawls.items():
            report.append(
                f"| {name} | {r.crawls} | {r.checked:,} | {r.lost} | {r.duplicated} | "
                f"{r.moved} | {r.unfinished} |"
            )
        report += [
            "",
            "A record is checked when it was live for the whole crawl. The feed pages by offset "
            "over live rows (converted.in's contract), so a soft delete during a crawl moves "
            "every later record one place forward; records after the first order a deleter "
            "touched during that crawl are therefore not judged (the deleters work on the "
            "newest orders).",
            "",
            *report_push(pushed, elapsed, receiver),
        ]

        print("phase 2: PostgreSQL stopped mid-crawl ...", flush=True)
        o_stats, o_result, o_statuses, recovered = phase_outage(base)
        report += [
            "## PostgreSQL stopped for 4 seconds mid-crawl",
            "",
            f"Answers during the outage: {dict(sorted((str(k), v) for k, v in o_statuses.items()))}"
            " (None: connection dropped).",
            f"Healthy again {recovered:.2f} s after PostgreSQL restarted, without a restart "
            "of the app."
            if recovered is not None
            else "Did NOT recover within 30 s.",
            f"The crawl running across the outage: {o_result.crawls} finished, "
            f"{o_result.lost} lost, {o_result.duplicated} duplicated; non-503 5xx: "
            f"{o_stats.five_xx(allowed_503=True)}.",
            "",
        ]

        print("phase 3: workers killed mid-request ...", flush=True)
        k_stats, k_result, killed = phase_kill_worker(base, server)
        report += [
            "## gunicorn workers killed mid-request",
            "",
            f"{killed} workers killed with SIGKILL while 4 crawlers ran. Dropped connections "
            f"(retried by the crawler): {k_stats.connection_errors}; 5xx: {k_stats.five_xx()}; "
            f"crawls finished: {k_result.crawls}, lost {k_result.lost}, duplicated "
            f"{k_result.duplicated}. The master replaced the workers; /healthz answered 200.",
            "",
        ]

        print("phase 4: clients hanging up mid-response ...", flush=True)
        ok = phase_disconnects(args.port)
        report += [
            "## Clients that disconnect mid-response",
            "",
            f"30 clients asked for a 1,000-order page and hung up after 64 bytes; the next "
            f"10 normal requests: {ok} answered 200.",
            "",
        ]
    finally:
        worker.stop()
        receiver.stop()
        server.stop()

    from django.db import connections

    connections.close_all()  # the database was restarted under this process's connection
    problems = integrity_problems()
    report += ["## Nothing half-written", ""]
    report += [f"- {name}: {n}" for name, n in problems.items()]
    total_5xx = stats.five_xx() + k_stats.five_xx() + o_stats.five_xx(allowed_503=True)
    lost = sum(r.lost for r in crawls.values()) + o_result.lost + k_result.lost
    duplicated = (
        sum(r.duplicated for r in crawls.values()) + o_result.duplicated + k_result.duplicated
    )
    verdict = (
        f"5xx (other than 503 during the outage): {total_5xx}; lost: {lost}; "
        f"duplicated: {duplicated}; half-written orders: {sum(problems.values())}; "
        f"pushes lost: {pushed.lost}, still waiting: {pushed.waiting}."
    )
    report += ["", "## Verdict", "", verdict, ""]
    out = Path(args.out)
    # The security section below the measured ones is written by hand: keep it.
    kept = out.read_text().partition(SECURITY_HEADING)[1:] if out.exists() else ("", "")
    out.write_text("\n".join(report) + ("\n\n" + "".join(kept) if kept[0] else ""))
    print("\n".join(report))
    failed = (
        total_5xx
        or lost
        or duplicated
        or sum(problems.values())
        or recovered is None
        or pushed.lost
        or pushed.waiting
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
