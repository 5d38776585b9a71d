"""Fill the store with realistic demo data."""

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from shop import quality
from shop.demo import seed as seed_


class Command(BaseCommand):
    help = "Add demo customers, products, categories and orders (reproducible with --seed)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=200)
        parser.add_argument("--orders", type=int, default=1_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, customers, orders, seed: int, no_progress: bool, **options):
        if customers < 0 or orders < 0:
            raise CommandError("--customers and --orders must not be negative.")
        if orders and not customers:
            raise CommandError("Orders need customers: give --customers above 0.")
        bars = []

        def progress(label: str, total: int):
            bar = tqdm(total=total, desc=label, unit="rows", disable=no_progress or not total)
            bars.append(bar)
            return bar.update

        result = seed_(customers=customers, orders=orders, seed=seed, progress=progress)
        for bar in bars:
            bar.close()
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {result.customers:,} customers, {result.products:,} products, "
                f"{result.orders:,} orders and {result.line_items:,} line items "
                f"in {result.seconds:.1f} s."
            )
        )
        # The data quality report's page shows the last run: count one for the new data.
        started = time.perf_counter()
        quality.quality_run_compute()
        self.stdout.write(
            f"Counted the data quality report in {time.perf_counter() - started:.1f} s."
        )
