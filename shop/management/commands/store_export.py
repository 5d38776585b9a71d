"""Write the whole store into a directory, one CSV file per entity."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shop.exports import write_csv
from shop.resources import STORE_FILES, store_queryset


class Command(BaseCommand):
    help = (
        "Write the store's settings, categories, products, customers and orders (with their "
        "line items) into DIR, one CSV file each, in the admin's export format."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)

    def handle(self, *args, directory: Path, **options):
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"Cannot create {directory}: {exc.strerror}.") from exc
        for name, resource_class in STORE_FILES:
            resource = resource_class()
            path = directory / f"{name}.csv"
            rows = write_csv(path, resource, store_queryset(resource))
            self.stdout.write(f"{path.name}: {rows:,} rows")
        self.stdout.write(self.style.SUCCESS(f"Exported the store into {directory}."))
