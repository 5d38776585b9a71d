"""`python -m bench.imports --orders N`: a background import of N orders against `seed_demo`.

seed_demo writes a store of N orders into one database; store_export writes it to files; the
store's settings, categories, products and customers go into a second database through
store_import, then its orders through the admin's background import, as the worker runs it:
the check (the preview), then the write. Prints seconds and the ratio to seed_demo, on SQLite
and (with --postgres, when PostgreSQL's binaries are installed) on PostgreSQL.
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
from shop import imports
from shop.models import ImportRun
from shop.tasks import import_confirm, import_start

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
                  "orders": run.written_new}}))
"""


def measure(seed_url: str, load_url: str, *, orders: int, customers: int) -> dict:
    files = Path(tempfile.mkdtemp(prefix="bench-import-"))
    env = {**os.environ, "DATABASE_URL": load_url, "DJANGO_SETTINGS_MODULE": SETTINGS}
    env["IMPORT_DIR"] = str(files / "uploads")
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
        manage(load_url, "migrate", "-v0")
        manage(load_url, "store_import", str(others), "--no-progress", capture=True)
        script = IMPORT.format(path=str(files / "store" / "orders.csv"))
        out = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, check=True, text=True,
            stdout=subprocess.PIPE,
        )  # fmt: skip
        result = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(files, ignore_errors=True)
    total = result["check"] + result["write"]
    return {**result, "seed_demo": seed, "import": total, "ratio": total / seed}


def report(name: str, figures: dict) -> str:
    return (
        f"{name}: {figures['orders']:,} orders: seed_demo {figures['seed_demo']:.1f} s; "
        f"import {figures['import']:.1f} s (check {figures['check']:.1f} s, write "
        f"{figures['write']:.1f} s): {figures['ratio']:.1f}x seed_demo"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    customers = args.customers or max(args.orders // 10, 10)
    WORK.mkdir(exist_ok=True)
    paths = [WORK / f"import-{kind}.sqlite3" for kind in ("seed", "load")]
    for path in paths:
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
    urls = [f"sqlite:///{path}" for path in paths]
    print(report("SQLite", measure(*urls, orders=args.orders, customers=customers)), flush=True)
    bin_dir = postgres_bin()
    if args.postgres and bin_dir is not None:
        server = PostgresServer(bin_dir)
        server.start()
        try:
            for name in ("import_seed", "import_load"):
                server.psql(f"DROP DATABASE IF EXISTS {name}")
                server.psql(f"CREATE DATABASE {name}")
            figures = measure(
                server.url("import_seed"),
                server.url("import_load"),
                orders=args.orders,
                customers=customers,
            )
            print(report("PostgreSQL", figures))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
