"""Read a store's files (as store_export writes them) through the admin's import code."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from import_export.formats.base_formats import CSV
from tqdm import tqdm

from shop import history
from shop.resources import STORE_FILES, FileSummary, import_in_batches


def summary_line(name: str, summary: FileSummary) -> str:
    return (
        f"{name}.csv: {summary.rows:,} rows: {summary.new:,} new, {summary.changed:,} changed, "
        f"{summary.unchanged:,} unchanged, {summary.refused:,} refused"
    )


class Command(BaseCommand):
    help = (
        "Import DIR's store.csv, categories.csv, products.csv, customers.csv and orders.csv "
        "(those present), in that order, in batches. Rows keep their ids when free, match "
        "records by id or natural key, and unchanged rows are not written: running it again "
        "changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)
        parser.add_argument(
            "--batch", type=int, default=None, help="Rows per transaction (IMPORT_BATCH_ROWS)."
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        # A store restored from its files: its records' history says so.
        with history.acting(history.Actor.system("store_import"), history.Door.RESTORE):
            self.restore(**options)

    def restore(self, *, directory: Path, batch: int | None, no_progress: bool, **options):
        batch = batch or int(settings.IMPORT_BATCH_ROWS)
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        present = [(n, r) for n, r in STORE_FILES if (directory / f"{n}.csv").is_file()]
        if not present:
            names = ", ".join(f"{name}.csv" for name, _ in STORE_FILES)
            raise CommandError(f"{directory} has none of {names}.")
        for name, resource_class in present:
            path = directory / f"{name}.csv"
            try:
                with open(path, encoding="utf-8-sig", newline="") as handle:
                    dataset = CSV().create_dataset(handle.read())
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"{path.name} cannot be read: {exc}.") from exc
            # Each resource is made after the files before it are in: it reads the store's
            # time zone, which store.csv may have changed.
            resource = resource_class()
            with tqdm(
                total=len(dataset), desc=name, unit="rows", disable=no_progress, leave=False
            ) as bar:
                summary = import_in_batches(resource, dataset, batch=batch, progress=bar.update)
            self.stdout.write(summary_line(name, summary))
            if summary.refused:
                for refusal in summary.refusals:
                    errors = "; ".join(
                        f"{field}: {' '.join(messages)}"
                        for field, messages in refusal.errors.items()
                    )
                    self.stderr.write(f"  row {refusal.row}: {errors}")
                first = summary.refusals[0].row
                raise CommandError(
                    f"{path.name}: {summary.refused:,} rows refused in the batch from row "
                    f"{first - (first - 1) % batch:,}; nothing of that batch or after it was "
                    "written. Fix the file and run the import again: rows already in show as "
                    "unchanged."
                )
        self.stdout.write(self.style.SUCCESS(f"Imported the store from {directory}."))
