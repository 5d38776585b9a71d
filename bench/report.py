"""Turn measurements into the printed tables and docs/benchmarks.md."""

import platform
from datetime import UTC, datetime

from .admin import render_markdown as render_admin_markdown
from .push import render_markdown as render_push_markdown

NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
NOTES = [
    "## What the speed costs",
    "",
    "- Writes: each insert, soft delete, restore or delete of an order or customer also",
    "  updates two `feeds_liveblock` rows (its block and superblock) in the same transaction.",
    "  Concurrent inserts at the newest ids therefore queue on the same two rows until commit.",
    "  Seeding is slower for it: `seed_demo` wrote 1,000,000 orders in 230 s on SQLite (row",
    "  triggers) and 84 s on PostgreSQL (statement triggers over COPY).",
    "- Each feed request writes one request-log row. On PostgreSQL that INSERT commits without",
    "  waiting for the WAL flush (`synchronous_commit` off for that statement only): a crash may",
    "  lose the last few log rows, never anything else.",
    "- `python manage.py feed_counters` checks the counts against the tables;",
    "  `--rebuild` recounts them after a write that bypassed the triggers (there is none in",
    "  the app: triggers fire for the ORM, raw SQL and COPY alike).",
    "",
]

HEADER = [
    "page",
    "feed over WSGI (ms)",
    "feed (ms)",
    "floor (ms)",
    "naive (ms)",
    "feed / floor",
    "naive / feed",
    "queries feed / naive",
]


def _title(result: dict) -> str:
    return (
        f"{NAMES.get(result['vendor'], result['vendor'])} {result['version']}: "
        f"{result['orders']:,} live orders, {result['line_items']:,} line items, "
        f"{result['customers']:,} live customers, 100 per page"
    )


def _cells(row: dict) -> list[str]:
    return [
        row["label"] if row["label"] == "last" else f"{row['page']:,}",
        f"{row['feed_http_ms']:.2f}",
        f"{row['feed_ms']:.2f}",
        f"{row['floor_ms']:.2f}",
        f"{row['naive_ms']:.1f}",
        f"{row['feed_ms'] / row['floor_ms']:.2f}x",
        f"{row['naive_ms'] / row['feed_ms']:.0f}x",
        f"{row['feed_queries']} / {row['naive_queries']}",
    ]


def _rows(result: dict):
    for entity in ("orders", "customers"):
        for row in result["pages"][entity]:
            yield entity, row


def _last_page_row(rows: list[dict]) -> dict:
    return [r for r in rows if r["label"] == "last"][0] if len(rows) > 1 else rows[0]


def goals(result: dict) -> list[tuple[str, str, bool]]:
    """Return (goal, measured, met) for each goal of the performance issue."""
    out = []
    name = NAMES.get(result["vendor"], result["vendor"])
    for entity in ("orders", "customers"):
        rows = result["pages"][entity]
        first, last = rows[0], _last_page_row(rows)
        for key, label in (("feed_ms", "feed"), ("feed_http_ms", "feed over WSGI")):
            ratio = last[key] / first[key]
            out.append(
                (
                    f"{name}, {entity}: {label} at the last page at most 1.5x page 1",
                    f"{ratio:.2f}x ({last[key]:.2f} / {first[key]:.2f} ms)",
                    ratio <= 1.5,
                )
            )
        worst = max(rows, key=lambda r: r["feed_ms"] / r["floor_ms"])
        ratio = worst["feed_ms"] / worst["floor_ms"]
        out.append(
            (
                f"{name}, {entity}: feed at most 2x the floor at any page",
                f"worst {ratio:.2f}x (page {worst['label']})",
                ratio <= 2,
            )
        )
        speedup = last["naive_ms"] / last["feed_ms"]
        out.append(
            (
                f"{name}, {entity}: at least 20x faster than the naive baseline at the deep page",
                f"{speedup:.0f}x (page {last['label']})",
                speedup >= 20,
            )
        )
        most = max(r["feed_queries"] for r in rows)
        out.append((f"{name}, {entity}: at most 3 queries per page", str(most), most <= 3))
    crawl = result.get("crawl")
    if crawl:
        out.append(
            (
                f"{name}: full crawl of every orders page through gunicorn under 5 minutes",
                f"{crawl['seconds']:.0f} s for {crawl['pages']:,} pages",
                crawl["seconds"] < 300,
            )
        )
    scaled = result.get("scaled")
    if crawl and scaled:
        growth = scaled["crawl"]["seconds"] / crawl["seconds"]
        size = scaled["orders"] / result["orders"]
        out.append(
            (
                f"{name}: crawling {size:.1f}x the orders costs at most {1.1 * size:.1f}x",
                f"{growth:.2f}x ({scaled['crawl']['seconds']:.0f} s for "
                f"{scaled['orders']:,} orders against {crawl['seconds']:.0f} s)",
                growth <= 1.1 * size,
            )
        )
    return out


def render_blocks(results: list[dict], *, title, lines, goals) -> str:
    """The printed report: a block a database, its title, its `lines`, then its goals."""
    blocks = []
    for result in results:
        block = [title(result), *lines(result)]
        for goal, measured, met in goals(result):
            block.append(f"  [{'met' if met else 'MISSED'}] {goal}: {measured}")
        blocks.append("\n".join(block))
    return "\n\n".join(blocks)


def goals_table(goals: list[tuple[str, str, bool]]) -> list[str]:
    """The goals as a Markdown table, with the blank line after it."""
    rows = [
        f"| {goal} | {measured} | {'yes' if met else '**no**'} |" for goal, measured, met in goals
    ]
    return ["| goal | measured | met |", "|---|---|---|", *rows, ""]


def _table_lines(result: dict) -> list[str]:
    widths = [max(len(h), 8) for h in HEADER]
    lines = ["  ".join(["entity  "] + [h.rjust(w) for h, w in zip(HEADER, widths, strict=True)])]
    for entity, row in _rows(result):
        cells = _cells(row)
        lines.append(
            "  ".join([entity.ljust(9)] + [c.rjust(w) for c, w in zip(cells, widths, strict=True)])
        )
    crawl = result.get("crawl")
    if crawl:
        lines.append(
            f"full crawl of orders: {crawl['pages']:,} pages, {crawl['rows']:,} rows in "
            f"{crawl['seconds']:.1f} s ({crawl['seconds'] / crawl['pages'] * 1000:.2f} ms "
            f"a page); server peak RSS {crawl['server_peak_rss_mb']:.0f} MB, crawler "
            f"{crawl['crawler_peak_rss_mb']:.0f} MB"
        )
    return lines


def render_tables(results: list[dict]) -> str:
    return render_blocks(results, title=_title, lines=_table_lines, goals=goals)


def heading(title: str, command: str, machine: str, took: str) -> list[str]:
    """A report's title, then by what command, when and on what machine it was produced."""
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    return [f"# {title}", "", f"Produced by `{command}` on {when} ({machine}); {took}", ""]


def render_markdown(
    results: list[dict], *, command: str, seconds: float, pushed: list[dict] | None = None
) -> str:
    machine = (
        f"{platform.processor() or platform.machine()}, {_cpus()} CPUs, "
        f"Python {platform.python_version()}"
    )
    took = (
        f"the whole run took {seconds / 60:.1f} minutes. "
        'Rerun it with `make bench` (`ARGS="--orders 100000"` for a quicker one).'
    )
    out = heading("Feed benchmarks", command, machine, took)
    out += [
        "Each cell is the median of several runs after a warm-up, per page of 100, in one run:",
        "",
        "- **feed over WSGI**: a real feed request through Django's WSGI handler (test client):",
        "  token check, the page, the request-log row.",
        "- **feed**: the feed's payload for the page (`feeds.builders.render_endpoint`): the",
        "  one SQL statement that locates and reads the page, the items, orjson.",
        "- **floor**: what no feed can beat: one keyset query for the page "
        "(`WHERE id > x ORDER BY id LIMIT 100`,",
        "  x known in advance), one for its line items (or order stats), the same items, orjson;",
        "  no total, no HTTP. The benchmark checks the floor's items equal the feed's.",
        "- **naive**: DRF ModelSerializers with `OFFSET` pagination and `COUNT(*)`, no prefetch:",
        "  a query per order for its line items, two per customer for orders_count and",
        "  total_spent.",
        "",
    ]
    for result in results:
        out += [f"## {_title(result)}", ""]
        out.append("| entity | " + " | ".join(HEADER) + " |")
        out.append("|---" * (len(HEADER) + 1) + "|")
        for entity, row in _rows(result):
            out.append(f"| {entity} | " + " | ".join(_cells(row)) + " |")
        out.append("")
        partial = {
            entity: result[entity] % 100
            for entity in ("orders", "customers")
            if result[entity] % 100
        }
        if partial:
            described = " and ".join(f"{n} {entity}" for entity, n in partial.items())
            out += [
                f"The last pages hold {described} (partial pages); page 1,000 is a full page "
                "deep in the store, so its ratio to page 1 shows the flat cost as well.",
                "",
            ]
        crawl = result.get("crawl")
        if crawl:
            out += [
                f"Full crawl of the orders feed, page by page through gunicorn (one sync worker) "
                f"over HTTP: **{crawl['pages']:,} pages, {crawl['rows']:,} orders in "
                f"{crawl['seconds']:.1f} s** ({crawl['seconds'] / crawl['pages'] * 1000:.2f} ms "
                f"a page). Peak memory: server worker {crawl['server_peak_rss_mb']:.0f} MB RSS, "
                f"crawler {crawl['crawler_peak_rss_mb']:.0f} MB.",
                "",
            ]
            scaled = result.get("scaled")
            if scaled:
                big = scaled["crawl"]
                out += [
                    f"The same crawl of a store with {scaled['orders']:,} live orders: "
                    f"**{big['pages']:,} pages in {big['seconds']:.1f} s** "
                    f"({big['seconds'] / big['pages'] * 1000:.2f} ms a page); server worker "
                    f"peak {big['server_peak_rss_mb']:.0f} MB RSS.",
                    "",
                ]
        out += goals_table(goals(result))
    out += NOTES
    out += [
        "## Query plans",
        "",
        "The feed reads a page in one statement. `feeds_liveblock` holds live rows per",
        "superblock of 64,000 ids and per block of 1,000 ids, kept by triggers in the same",
        "transaction as every write. The statement sums the superblock rows (16 for a million",
        "orders) to find the superblock where the page starts, then that superblock's block rows",
        "(at most 64) to find the block and how many live rows precede it, then walks the primary",
        "key from that block, skipping fewer than 1,000 rows. The plans show the indexes that",
        "carry it: the covering index `liveblock_covering (entity, block, live)` for the sums",
        "(index-only on PostgreSQL), the primary key (or, on SQLite, the `deleted_at` index",
        "whose entries carry the id) of",
        "`shop_order` / `shop_customer` for the page, `shop_lineitem (order_id)` for line items",
        "and `order_customer_figures (customer_id, financial_status, currency)` for customer",
        "stats. The naive plans show what it avoids: an `OFFSET` that reads every preceding row",
        "and a `COUNT(*)` over the whole table, on every page.",
        "",
    ]
    for result in results:
        for title, plan in result["explain"].items():
            out += [f"### {NAMES.get(result['vendor'])}: {title}", "", "```", plan, "```", ""]
    admin = [result["admin"] for result in results if "admin" in result]
    if admin:
        out += [render_admin_markdown(admin, command=command), ""]
    if pushed:
        out += [render_push_markdown(pushed)]
    return "\n".join(out)


def _cpus() -> int:
    import os

    return os.cpu_count() or 1
