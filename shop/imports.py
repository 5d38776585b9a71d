"""Limits on what an import may upload, checked before the file is parsed for real.

A small file can unpack into millions of rows or one huge cell (an XLSX is a zip); parsing
it would take minutes of CPU, gigabytes of memory and the database's write lock. The file is
checked first, reading as little as needed: its size, then the size it unpacks to (XLSX),
then row by row (streamed), stopping at the first breach. Each limit is a setting. An XLSX's
rows are counted in the parts its parser will read, found as that parser finds them.
"""

import csv
import dataclasses
import hmac
import io
import pickle
import secrets
import zipfile
from collections.abc import Generator, Iterable, Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import tablib  # type: ignore[import-untyped]
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from import_export.results import RowResult
from openpyxl import load_workbook
from openpyxl.packaging.relationship import get_dependents, get_rels_path
from openpyxl.reader.excel import ExcelReader
from openpyxl.xml.constants import EXTERNAL_LINK_NS, SHARED_STRINGS

from core import collector, fanout, inserts


def _limit(name: str) -> int:
    return int(getattr(settings, name))


def check_rows(rows: Iterable[list[str]]) -> None:
    """Refuse more than IMPORT_MAX_ROWS rows (after the header) or a cell longer than
    IMPORT_MAX_CELL_CHARS."""
    max_rows = _limit("IMPORT_MAX_ROWS")
    for number, _ in enumerate(check_cells(rows, numbered=True)):
        if number > max_rows:
            raise ValidationError(
                f"The file has more than {max_rows:,} rows: split it into smaller files."
            )


def check_cells(rows: Iterable[list[str]], *, numbered: bool = False) -> Iterator[list[str]]:
    """Pass rows through, refusing a cell longer than IMPORT_MAX_CELL_CHARS."""
    max_cell = _limit("IMPORT_MAX_CELL_CHARS")
    for number, row in enumerate(rows, 1):
        if any(len(value) > max_cell for value in row):
            where = f"Row {number} has a cell" if numbered else "A cell is"
            raise ValidationError(f"{where} longer than {max_cell:,} characters.")
        yield row


def _csv_rows(upload, encoding: str) -> Generator[list[str], None, None]:
    text = io.TextIOWrapper(upload, encoding=encoding, errors="replace", newline="")
    # A field longer than the cell limit is reported by check_rows, not read in full.
    csv.field_size_limit(_limit("IMPORT_MAX_CELL_CHARS") + 1)
    try:
        yield from csv.reader(text)
    except csv.Error as exc:
        raise ValidationError(f"The CSV file cannot be read: {exc}.") from exc
    finally:
        text.detach()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _is(tag: str, *names: str) -> bool:
    return any(tag == name or tag.endswith("}" + name) for name in names)


def _sheet_rows(archive: zipfile.ZipFile, name: str) -> Iterator[list[str]]:
    """Stream a worksheet's rows as the texts of their cells. (openpyxl first reads a whole
    sheet that does not state its size, which is what a hostile file does.)"""
    texts: list[str] = []
    with archive.open(name) as xml:
        for _, element in ElementTree.iterparse(xml):
            if _is(element.tag, "v", "t"):
                texts.append(element.text or "")
            elif _is(element.tag, "row"):
                yield texts
                texts = []
                element.clear()


def _shared_strings(archive: zipfile.ZipFile, name: str) -> Iterator[list[str]]:
    """The workbook's shared strings, one to a row (cells point at them)."""
    with archive.open(name) as xml:
        for _, element in ElementTree.iterparse(xml):
            if _local(element.tag) == "si":
                yield ["".join(t.text or "" for t in element.iter() if _local(t.tag) == "t")]
                element.clear()


def _parts_read(upload) -> tuple[list[str], list[str]]:
    """Return the parts openpyxl (tablib's XLSX reader) reads rows from, and its shared
    strings part if any: wherever the workbook's relationships put them, which need not be
    xl/worksheets/. openpyxl itself resolves them, so the check reads what the import will.
    External links hold cached rows that openpyxl reads too: they are counted as sheets."""
    reader = ExcelReader(upload, read_only=True, keep_links=False)
    with reader.archive:
        reader.read_manifest()
        strings = reader.package.find(SHARED_STRINGS)
        reader.read_workbook()
        parts = [rel.target for _, rel in reader.parser.find_sheets()]
        rels = get_dependents(reader.archive, get_rels_path(reader.parser.workbook_part_name))
        parts += [
            rel.target
            for rel in rels
            if rel.Type == EXTERNAL_LINK_NS and rel.TargetMode != "External"
        ]
    return parts, [strings.PartName[1:]] if strings is not None else []


# What a hostile or broken workbook makes the XML and zip readers and openpyxl raise.
UNREADABLE = (KeyError, OSError, ValueError, TypeError, SyntaxError, zipfile.BadZipFile)


def _check_xlsx(upload) -> None:
    try:
        archive = zipfile.ZipFile(upload)
    except zipfile.BadZipFile as exc:
        raise ValidationError("The file is not an XLSX workbook.") from exc
    with archive:
        unpacked = sum(member.file_size for member in archive.infolist())
        limit = _limit("IMPORT_MAX_UNPACKED_BYTES")
        if unpacked > limit:
            raise ValidationError(
                f"The workbook unpacks to more than {limit // 1_000_000:,} MB: "
                "split it into smaller files."
            )
        try:
            upload.seek(0)
            sheets, strings = _parts_read(upload)
            # Where the parser finds them, and (stricter, harmless) where they usually are.
            names = archive.namelist()
            sheets += [n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml")]
            strings += [n for n in names if n == "xl/sharedStrings.xml"]
            for name in dict.fromkeys(sheets):
                check_rows(_sheet_rows(archive, name))
            for name in dict.fromkeys(strings):
                for _ in check_cells(_shared_strings(archive, name)):
                    pass
        except UNREADABLE as exc:
            raise ValidationError("The XLSX workbook cannot be read.") from exc


def check_upload(upload, *, binary: bool, encoding: str = "utf-8-sig") -> None:
    """Raise ValidationError when an uploaded CSV (binary False) or XLSX breaks a limit."""
    max_bytes = _limit("IMPORT_MAX_BYTES")
    if upload.size > max_bytes:
        raise ValidationError(
            f"The file is larger than {max_bytes // 1_000_000:,} MB: split it into smaller files."
        )
    upload.seek(0)
    try:
        if binary:
            _check_xlsx(upload)
        else:
            rows = _csv_rows(upload, encoding)
            try:
                check_rows(rows)
            finally:
                rows.close()  # detach its text wrapper now, while the upload is open
    finally:
        upload.seek(0)


# Imports in the background -------------------------------------------------------------------
#
# The admin stores the upload under IMPORT_DIR and records an ImportRun; the worker
# (shop/tasks.py) checks the file IMPORT_BATCH_ROWS rows at a time for the preview, then, once
# confirmed, writes it a batch to a transaction. Each batch moves the run's counter in its own
# transaction, under the run's row lock, so a batch is written once however many workers run
# the import and a worker killed mid-batch leaves nothing of that batch behind.

# The refusals a run keeps to show (the first ones, by row).
SHOWN_REFUSALS = 20
FORMATS = ("csv", "xlsx")


def import_dir() -> Path:
    path = Path(settings.IMPORT_DIR)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def store_upload(upload, file_format: str) -> str:
    """Copy an upload under IMPORT_DIR under a random name; return that name."""
    if file_format not in FORMATS:
        raise ValueError(f"Not an import format: {file_format!r}.")
    name = f"{secrets.token_hex(16)}.{file_format}"
    with open(import_dir() / name, "xb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return name


def remove_upload(name: str) -> None:
    """Remove an upload and what its preview prepared."""
    if name:
        (import_dir() / name).unlink(missing_ok=True)
        for prepared in import_dir().glob(f"{name}.*.prepared*"):
            prepared.unlink(missing_ok=True)


# What the preview of a batch prepared for its write (shop.resources.OrderResource.prepared):
# kept beside the upload, signed with the site's secret (it is read back with pickle), and
# removed with the upload.
_PREPARED_SALT = "shop.imports.prepared"


def _prepared_path(name: str, first: int) -> Path:
    return import_dir() / f"{name}.{first}.prepared"


def _signature(name: str, first: int, data: bytes) -> bytes:
    """Signed for this upload's batch only: a file moved to another name or batch fails."""
    signed = f"{name}:{first}:".encode() + data
    return salted_hmac(_PREPARED_SALT, signed, algorithm="sha256").digest()


def prepared_keep(name: str, first: int, data: bytes) -> None:
    """Keep `data` (a batch's prepared write, pickled) for the batch starting at row
    `first`."""
    path = _prepared_path(name, first)
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_bytes(_signature(name, first, data) + data)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def prepared_take(name: str, first: int) -> dict | None:
    """What the preview prepared for the batch starting at row `first`, if it is there and
    its signature holds."""
    try:
        content = _prepared_path(name, first).read_bytes()
    except FileNotFoundError:
        return None
    signature, data = content[:32], content[32:]
    if not hmac.compare_digest(signature, _signature(name, first, data)):
        return None
    return pickle.loads(data)  # noqa: S301 (signed by this site above)


def _file_rows(path: Path, file_format: str) -> Generator[list, None, None]:
    if file_format == "xlsx":
        book = load_workbook(path, read_only=True, data_only=True)
        try:
            for row in book.active.iter_rows(values_only=True):  # type: ignore[union-attr]
                yield list(row)
        finally:
            book.close()
        return
    csv.field_size_limit(_limit("IMPORT_MAX_CELL_CHARS") + 1)
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as text:
        try:
            yield from (row for row in csv.reader(text) if row)  # as tablib: blank lines skipped
        except csv.Error as exc:
            raise ValidationError(f"The CSV file cannot be read: {exc}.") from exc


def file_batches(
    name: str, file_format: str, *, start: int = 0, size: int
) -> Iterator[tuple[int, tablib.Dataset]]:
    """Yield (index of its first row, dataset) for each `size` rows of a stored file from row
    `start` (0 is the first row after the header), as tablib would read them."""
    rows = _file_rows(import_dir() / name, file_format)
    try:
        headers = next(rows, None)
        if headers is None:
            return
        headers = ["" if cell is None else str(cell) for cell in headers]
        width, batch, index = len(headers), [], 0
        for row in rows:
            if index >= start:
                if len(row) > width:
                    if any(cell not in (None, "") for cell in row[width:]):
                        raise ValidationError(
                            f"Row {index + 1} has more cells than the header has columns."
                        )
                    row = row[:width]
                batch.append(row + [""] * (width - len(row)))
                if len(batch) == size:
                    yield index + 1 - size, tablib.Dataset(*batch, headers=headers)
                    batch = []
            index += 1
        if batch:
            yield index - len(batch), tablib.Dataset(*batch, headers=headers)
    finally:
        rows.close()


def count_rows(name: str, file_format: str) -> int:
    return sum(len(batch) for _, batch in file_batches(name, file_format, size=10_000))


def _resource_for(run):
    from .resources import STORE_FILES

    classes = {r._meta.model._meta.label: r for _, r in STORE_FILES}
    return classes[run.model]()


def _refusal_dicts(found) -> list[dict]:
    return [{"row": refusal.row, "errors": refusal.errors} for refusal in found]


def _locked(run_id: int):
    from .models import ImportRun

    return ImportRun.objects.select_for_update().get(pk=run_id)


def run_advance(run) -> None:
    """Carry a run on from where it stands: check it, or write it once confirmed. Safe to call
    again after a crash, and from two workers at once."""
    from . import history
    from .models import ImportRun

    try:
        with collector.batch_pace():
            if run.state == ImportRun.State.CHECKING:
                _check(run)
            elif run.state == ImportRun.State.WRITING:
                with history.acting(history.Actor.import_run(run), history.Door.IMPORT):
                    _write(run)
    except (ValidationError, *UNREADABLE, UnicodeDecodeError) as exc:
        messages = exc.messages if isinstance(exc, ValidationError) else ["It cannot be read."]
        _end(run, ImportRun.State.FAILED, "The file was not imported: " + " ".join(messages))
    except Exception:
        _end(run, ImportRun.State.FAILED, "The import stopped on an unexpected error.")
        raise


def _end(run, state: str, message: str = "", **fields) -> bool:
    """End an active run, removing its file; False when it had ended already."""
    from .models import ImportRun

    ended = ImportRun.objects.filter(
        pk=run.pk, state__in=[ImportRun.State.CHECKING, ImportRun.State.WRITING]
    ).update(state=state, message=message, finished_at=timezone.now(), stored_name="", **fields)
    remove_upload(run.stored_name)
    return bool(ended)


@dataclasses.dataclass
class _Checked:
    """What the preview found in one batch (computed in a child process when the check is
    spread over several)."""

    first: int
    rows: int
    totals: dict
    refused: list
    prepared: bytes | None  # the batch's write, pickled, when the resource keeps one


def _check_batch(resource, first: int, batch) -> _Checked:
    from .resources import refusals

    result = resource.import_data(batch, dry_run=True, continuing=first > 0)
    refused = refusals(result, offset=first)
    kept = None if refused else resource.prepared(len(batch))
    data = None if kept is None else pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL)
    return _Checked(first, len(batch), dict(result.totals), refused, data)


def _check(run) -> None:
    from .models import ImportRun

    if run.total_rows is None:
        ImportRun.objects.filter(pk=run.pk).update(
            total_rows=count_rows(run.stored_name, run.file_format),
            step_started_at=timezone.now(),
        )
        run.refresh_from_db()
    resource = _resource_for(run)
    resource._meta.skip_diff = True  # the preview shows counts, not each row's values
    size = _limit("IMPORT_BATCH_ROWS")
    batches = file_batches(run.stored_name, run.file_format, start=run.rows_checked, size=size)
    # A batched resource's batches are checked apart from each other, reading only: they can
    # go to several processes (IMPORT_PROCESSES). Categories name the file's earlier
    # rows as parents, so they are checked in order, here.
    left = (run.total_rows or 0) - run.rows_checked
    processes = _limit("IMPORT_PROCESSES") if resource.batched and left > size else 1
    checked = fanout.ordered_map(
        lambda item: _check_batch(resource, *item), batches, processes=processes
    )
    with closing(checked):  # the helpers stop as the check ends, also on an error
        for found in checked:
            with transaction.atomic():
                current = _locked(run.pk)
                if current.state != ImportRun.State.CHECKING or current.rows_checked != found.first:
                    continue  # another worker checked these rows
                if found.prepared is not None:
                    prepared_keep(run.stored_name, found.first, found.prepared)
                totals = found.totals
                current.rows_checked = found.first + found.rows
                current.new += totals[RowResult.IMPORT_TYPE_NEW]
                current.changed += totals[RowResult.IMPORT_TYPE_UPDATE]
                current.unchanged += totals[RowResult.IMPORT_TYPE_SKIP]
                current.refused += len(found.refused)
                room = SHOWN_REFUSALS - len(current.refusals)
                current.refusals = current.refusals + _refusal_dicts(found.refused[: max(room, 0)])
                current.save()
    run.refresh_from_db()
    if run.state != ImportRun.State.CHECKING or run.rows_checked < (run.total_rows or 0):
        return
    if run.refused:
        _end(
            run,
            ImportRun.State.REFUSED,
            "Nothing was imported: correct the refused rows in the file, then upload it again.",
        )
    else:
        ImportRun.objects.filter(pk=run.pk, state=ImportRun.State.CHECKING).update(
            state=ImportRun.State.CHECKED
        )


def _write(run) -> None:
    from .models import ImportRun
    from .resources import advance_sequences

    resource = _resource_for(run)
    size = _limit("IMPORT_BATCH_ROWS")
    name = run.stored_name
    batches = file_batches(name, run.file_format, start=run.rows_written, size=size)

    read: dict[int, Any] = {}  # the batches read from the file, by their first row

    def firsts() -> Iterator[int]:
        for first, batch in batches:
            read[first] = batch
            yield first

    def build(first: int):
        """The rows the batch's preview prepared, built to be written (by the other processes:
        nothing here reads the database)."""
        return first, resource.ready(prepared_take(name, first))

    left = (run.total_rows or 0) - run.rows_written
    processes = _limit("IMPORT_PROCESSES") if resource.builds_apart and left > size else 1
    answers = fanout.ordered_map(build, firsts(), processes=processes, using=None)
    built = ((first, read.pop(first), ready) for first, ready in answers)
    # closing: the helpers stop as the write ends, also on an error (whose traceback would
    # otherwise keep them running while it is kept).
    with closing(answers), inserts.long_write(router.db_for_write(resource._meta.model)):
        if not _write_batches(run, resource, built):
            return
    run.refresh_from_db()
    if run.state == ImportRun.State.WRITING and run.rows_written >= (run.total_rows or 0):
        with transaction.atomic():
            advance_sequences(resource._meta.model)
            _end(run, ImportRun.State.DONE)


def _write_batches(run, resource, built) -> bool:
    """Write each built batch in its own transaction; False once a batch was refused (the
    run has ended as failed)."""
    from .models import ImportRun
    from .resources import refusals

    for first, batch, ready in built:
        with transaction.atomic():
            current = _locked(run.pk)
            if current.state != ImportRun.State.WRITING or current.rows_written != first:
                continue  # another worker wrote these rows
            result = resource.write_ready(batch, ready)
            if result is None:
                result = resource.write_batch(batch, continuing=first > 0)
            if result.has_errors() or result.has_validation_errors():
                transaction.set_rollback(True)
                refused = refusals(result, offset=first)
            else:
                refused = []
                totals = result.totals
                current.rows_written = first + len(batch)
                current.written_new += totals[RowResult.IMPORT_TYPE_NEW]
                current.written_changed += totals[RowResult.IMPORT_TYPE_UPDATE]
                current.written_unchanged += totals[RowResult.IMPORT_TYPE_SKIP]
                current.save()
        _prepared_path(run.stored_name, first).unlink(missing_ok=True)
        if refused:
            landed = f"rows 1 to {first:,} are in" if first else "no row is in"
            _end(
                run,
                ImportRun.State.FAILED,
                f"Row {refused[0].row:,} was refused while importing (the store changed since "
                f"the preview?): {landed}; nothing from row {first + 1:,} on was written.",
                refused=len(refused),
                refusals=_refusal_dicts(refused[:SHOWN_REFUSALS]),
            )
            return False
    return True


def run_progress(run) -> dict:
    """Rows done of the total in the current step, its rate (rows a second) and the seconds
    left at that rate (None until known)."""
    from .models import ImportRun

    writing = run.state in (ImportRun.State.WRITING, ImportRun.State.DONE)
    done = run.rows_written if writing else run.rows_checked
    total = run.total_rows
    rate = left = None
    if run.step_started_at and done:
        end = run.finished_at or timezone.now()
        elapsed = (end - run.step_started_at).total_seconds()
        if elapsed > 0:
            rate = done / elapsed
            if total is not None:
                left = (total - done) / rate
    return {"done": done, "total": total, "rate": rate, "left": left, "writing": writing}


def run_cancel(run) -> bool:
    """End a checked run that was not confirmed, removing its file; False if not waiting."""
    from .models import ImportRun

    ended = ImportRun.objects.filter(pk=run.pk, state=ImportRun.State.CHECKED).update(
        state=ImportRun.State.FAILED,
        message="Cancelled: nothing was written.",
        finished_at=timezone.now(),
        stored_name="",
    )
    if ended:
        remove_upload(run.stored_name)
    return bool(ended)


def runs_expire(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Cancel the checked runs nobody confirmed within a day (their files go)."""
    from .models import ImportRun

    stale = ImportRun.objects.filter(
        state=ImportRun.State.CHECKED, created_at__lt=timezone.now() - older_than
    )
    return sum(run_cancel(run) for run in stale)
