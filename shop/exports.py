"""Exports that stream: rows are read in chunks and written out as they come.

django-import-export builds a whole tablib Dataset in memory before answering; on a store
with a million orders that is gigabytes. Here a CSV is streamed to the client row by row,
and an XLSX is written by openpyxl's write-only workbook to a temporary file (its rows go to
disk as they are appended) which is then streamed.
"""

import csv
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


def _text(value) -> str:
    return "" if value is None else str(value)


def csv_lines(headers: list[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(headers)  # A BOM, so spreadsheets read UTF-8.
    for row in rows:
        yield writer.writerow([_text(v) for v in row])


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
