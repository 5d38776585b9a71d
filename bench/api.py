"""The REST API at scale: page 1 against the last page, with page numbers and with cursors,
and a full sync of every order by cursor.

`python -m bench --api-only --orders N [--api-scale-sync M]` (or `--api` beside the feed's
benchmark) seeds the databases as the feed's benchmark does (bench/databases.py), measures
each in a subprocess (`python -m bench.api --out FILE`) and writes docs/benchmarks-api.md.
"""

import argparse
import json
import os
import statistics
import sys
import time
import urllib.parse
from http.client import HTTPConnection
from pathlib import Path

from .databases import ROOT, SETTINGS, PostgresServer, postgres_bin, sqlite_database
from .process import measurement_arguments, run_measurement
from .report import goals_table, heading, render_blocks
from .server import gunicorn

PER_PAGE = 250
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
INTRO = (
    "Each cell is the median of several requests through Django's WSGI handler with an "
    "API key, {per_page} records a page: page 1 and the last page, asked for by number "
    "(`?page=`, which counts the rows and skips the earlier ones with OFFSET) and by "
    "cursor (`?cursor=`, found by its keys, no count). The full sync reads every order by "
    "cursor, following `links.next`, from gunicorn (one sync worker) over HTTP."
)


# The orchestration, in `python -m bench` ---------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("REST API (bench/api.py)")
    group.add_argument("--api", action="store_true", help="also benchmark the REST API")
    group.add_argument("--api-only", action="store_true", help="benchmark the REST API only")
    group.add_argument(
        "--api-scale-sync",
        type=int,
        default=0,
        metavar="M",
        help="also seed M orders and sync them all, to check a sync's cost grows linearly",
    )
    group.add_argument(
        "--api-output",
        default=str(ROOT / "docs" / "benchmarks-api.md"),
        help="where to write the REST API's report ('-' for none)",
    )


def _measure(database_url: str, repeat: int, *, sync: bool, pages: bool) -> dict:
    flags = ["--sync"] if sync else []
    if not pages:
        flags.append("--no-pages")
    return run_measurement("bench.api", database_url, repeat, *flags)


def run(args, *, customers: int, wanted: list[str]) -> list[dict]:
    """Measure the API on each database; print and write the report."""
    started = time.perf_counter()
    results = []
    scale = args.api_scale_sync
    if "sqlite" in wanted:
        print(f"REST API, SQLite: {args.orders:,} orders", flush=True)
        results.append(
            _measure(sqlite_database(args.orders, customers), args.repeat, sync=True, pages=True)
        )
        if scale:
            print(f"REST API, SQLite: {scale:,} orders, sync only", flush=True)
            url = sqlite_database(scale, max(1, scale // 5))
            results[-1]["scaled"] = _measure(url, args.repeat, sync=True, pages=False)
    if "postgresql" in wanted and (bin_dir := postgres_bin()) is not None:
        print(f"REST API, PostgreSQL: {args.orders:,} orders", flush=True)
        server = PostgresServer(bin_dir)
        server.start()
        try:
            url = server.database(args.orders, customers)
            results.append(_measure(url, args.repeat, sync=True, pages=True))
            if scale:
                print(f"REST API, PostgreSQL: {scale:,} orders, sync only", flush=True)
                url = server.database(scale, max(1, scale // 5))
                results[-1]["scaled"] = _measure(url, args.repeat, sync=True, pages=False)
        finally:
            server.stop()
    print()
    print(render_tables(results))
    if args.api_output != "-":
        command = "python -m bench " + " ".join(sys.argv[1:])
        Path(args.api_output).write_text(
            render_markdown(results, command=command, seconds=time.perf_counter() - started)
        )
        print(f"\nWrote {args.api_output}")
    return results


# The measurement, in its own process (`python -m bench.api`) -------------------------------


def _median_ms(cells: dict, repeat: int) -> dict:
    """Median wall time in ms of each callable, timed round-robin after a warm-up, so drift
    in the machine's load falls on every cell alike."""
    samples: dict = {key: [] for key in cells}
    for fn in cells.values():
        fn()
    for _ in range(repeat):
        for key, fn in cells.items():
            started = time.perf_counter()
            fn()
            samples[key].append((time.perf_counter() - started) * 1000)
    return {key: statistics.median(values) for key, values in samples.items()}


def _api_key() -> str:
    from shop.api.models import SCOPE_NAMES
    from shop.api.services import api_key_create

    # A sync is thousands of requests a minute: no rate limit gets in the way.
    _, raw = api_key_create(name="benchmark", scopes=sorted(SCOPE_NAMES), rate_limit=10**9)
    return raw


def measure_pages(key: str, repeat: int) -> list[dict]:
    from django.db import connection
    from django.test import Client

    from shop.models import Customer, Order

    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")

    def get(url: str) -> dict:
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        return response.json()

    rows = []
    for entity, model in (("orders", Order), ("customers", Customer)):
        ids = model.objects.alive().order_by("id").values_list("id", flat=True)
        total = ids.count()
        last = max(1, -(-total // PER_PAGE))
        # The last page may hold a few rows: the last full one is the fair match for page 1.
        full = max(1, total // PER_PAGE)

        def after(page: int, ids=ids) -> int:
            return ids[(page - 1) * PER_PAGE - 1] if page > 1 else 0

        base = f"/api/v1/{entity}?per_page={PER_PAGE}"
        urls = {
            ("numbered", "1"): f"{base}&page=1",
            ("numbered", "last full"): f"{base}&page={full}",
            ("numbered", "last"): f"{base}&page={last}",
            ("cursor", "1"): f"{base}&cursor=",
            ("cursor", "last full"): f"{base}&cursor=i{after(full)}",
            ("cursor", "last"): f"{base}&cursor=i{after(last)}",
        }
        # The last cursor page is the last numbered page: the same rows.
        numbered_last = [item["id"] for item in get(urls["numbered", "last"])["data"]]
        cursor_last = get(urls["cursor", "last"])
        assert [item["id"] for item in cursor_last["data"]] == numbered_last
        assert cursor_last["links"]["next"] is None
        medians = _median_ms({key: (lambda u=url: get(u)) for key, url in urls.items()}, repeat)
        for (style, page), url in urls.items():
            statements: list[str] = []

            def record(execute, sql, params, many, context, statements=statements):
                statements.append(sql)
                return execute(sql, params, many, context)

            with connection.execute_wrapper(record):
                rows_of_page = len(get(url)["data"])
            row = {
                "entity": entity,
                "style": style,
                "page": page,
                "rows": rows_of_page,
                "ms": medians[style, page],
                "queries": len(statements),
                "counts": any(
                    sql.lstrip().upper().startswith("SELECT COUNT(") and "shop_" in sql
                    for sql in statements
                ),
            }
            print(f"    {row}", file=sys.stderr, flush=True)
            rows.append(row)
    return rows


def sync_orders(key: str) -> dict:
    """Read every order by cursor, page after page, through gunicorn (one sync worker)."""
    with gunicorn() as (_, port):
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        url = f"/api/v1/orders?cursor=&per_page={PER_PAGE}"
        rows = pages = 0
        last_id = 0
        started = time.perf_counter()
        connection = HTTPConnection("127.0.0.1", port, timeout=120)
        while url:
            connection.request("GET", url, headers=headers)
            response = connection.getresponse()
            body = json.loads(response.read())
            assert response.status == 200, body
            ids = [item["id"] for item in body["data"]]
            assert all(a < b for a, b in zip([last_id, *ids], ids, strict=False)), "out of order"
            last_id = ids[-1] if ids else last_id
            rows += len(ids)
            pages += 1
            following = body["links"]["next"]
            url = (
                urllib.parse.urlsplit(following)._replace(scheme="", netloc="").geturl()
                if following
                else ""
            )
        seconds = time.perf_counter() - started
        connection.close()
    return {"pages": pages, "rows": rows, "seconds": seconds}


def explain_cursor_pages() -> dict:
    """The plans of the cursor pages' statements, deep in the table."""
    from django.db import connection

    from shop.api.pagination import Cursor
    from shop.models import Order

    middle = Order.objects.order_by("id").values_list("id", "updated_at")[
        Order.objects.count() // 2
    ]
    plans = {}
    by_id = Cursor(by_update=False, id=middle[0]).rows_after(Order.objects.alive())
    by_update = Cursor(by_update=True, id=middle[0], updated_at=middle[1]).rows_after(
        Order.objects.all()
    )
    for title, queryset in (
        ("cursor page by id (WHERE id > x ORDER BY id)", by_id),
        ("sync page by (updated_at, id)", by_update),
    ):
        sql, params = queryset.values("id")[: PER_PAGE + 1].query.sql_with_params()
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql, params)
                plans[title] = "\n".join(row[0] for row in cursor.fetchall())
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
                plans[title] = "\n".join(row[-1] for row in cursor.fetchall())
    return plans


def main() -> None:
    args = measurement_arguments("--sync", "--no-pages")

    import logging

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    django.setup()
    logging.disable(logging.INFO)
    from django.db import connection

    from shop.models import Customer, Order

    key = _api_key()
    with connection.cursor() as cursor:
        cursor.execute(
            "SHOW server_version"
            if connection.vendor == "postgresql"
            else "SELECT sqlite_version()"
        )
        version = cursor.fetchone()[0].split()[0]
    result: dict = {
        "vendor": connection.vendor,
        "version": version,
        "orders": Order.objects.alive().count(),
        "customers": Customer.objects.alive().count(),
    }
    if not args.no_pages:
        result["pages"] = measure_pages(key, args.repeat)
        result["explain"] = explain_cursor_pages()
    if args.sync:
        print("    syncing every order by cursor through gunicorn...", file=sys.stderr, flush=True)
        result["sync"] = sync_orders(key)
    Path(args.out).write_text(json.dumps(result, indent=2))


# The report --------------------------------------------------------------------------------


def _title(result: dict) -> str:
    return (
        f"{NAMES.get(result['vendor'], result['vendor'])} {result['version']}: "
        f"{result['orders']:,} live orders, {result['customers']:,} live customers, "
        f"{PER_PAGE} per page"
    )


def _page(result: dict, entity: str, style: str, page: str) -> dict:
    return next(
        r for r in result["pages"] if (r["entity"], r["style"], r["page"]) == (entity, style, page)
    )


def goals(result: dict) -> list[tuple[str, str, bool]]:
    out = []
    name = NAMES.get(result["vendor"], result["vendor"])
    for entity in ("orders", "customers"):
        for style in ("cursor", "numbered"):
            first = _page(result, entity, style, "1")
            last = _page(result, entity, style, "last full")
            ratio = last["ms"] / first["ms"]
            if style == "numbered" and entity == "orders":
                continue  # No goal: OFFSET reads every row before the page (the table shows it).
            out.append(
                (
                    f"{name}, {entity}, {style} pages: the last (full) at most 1.5x page 1",
                    f"{ratio:.2f}x ({last['ms']:.1f} / {first['ms']:.1f} ms)",
                    ratio <= 1.5,
                )
            )
    scaled = result.get("scaled")
    if result.get("sync") and scaled and scaled.get("sync"):
        growth = scaled["sync"]["seconds"] / result["sync"]["seconds"]
        size = scaled["orders"] / result["orders"]
        out.append(
            (
                f"{name}: syncing {size:.1f}x the orders by cursor costs at most 2.2x",
                f"{growth:.2f}x ({scaled['sync']['seconds']:.0f} s for {scaled['orders']:,} "
                f"orders against {result['sync']['seconds']:.0f} s)",
                growth <= 2.2,
            )
        )
    return out


def _sync_line(label: str, sync: dict) -> str:
    return (
        f"{label}: {sync['pages']:,} pages, {sync['rows']:,} orders in {sync['seconds']:.1f} s "
        f"({sync['seconds'] / sync['pages'] * 1000:.1f} ms a page)"
    )


def _table_lines(result: dict) -> list[str]:
    lines = [
        f"  {r['entity']:<9} {r['style']:<8} page {r['page']:<9} {r['rows']:>3} rows "
        f"{r['ms']:8.1f} ms  "
        f"{r['queries']} queries{' (with COUNT)' if r['counts'] else ''}"
        for r in result.get("pages", [])
    ]
    if result.get("sync"):
        lines.append("  " + _sync_line("full sync of orders", result["sync"]))
    if result.get("scaled", {}).get("sync"):
        scaled = result["scaled"]
        lines.append("  " + _sync_line(f"at {scaled['orders']:,} orders", scaled["sync"]))
    return lines


def render_tables(results: list[dict]) -> str:
    return render_blocks(results, title=_title, lines=_table_lines, goals=goals)


def render_markdown(results: list[dict], *, command: str, seconds: float) -> str:
    took = f"the run took {seconds / 60:.1f} minutes, seeding included."
    out = heading("REST API benchmarks", command, f"{os.cpu_count()} CPUs", took)
    out += [INTRO.format(per_page=PER_PAGE), ""]
    for result in results:
        out += [f"## {_title(result)}", ""]
        if result.get("pages"):
            out += [
                "| list | pages | page | rows | ms | queries | COUNT(*) |",
                "|---|---|---|---|---|---|---|",
            ]
            for r in result["pages"]:
                out.append(
                    f"| {r['entity']} | {r['style']} | {r['page']} | {r['rows']} | "
                    f"{r['ms']:.1f} | {r['queries']} | {'yes' if r['counts'] else 'no'} |"
                )
            out.append("")
        if result.get("sync"):
            out += [_sync_line("Full sync of the orders by cursor", result["sync"]) + ".", ""]
        if result.get("scaled", {}).get("sync"):
            scaled = result["scaled"]
            out += [
                _sync_line(f"The same at {scaled['orders']:,} orders", scaled["sync"]) + ".",
                "",
            ]
        out += goals_table(goals(result))
        for title, plan in result.get("explain", {}).items():
            out += [f"### {NAMES.get(result['vendor'])}: {title}", "", "```", plan, "```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    main()
