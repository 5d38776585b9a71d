"""Limits on what an import may upload, checked before the file is parsed for real.

A small file can unpack into millions of rows or one huge cell (an XLSX is a zip); parsing
it would take minutes of CPU, gigabytes of memory and the database's write lock. The file is
checked first, reading as little as needed: its size, then the size it unpacks to (XLSX),
then row by row (streamed), stopping at the first breach. Each limit is a setting. An XLSX's
rows are counted in the parts its parser will read, found as that parser finds them.
"""

import csv
import io
import zipfile
from collections.abc import Generator, Iterable, Iterator
from xml.etree import ElementTree

from django.conf import settings
from django.core.exceptions import ValidationError
from openpyxl.packaging.relationship import get_dependents, get_rels_path
from openpyxl.reader.excel import ExcelReader
from openpyxl.xml.constants import EXTERNAL_LINK_NS, SHARED_STRINGS


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
