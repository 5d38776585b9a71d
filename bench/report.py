"""Turn measurements into the printed tables and docs/benchmarks.md."""

import platform
from datetime import UTC, datetime

NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
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
                speedup >= 20 or result["vendor"] != "postgresql",
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
                crawl["seconds"] < 300 or result["vendor"] != "sqlite",
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


def render_tables(results: list[dict]) -> str:
    blocks = []
    for result in results:
        lines = [_title(result)]
        widths = [max(len(h), 8) for h in HEADER]
        lines.append(
            "  ".join(["entity  "] + [h.rjust(w) for h, w in zip(HEADER, widths, strict=True)])
        )
        for entity, row in _rows(result):
            cells = _cells(row)
            lines.append(
                "  ".join(
                    [entity.ljust(9)] + [c.rjust(w) for c, w in zip(cells, widths, strict=True)]
                )
            )
        crawl = result.get("crawl")
        if crawl:
            lines.append(
                f"full crawl of orders: {crawl['pages']:,} pages, {crawl['rows']:,} rows in "
                f"{crawl['seconds']:.1f} s ({crawl['seconds'] / crawl['pages'] * 1000:.2f} ms "
                f"a page); server peak RSS {crawl['server_peak_rss_mb']:.0f} MB, crawler "
                f"{crawl['crawler_peak_rss_mb']:.0f} MB"
            )
        for goal, measured, met in goals(result):
            lines.append(f"  [{'met' if met else 'MISSED'}] {goal}: {measured}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def render_markdown(results: list[dict], *, command: str, seconds: float) -> str:
    out = [
        "# Feed benchmarks",
        "",
        f"Produced by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"({platform.processor() or platform.machine()}, {_cpus()} CPUs, Python "
        f"{platform.python_version()}); the whole run took {seconds / 60:.1f} minutes. "
        'Rerun it with `make bench` (`ARGS="--orders 100000"` for a quicker one).',
        "",
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
        "- **naive**: DRF ModelSerializers with `OFFSET` pagination and `COUNT(*)`, no prefetch.",
        "",
    ]
    for result in results:
        out += [f"## {_title(result)}", ""]
        out.append("| entity | " + " | ".join(HEADER) + " |")
        out.append("|---" * (len(HEADER) + 1) + "|")
        for entity, row in _rows(result):
            out.append(f"| {entity} | " + " | ".join(_cells(row)) + " |")
        out.append("")
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
        out += ["| goal | measured | met |", "|---|---|---|"]
        for goal, measured, met in goals(result):
            out.append(f"| {goal} | {measured} | {'yes' if met else '**no**'} |")
        out.append("")
    out += [
        "## Query plans",
        "",
        "The feed reads a page in one statement: it sums `feeds_liveblock` (live rows per block",
        "of 1000 ids, kept by triggers) to find the block where the page starts and how many",
        "live rows precede it, then walks the primary key from that block, skipping fewer than",
        "1000 rows. The plans show the indexes that carry it: the covering index",
        "`liveblock_covering (entity, block, live)` for the sums, the primary key of",
        "`shop_order` / `shop_customer` for the page, `shop_lineitem (order_id)` for line items",
        "and `order_customer_status (customer_id, financial_status)` for customer stats. The",
        "naive plans show what it avoids: an `OFFSET` that reads every preceding row and a",
        "`COUNT(*)` over the whole table, on every page.",
        "",
    ]
    for result in results:
        for title, plan in result["explain"].items():
            out += [f"### {NAMES.get(result['vendor'])}: {title}", "", "```", plan, "```", ""]
    return "\n".join(out)


def _cpus() -> int:
    import os

    return os.cpu_count() or 1
