"""`python -m bench.push`: what pushing to converted.in costs and how fast it goes.

On a fresh database (DATABASE_URL, else a temporary SQLite file), measures:
- an import of --orders orders (OrderResource, as the admin's import does) with pushing on and
  with it off (the outbox receiver disconnected): the ratio is the outbox's cost;
- the worker's delivery rate (push.delivery.deliver_due) to a fast local receiver;
- commit-to-delivery latency, idle: a `manage.py db_worker` subprocess, one write at a time.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = "config.settings.test"
TOKEN = "cvin-bench-token-0123456789"
ARRIVALS: dict[int, float] = {}


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as converted.in's server would

    def do_POST(self):  # noqa: N802
        import json

        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ARRIVALS.setdefault(body["id"], time.time())
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _receiver() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/api/webhooks/api/"


def _import(orders: int, email: str, handle: str) -> float:
    import tablib
    from django.db import transaction

    from shop.resources import OrderResource

    data = tablib.Dataset(headers=["customer_email", "line_items", "financial_status"])
    for _ in range(orders):
        data.append([email, f"{handle} x 1", "successful"])
    started = time.perf_counter()
    with transaction.atomic():
        result = OrderResource().import_data(data, dry_run=False)
    assert not result.has_errors()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.push", description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=2_000)
    parser.add_argument("--writes", type=int, default=60, help="writes for the latency")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:  # a receiver in its own process, for the delivery rate
        print(_receiver(), flush=True)
        threading.Event().wait()

    if not os.environ.get("DATABASE_URL"):
        path = Path(tempfile.mkdtemp()) / "push-bench.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    url = _receiver()
    os.environ["CONVERTEDIN_WEBHOOK_URL"] = url
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)

    import django

    django.setup()
    from django.conf import settings

    from feeds.tokens import feed_token_create
    from push import outbox
    from push.delivery import deliver_due
    from push.models import PushEvent
    from push.tasks import pump
    from push.tokens import push_token_store
    from shop import services, signals
    from tests.factories import CustomerFactory, ProductFactory, StoreFactory

    settings.CONVERTEDIN_WEBHOOK_URL = url
    StoreFactory(base_url="https://bench.example.com/")
    push_token_store(token_row=feed_token_create(name="bench", token=TOKEN), token=TOKEN)
    customer = CustomerFactory()
    product = ProductFactory()

    # 1. Import with pushing off, then on (twice each, alternating; the best of each).
    off, on = [], []
    for _ in range(2):
        signals.records_changed.disconnect(dispatch_uid="push-outbox")
        off.append(_import(args.orders, customer.email, product.handle))
        signals.records_changed.connect(outbox.record_changes, dispatch_uid="push-outbox")
        on.append(_import(args.orders, customer.email, product.handle))
    print(
        f"import {args.orders} orders: pushing off {min(off):.2f} s, on {min(on):.2f} s, "
        f"ratio {min(on) / min(off):.3f}"
    )
    PushEvent.objects.all().delete()

    # 2. Delivery rate: distinct records, one push each, to a receiver in another process.
    serving = subprocess.Popen(
        [sys.executable, "-m", "bench.push", "--serve"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    settings.CONVERTEDIN_WEBHOOK_URL = serving.stdout.readline().strip()
    customers = [
        services.customer_create(email=f"rate{n}@example.com", first_name="R", last_name="T")
        for n in range(args.events)
    ]
    started = time.perf_counter()
    sent = 0
    while tried := deliver_due(limit=200):
        sent += tried
    seconds = time.perf_counter() - started
    serving.kill()
    settings.CONVERTEDIN_WEBHOOK_URL = url
    delivered = PushEvent.objects.filter(status="delivered").count()
    print(
        f"delivery: {sent} pushes ({delivered} events) in {seconds:.2f} s, "
        f"{sent / seconds:.0f} pushes/s"
    )

    # 3. Commit-to-delivery latency with a worker idle between writes.
    pump.enqueue()
    env = {**os.environ, "PUSH_PUMP_SECONDS": "60", "PUSH_POLL_SECONDS": "0.1"}
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--interval", "0.1", "--no-startup-delay"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(2)
        ARRIVALS.clear()
        committed = {}
        for target in customers[: args.writes]:
            services.customer_update(customer=target, first_name="Latency")
            committed[target.pk] = time.time()
            time.sleep(0.15)
        deadline = time.time() + 30
        while len(ARRIVALS) < len(committed) and time.time() < deadline:
            time.sleep(0.1)
    finally:
        worker.terminate()
        try:
            worker.wait(5)
        except subprocess.TimeoutExpired:
            worker.kill()
    waits = sorted(ARRIVALS[pk] - at for pk, at in committed.items() if pk in ARRIVALS)
    p95 = waits[int(len(waits) * 0.95) - 1]
    print(
        f"commit-to-delivery, idle: {len(waits)}/{len(committed)} delivered, "
        f"median {statistics.median(waits) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
