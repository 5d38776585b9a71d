"""`python -m bench.webhooks`: how many webhook deliveries a second one worker makes.

On a fresh database (DATABASE_URL, else a temporary SQLite file): --subscribers subscriptions
to every topic, each on its own path of a local receiver in another process, and --changes
customer writes; then a push.webhooks.Sender steps as the worker's pump steps it (fan-out,
claims, one render a record, each subscriber's signed POSTs in its own thread, outcomes) until
nothing is due or under way, and the rate is printed. Goal: 200 a second.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = "config.settings.test"
MIN_PER_SECOND = 200


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__)
    parser.add_argument("--subscribers", type=int, default=5)
    parser.add_argument("--changes", type=int, default=400)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
        server.serve_forever()

    if not os.environ.get("DATABASE_URL"):
        path = Path(tempfile.mkdtemp()) / "webhooks-bench.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)
    serving = subprocess.Popen(
        [sys.executable, "-m", "bench.webhooks", "--serve"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base = serving.stdout.readline().strip() if serving.stdout else ""
        _measure(args, base)
    finally:
        serving.kill()


def _measure(args, base: str) -> None:
    import django

    django.setup()
    from push import webhooks
    from push.models import WebhookDelivery
    from shop import services
    from tests.factories import StoreFactory

    StoreFactory(base_url="https://bench.example.com/")
    for n in range(args.subscribers):
        webhooks.webhook_subscription_create(url=f"{base}/hooks/{n}", topics=list(webhooks.TOPICS))
    for n in range(args.changes):
        services.customer_create(email=f"hook{n}@example.com", first_name="W", last_name="H")
    started = time.perf_counter()
    tried = 0
    sender = webhooks.Sender()
    try:
        while True:
            tried += sender.step()
            if not sender.busy:
                break
            sender.wait(1.0)
    finally:
        sender.close()
    seconds = time.perf_counter() - started
    delivered = WebhookDelivery.objects.filter(status="delivered").count()
    rate = tried / seconds
    print(
        f"webhooks: {tried} deliveries ({delivered} delivered) to {args.subscribers} "
        f"subscribers in {seconds:.2f} s: {rate:.0f} deliveries/s per worker "
        f"(goal {MIN_PER_SECOND}) on {os.environ['DATABASE_URL'].split(':')[0]}",
        flush=True,
    )


if __name__ == "__main__":
    main()
