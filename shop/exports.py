"""Exports that stream: rows are read in chunks and written out as they come.

django-import-export builds a whole tablib Dataset in memory before answering; on a store
with a million orders that is gigabytes. Here a CSV is streamed to the client row by row,
and an XLSX is written by openpyxl's write-only workbook to a temporary file (its rows go to
disk as they are appended) which is then streamed.
"""

import csv
import re
import tempfile
from collections.abc import Iterable, Iterator

from django.http import FileResponse, StreamingHttpResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell

CHUNK = 2000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_rows(resource, queryset, fields) -> Iterator[list]:
    """Yield each row's exported values, reading the queryset in chunks."""
    queryset = resource.get_export_queryset_for_stream(queryset)
    if not queryset.query.order_by and not queryset.ordered:
        queryset = queryset.order_by("pk")
    for obj in queryset.iterator(chunk_size=CHUNK):
        yield resource.export_resource(obj, selected_fields=fields)


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's list).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Numbers and phone numbers may start with + or -: they are kept as they are.
PLAIN_NUMBER = re.compile(r"^[+-]?[0-9][0-9 ().,-]*$")


def csv_cell(value) -> str:
    """The cell's text, with a text that a spreadsheet would run as a formula prefixed with an
    apostrophe, so that it shows as text. An import keeps the apostrophe: nothing is undone
    silently."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def csv_lines(headers: list[str], rows: Iterable[list], *, protect: bool = True) -> Iterator[str]:
    """The CSV file's lines; with `protect`, formulas are shown as text (csv_cell), without,
    cells are written as they are (a file meant to be imported back exactly)."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(headers)  # A BOM, so spreadsheets read UTF-8.
    for row in rows:
        yield writer.writerow([csv_cell(v) if protect else _plain(v) for v in row])


def _plain(value) -> str:
    return "" if value is None else str(value)


def csv_response(filename: str, headers: list[str], rows: Iterable[list]):
    response = StreamingHttpResponse(csv_lines(headers, rows), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _xlsx_cell(sheet, value) -> Cell:
    if value is not None and not isinstance(value, bool | int | float):
        value = str(value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # Text from the store, never a formula.
    return cell


def xlsx_response(filename: str, headers: list[str], rows: Iterable[list]):
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(headers)
    for row in rows:
        sheet.append([_xlsx_cell(sheet, v) for v in row])
    handle = tempfile.TemporaryFile(suffix=".xlsx")
    workbook.save(handle)
    handle.seek(0)
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=XLSX_TYPE)


def write_csv(path, resource, queryset) -> int:
    """Write an export to a CSV file, cells as they are (to be imported back exactly);
    return the rows written."""
    headers = resource.get_export_headers()
    written = 0

    def counted(rows: Iterable[list]) -> Iterator[list]:
        nonlocal written
        for row in rows:
            written += 1
            yield row

    with open(path, "w", encoding="utf-8", newline="") as handle:
        for line in csv_lines(
            headers, counted(export_rows(resource, queryset, None)), protect=False
        ):
            handle.write(line)
    return written
