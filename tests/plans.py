"""Query plans in tests: whether a query reads indexes or scans a big table."""

from django.db import connection


def plan(sql: str, params=()) -> str:
    """Return the database's plan of a query (PostgreSQL: with sequential scans discouraged,
    so that the plan says whether an index can serve the query at all)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def full_scans(plan: str) -> list[str]:
    """Return the lines of a plan that read the whole order or customer table."""
    scans = ("Seq Scan on shop_order", "Seq Scan on shop_customer")
    return [
        line
        for line in plan.splitlines()
        if any(s in line for s in scans) or (line.startswith("SCAN shop_") and "USING" not in line)
    ]
