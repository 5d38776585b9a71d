"""Time the admin dashboard (and optionally the data quality report) on this database."""

import statistics
import time

from django.core.management.base import BaseCommand
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backoffice.dashboard import dashboard
from shop.models import Order
from shop.quality import report


class Command(BaseCommand):
    help = "Compute the dashboard a few times; print its queries and the median time."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=5)
        parser.add_argument("--quality", action="store_true", help="Also time the report.")

    def _measure(self, label, function, runs):
        timings = []
        for _ in range(runs):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                function()
                timings.append((time.perf_counter() - started) * 1000)
        median = statistics.median(timings)
        self.stdout.write(
            f"{label}: {len(queries.captured_queries)} queries, median {median:.0f} ms "
            f"(min {min(timings):.0f}, max {max(timings):.0f}, {runs} runs)"
        )
        for query in queries.captured_queries:
            self.stdout.write(f"  {float(query['time']) * 1000:7.1f} ms  {query['sql'][:110]}")

    def handle(self, *args, runs, quality, **options):
        self.stdout.write(
            f"{connection.vendor}, {Order.objects.count():,} orders, "
            f"{Order.objects.alive().count():,} live"
        )
        self._measure("dashboard", dashboard, runs)
        if quality:
            self._measure("data quality report", report, max(1, runs // 2))
