"""`python -m bench.imports --orders N`: a background import of N orders against `seed_demo`.

seed_demo writes a store of N orders into one database; store_export writes it to files; the
store's settings, categories, products and customers go into a second database through
store_import, then its orders through the admin's background import, as the worker runs it:
the check (the preview), then the write. Prints seconds and the ratio to seed_demo, on SQLite
and (with --postgres, when PostgreSQL's binaries are installed) on PostgreSQL. With --push-off,
the orders also go into a third database with the outbox off (as seed_demo writes), for the
cost of pushing. The load average is printed beside the figures.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .databases import ROOT, SETTINGS, WORK, PostgresServer, manage, postgres_bin

IMPORT = """
import json, time, django
django.setup()
from django.core.files import File
from push.models import PushEvent
from shop import imports, signals
from shop.models import ImportRun
from shop.tasks import import_confirm, import_start

if not {pushes!r}:  # as seed_demo: no outbox rows
    signals.bulk_load_started.send(sender=None, models=[])

with open({path!r}, "rb") as upload:
    run = import_start(upload=File(upload), model="shop.Order", file_name="orders.csv",
                       file_format="csv", user=None)
started = time.perf_counter()
imports.run_advance(run)
run.refresh_from_db()
checked = time.perf_counter()
assert run.state == "checked", (run.state, run.refusals)
import_confirm(run=run)
run.refresh_from_db()
imports.run_advance(run)
run.refresh_from_db()
assert run.state == "done", (run.state, run.message)
print(json.dumps({{"check": checked - started, "write": time.perf_counter() - checked,
                  "orders": run.written_new, "outbox": PushEvent.objects.count()}}))
"""


def measure(seed_url: str, load_urls: list[str], *, orders: int, customers: int) -> dict:
    """seed_demo into `seed_url`, then the import into the first of `load_urls` with pushes
    on and, given a second, into that one with pushes off."""
    files = Path(tempfile.mkdtemp(prefix="bench-import-"))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS}
    env["IMPORT_DIR"] = str(files / "uploads")
    runs = []
    try:
        manage(seed_url, "migrate", "-v0")
        started = time.perf_counter()
        manage(
            seed_url, "seed_demo", "--customers", str(customers), "--orders", str(orders),
            "--no-progress",
        )  # fmt: skip
        seed = time.perf_counter() - started
        manage(seed_url, "store_export", str(files / "store"))
        others = files / "others"
        shutil.copytree(files / "store", others, ignore=shutil.ignore_patterns("orders.csv"))
        for load_url, pushes in zip(load_urls, (True, False), strict=False):
            manage(load_url, "migrate", "-v0")
            manage(load_url, "store_import", str(others), "--no-progress", capture=True)
            script = IMPORT.format(path=str(files / "store" / "orders.csv"), pushes=pushes)
            out = subprocess.run(
                [sys.executable, "-c", script], cwd=ROOT, env={**env, "DATABASE_URL": load_url},
                check=True, text=True, stdout=subprocess.PIPE,
            )  # fmt: skip
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(files, ignore_errors=True)
    result = runs[0]
    total = result["check"] + result["write"]
    figures = {**result, "seed_demo": seed, "import": total, "ratio": total / seed}
    if len(runs) > 1:
        off = runs[1]["check"] + runs[1]["write"]
        figures |= {"import_no_push": off, "push_ratio": total / off}
    return figures


def report(name: str, figures: dict) -> str:
    line = (
        f"{name}: {figures['orders']:,} orders: seed_demo {figures['seed_demo']:.1f} s; "
        f"import {figures['import']:.1f} s (check {figures['check']:.1f} s, write "
        f"{figures['write']:.1f} s, {figures['outbox']:,} outbox rows): "
        f"{figures['ratio']:.2f}x seed_demo (the write after the preview alone: "
        f"{figures['write'] / figures['seed_demo']:.2f}x)"
    )
    if "push_ratio" in figures:
        line += (
            f"; without pushes {figures['import_no_push']:.1f} s: pushing costs "
            f"{figures['push_ratio']:.2f}x"
        )
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--push-off", action="store_true", help="also import with pushes off, for the ratio"
    )
    args = parser.parse_args()
    customers = args.customers or max(args.orders // 10, 10)
    WORK.mkdir(exist_ok=True)
    kinds = ("seed", "load", "load_off") if args.push_off else ("seed", "load")
    paths = [WORK / f"import-{kind}.sqlite3" for kind in kinds]
    for path in paths:
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
    urls = [f"sqlite:///{path}" for path in paths]
    print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
    if args.sqlite:
        figures = measure(urls[0], urls[1:], orders=args.orders, customers=customers)
        print(report("SQLite", figures), flush=True)
        print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
    bin_dir = postgres_bin()
    if args.postgres and bin_dir is not None:
        server = PostgresServer(bin_dir)
        server.start()
        try:
            names = [f"import_{kind}" for kind in kinds]
            for name in names:
                server.psql(f"DROP DATABASE IF EXISTS {name}")
                server.psql(f"CREATE DATABASE {name}")
            figures = measure(
                server.url(names[0]),
                [server.url(name) for name in names[1:]],
                orders=args.orders,
                customers=customers,
            )
            print(report("PostgreSQL", figures))
            print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
