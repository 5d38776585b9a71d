"""`python -m bench.push`: what pushing to converted.in costs and how fast it goes.

On a fresh database (DATABASE_URL, else a temporary SQLite file), measures:
- an import of --orders orders (OrderResource, as the admin's import does) with pushing on and
  with it off (the outbox receiver disconnected): the ratio is the outbox's cost;
- the worker's delivery rate (push.delivery.deliver_due) to a fast local receiver;
- commit-to-delivery latency, idle: a `manage.py db_worker` subprocess, one write at a time.

`python -m bench` runs it too (--push-orders, on each database) and writes its section of
docs/benchmarks.md (render_markdown, below).
"""

import argparse
import json
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
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
# The goals of pushing every change to converted.in.
MAX_RATIO = 1.3
MIN_EVENTS_PER_SECOND = 200
MAX_P95_SECONDS = 2.0
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


def _import(orders: int, emails: list[str], handle: str) -> float:
    import tablib
    from django.db import transaction

    from shop.resources import OrderResource

    data = tablib.Dataset(headers=["customer_email", "line_items", "financial_status"])
    for n in range(orders):
        data.append([emails[n % len(emails)], f"{handle} x 1", "successful"])
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
    parser.add_argument("--out", help="also write the figures to this JSON file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]
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

    from push import outbox
    from push.delivery import deliver_due
    from push.models import PushEvent
    from push.tasks import pump
    from push.tokens import convertedin_token_add
    from shop import services, signals
    from tests.factories import CustomerFactory, ProductFactory, StoreFactory

    settings.CONVERTEDIN_WEBHOOK_URL = url
    StoreFactory(base_url="https://bench.example.com/")
    convertedin_token_add(name="bench", token=TOKEN)
    # Five orders a customer, as in the demo store: with every order on one customer,
    # PostgreSQL's statistics say any customer has them all, and a customer's push scans them.
    emails = [CustomerFactory().email for _ in range(max(1, args.orders // 5))]
    product = ProductFactory()

    # 1. Import with pushing off, then on (twice each, alternating; the best of each).
    off, on = [], []
    for _ in range(2):
        signals.records_changed.disconnect(dispatch_uid="push-outbox")
        off.append(_import(args.orders, emails, product.handle))
        signals.records_changed.connect(outbox.record_changes, dispatch_uid="push-outbox")
        on.append(_import(args.orders, emails, product.handle))
    print(
        f"import {args.orders} orders: pushing off {min(off):.2f} s, on {min(on):.2f} s, "
        f"ratio {min(on) / min(off):.3f}; {min(off) / args.orders * 1000:.1f} ms an order off, "
        f"{min(on) / args.orders * 1000:.1f} ms on",
        flush=True,
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
        f"{sent / seconds:.0f} pushes/s",
        flush=True,
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
        # Measure from the worker's first delivery on, not from its start-up.
        ARRIVALS.clear()
        services.customer_update(customer=customers[-1], first_name="Warm-up")
        deadline = time.time() + 120
        while customers[-1].pk not in ARRIVALS and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
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
    if args.out:
        from django.db import connection

        from .databases import server_version

        figures = {
            "vendor": connection.vendor,
            "version": server_version(),
            "orders": args.orders,
            "import_off_s": min(off),
            "import_on_s": min(on),
            "pushes": sent,
            "events": delivered,
            "delivery_s": seconds,
            "latency_writes": len(committed),
            "latency_delivered": len(waits),
            "latency_p50_s": statistics.median(waits),
            "latency_p95_s": p95,
            # The machine's 1-minute load average: on shared cores it moves every figure.
            "load_average": [load_at_start, os.getloadavg()[0]],
        }
        Path(args.out).write_text(json.dumps(figures, indent=2))


# In `python -m bench` ----------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--push-orders",
        type=int,
        default=10_000,
        metavar="N",
        help="orders the push benchmark (bench/push.py) imports, pushing off and on; 0 skips it",
    )
    parser.add_argument(
        "--push-only",
        action="store_true",
        help="run the push benchmark only and rewrite its section of the report",
    )


def _measure(database_url: str, orders: int) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": SETTINGS}
    command = [sys.executable, "-m", "bench.push", "--orders", str(orders), "--out", out]
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    figures = json.loads(Path(out).read_text())
    Path(out).unlink()
    return figures


def run(args, *, wanted: list[str]) -> list[dict]:
    """Measure pushing on a fresh database of each kind wanted; return the figures."""
    from .databases import PostgresServer, postgres_bin

    results = []
    if "sqlite" in wanted:
        print(f"Pushing, SQLite: {args.push_orders:,} orders", flush=True)
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'push-bench.sqlite3'}"
        results.append(_measure(url, args.push_orders))
    if "postgresql" in wanted and (bin_dir := postgres_bin()) is not None:
        print(f"Pushing, PostgreSQL: {args.push_orders:,} orders", flush=True)
        server = PostgresServer(bin_dir)
        server.start()
        try:
            server.psql("DROP DATABASE IF EXISTS bench_push")
            server.psql("CREATE DATABASE bench_push")
            results.append(_measure(server.url("bench_push"), args.push_orders))
        finally:
            server.stop()
    return results


def write_section(path: str, results: list[dict]) -> None:
    """Put the push section in the report at `path`, in place of the one there (if any)."""
    section = render_markdown(results)
    print(section)
    if path == "-" or not results:
        return
    report = Path(path)
    text = report.read_text() if report.exists() else ""
    before, heading, after = text.partition("## Pushing to converted.in")
    rest = after[after.find("\n## ") + 1 :] if heading and "\n## " in after else ""
    report.write_text(before.rstrip("\n") + "\n\n" + section + ("\n" + rest if rest else ""))
    print(f"\nWrote its section of {path}")


def goals(result: dict) -> list[tuple[str, str, bool]]:
    """Return (goal, measured, met) for each goal of pushing to converted.in."""
    name = NAMES.get(result["vendor"], result["vendor"])
    ratio = result["import_on_s"] / result["import_off_s"]
    rate = result["events"] / result["delivery_s"]
    p95 = result["latency_p95_s"]
    all_delivered = result["latency_delivered"] == result["latency_writes"]
    return [
        (
            f"{name}: importing {result['orders']:,} orders with pushing on takes at most "
            f"{MAX_RATIO}x as long as with it off",
            f"{ratio:.2f}x ({result['import_on_s']:.1f} / {result['import_off_s']:.1f} s)",
            ratio <= MAX_RATIO,
        ),
        (
            f"{name}: at least {MIN_EVENTS_PER_SECOND} events/s delivered to a fast local receiver",
            f"{rate:.0f} events/s ({result['events']:,} in {result['delivery_s']:.1f} s)",
            rate >= MIN_EVENTS_PER_SECOND,
        ),
        (
            f"{name}: commit-to-delivery p95 under {MAX_P95_SECONDS:.0f} s with the worker idle",
            f"p95 {p95 * 1000:.0f} ms, p50 {result['latency_p50_s'] * 1000:.0f} ms "
            f"({result['latency_delivered']}/{result['latency_writes']} delivered)",
            p95 < MAX_P95_SECONDS and all_delivered,
        ),
    ]


def render_markdown(results: list[dict]) -> str:
    """The "Pushing to converted.in" section of docs/benchmarks.md."""
    out = [
        "## Pushing to converted.in",
        "",
        "Measured by bench/push.py on a fresh database of each kind (`python -m bench.push "
        "--orders N` alone): an import of N orders through OrderResource, as the admin's import "
        "does, with pushing off (the outbox receiver disconnected) and on, the best of two "
        "each; the worker's delivery of one push per record (`push.delivery.deliver_due`) to "
        "a local receiver in another process; and the time from a write's commit to its "
        "push's arrival, one write every 150 ms, with a `manage.py db_worker` subprocess "
        f"polling every 0.1 s. The machine has {os.cpu_count()} CPUs; its load average "
        "(1 minute, at the run's start and end) is given, since other jobs on shared cores "
        "slow every figure.",
        "",
        "| database | orders | import off (s) | import on (s) | on / off | ms an order (on) | "
        "events/s | commit-to-delivery p50 / p95 (ms) | load average |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        out.append(
            f"| {NAMES.get(r['vendor'], r['vendor'])} {r['version']} | {r['orders']:,} | "
            f"{r['import_off_s']:.1f} | {r['import_on_s']:.1f} | "
            f"{r['import_on_s'] / r['import_off_s']:.2f}x | "
            f"{r['import_on_s'] / r['orders'] * 1000:.1f} | "
            f"{r['events'] / r['delivery_s']:.0f} | "
            f"{r['latency_p50_s'] * 1000:.0f} / {r['latency_p95_s'] * 1000:.0f} | "
            + (" to ".join(f"{n:.1f}" for n in r["load_average"]) if "load_average" in r else "")
            + " |"
        )
    out += ["", "| goal | measured | met |", "|---|---|---|"]
    for result in results:
        for goal, measured, met in goals(result):
            out.append(f"| {goal} | {measured} | {'yes' if met else '**no**'} |")
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    main()
