"""`python -m bench --orders N`: the feed against the naive baseline and the floor.

Creates (or reuses) a seeded SQLite database and, when PostgreSQL's binaries are installed, a
throwaway PostgreSQL server in .bench/, measures each in a subprocess (bench/measure.py),
prints one table per database and writes them to docs/benchmarks.md.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import api, push
from .databases import ROOT, SETTINGS, WORK, PostgresServer, postgres_bin, sqlite_database
from .report import render_markdown, render_tables


def run_measure(database_url: str, args, *, crawl_only: bool = False) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    command = [sys.executable, "-m", "bench.measure", "--out", out, "--repeat", str(args.repeat)]
    if args.no_crawl:
        command.append("--no-crawl")
    if crawl_only:
        command.append("--crawl-only")
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": SETTINGS}
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    result = json.loads(Path(out).read_text())
    Path(out).unlink()
    if args.admin and not crawl_only:
        admin = [sys.executable, "-m", "bench.admin", "--out", out, "--repeat", str(args.repeat)]
        subprocess.run(admin, cwd=ROOT, env=env, check=True)
        result["admin"] = json.loads(Path(out).read_text())
        Path(out).unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument(
        "--customers", type=int, default=None, help="default: orders / 5 (at least 1)"
    )
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per cell")
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql"
    )
    parser.add_argument("--no-crawl", action="store_true", help="skip the full crawl")
    parser.add_argument("--admin", action="store_true", help="also time the admin's pages")
    parser.add_argument(
        "--scale-crawl",
        type=int,
        default=0,
        metavar="N",
        help="also seed N orders and crawl them, to check a crawl's cost grows linearly",
    )
    parser.add_argument(
        "--output",
        default=str(ROOT / "docs" / "benchmarks.md"),
        help="where to write the Markdown report ('-' for none)",
    )
    api.add_arguments(parser)
    push.add_arguments(parser)
    args = parser.parse_args()
    customers = args.customers or max(1, args.orders // 5)
    wanted = [name.strip() for name in args.databases.split(",") if name.strip()]
    if args.api_only:
        api.run(args, customers=customers, wanted=wanted)
        return
    if args.push_only:
        push.write_section(args.output, push.run(args, wanted=wanted))
        return
    results = []
    started = time.perf_counter()
    if "sqlite" in wanted:
        print(f"SQLite: {args.orders:,} orders, {customers:,} customers", flush=True)
        url = sqlite_database(args.orders, customers)
        results.append(run_measure(url, args))
        if args.scale_crawl and not args.no_crawl:
            print(f"SQLite: {args.scale_crawl:,} orders, crawl only", flush=True)
            url = sqlite_database(args.scale_crawl, max(1, args.scale_crawl // 5))
            results[-1]["scaled"] = run_measure(url, args, crawl_only=True)
    if "postgresql" in wanted:
        bin_dir = postgres_bin()
        if bin_dir is None:
            print("PostgreSQL: no binaries found, skipped.", flush=True)
        else:
            print(f"PostgreSQL ({bin_dir}): {args.orders:,} orders", flush=True)
            server = PostgresServer(bin_dir)
            server.start()
            try:
                url = server.database(args.orders, customers)
                results.append(run_measure(url, args))
                if args.scale_crawl and not args.no_crawl:
                    print(f"PostgreSQL: {args.scale_crawl:,} orders, crawl only", flush=True)
                    url = server.database(args.scale_crawl, max(1, args.scale_crawl // 5))
                    results[-1]["scaled"] = run_measure(url, args, crawl_only=True)
            finally:
                server.stop()
    pushed = push.run(args, wanted=wanted) if args.push_orders else []
    WORK.mkdir(exist_ok=True)
    (WORK / f"results-{args.orders}.json").write_text(json.dumps(results, indent=2))
    print()
    print(render_tables(results))
    print(push.render_markdown(pushed) if pushed else "")
    command = "python -m bench " + " ".join(sys.argv[1:])
    if args.output != "-":
        Path(args.output).write_text(
            render_markdown(
                results,
                command=command.strip(),
                seconds=time.perf_counter() - started,
                pushed=pushed,
            )
        )
        print(f"\nWrote {args.output}")
    if args.api:
        api.run(args, customers=customers, wanted=wanted)


if __name__ == "__main__":
    main()
