"""Imports refuse files over the limits before parsing them, and write in batches."""

import io
import zipfile

import pytest
import tablib
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from import_export.formats.base_formats import XLSX
from openpyxl import Workbook

from shop import imports
from shop.models import Customer
from shop.resources import CustomerResource

pytestmark = pytest.mark.django_db


def _xlsx(rows) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _crafted(rows_xml: str) -> bytes:
    """An XLSX whose sheet holds `rows_xml` after a header row, written straight into the zip
    (as a hostile file would be, past what openpyxl itself writes)."""
    source = io.BytesIO(_xlsx([["email"]]))
    out = io.BytesIO()
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for member in original.infolist():
            data = original.read(member)
            if member.filename.endswith("sheet1.xml"):
                data = data.replace(
                    b"</row></sheetData>", b"</row>" + rows_xml.encode() + b"</sheetData>"
                )
            z.writestr(member, data)
    return out.getvalue()


def _rows(count: int) -> str:
    return "".join(f'<row r="{i}"><c r="A{i}"><v>1</v></c></row>' for i in range(2, count + 2))


def _check(content: bytes, name: str) -> str | None:
    upload = SimpleUploadedFile(name, content)
    try:
        imports.check_upload(upload, binary=name.endswith(".xlsx"))
    except ValidationError as exc:
        return exc.messages[0]
    return None


def test_a_file_over_the_size_limit_is_refused(settings):
    settings.IMPORT_MAX_BYTES = 1_000
    assert _check(b"email\n" + b"a@example.com\n" * 100, "c.csv") == (
        "The file is larger than 0 MB: split it into smaller files."
    )


def test_a_csv_with_too_many_rows_or_a_long_cell_is_refused(settings):
    settings.IMPORT_MAX_ROWS = 10
    settings.IMPORT_MAX_CELL_CHARS = 50
    assert _check(b"email\n" + b"a@example.com\n" * 10, "ok.csv") is None
    assert "more than 10 rows" in _check(b"email\n" + b"a@example.com\n" * 11, "rows.csv")
    assert "longer than 50 characters" in _check(b"email\n" + b"a" * 51 + b"\n", "cell.csv")


def test_an_xlsx_with_too_many_rows_or_a_long_cell_is_refused(settings):
    settings.IMPORT_MAX_ROWS = 10
    settings.IMPORT_MAX_CELL_CHARS = 50
    assert _check(_xlsx([["email"]] + [["a@example.com"]] * 10), "ok.xlsx") is None
    assert "more than 10 rows" in _check(_xlsx([["email"]] * 12), "rows.xlsx")
    assert "longer than 50" in _check(_xlsx([["email"], ["a" * 51]]), "cell.xlsx")


def test_an_xlsx_that_unpacks_past_the_limit_is_refused_unparsed(settings):
    settings.IMPORT_MAX_UNPACKED_BYTES = 1_000_000
    content = _crafted(
        '<row r="2"><c r="A2" t="inlineStr"><is><t>' + "a" * 2_000_000 + "</t></is></c></row>"
    )
    assert len(content) < 100_000
    assert "unpacks to more than 1 MB" in _check(content, "bomb.xlsx")


def test_the_default_limits_carry_a_million_orders():
    assert django_settings.IMPORT_MAX_ROWS >= 1_000_000
    # An exported order is 150-400 bytes.
    assert django_settings.IMPORT_MAX_BYTES >= 400 * 1_000_000


def test_an_xlsx_of_many_small_rows_is_refused(settings):
    settings.IMPORT_MAX_ROWS = 50_000
    content = _crafted(_rows(60_000))
    assert len(content) < 1_000_000
    assert "more than 50,000 rows" in _check(content, "bomb.xlsx")


def test_the_admin_shows_the_refusal_on_the_file_field(admin_client, store, settings):
    settings.IMPORT_MAX_ROWS = 2
    upload = SimpleUploadedFile("c.csv", b"email,first_name,last_name\n" + b"a@b.co,A,B\n" * 3)
    response = admin_client.post(
        reverse("admin:shop_customer_import"),
        {"import_file": upload, "format": "0", "resource": "0"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "import_file": ["The file has more than 2 rows: split it into smaller files."]
    }
    assert Customer.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_an_import_checks_outside_a_transaction_then_writes_in_batches(
    store, settings, monkeypatch
):
    settings.IMPORT_BATCH_ROWS = 2
    seen, written = [], []
    prepare, save = CustomerResource.prepare, CustomerResource.save_batch

    def spy(self, instance):
        seen.append(connection.in_atomic_block)
        prepare(self, instance)

    def save_spy(self):
        written.append((connection.in_atomic_block, len(self.items)))
        save(self)

    monkeypatch.setattr(CustomerResource, "prepare", spy)
    monkeypatch.setattr(CustomerResource, "save_batch", save_spy)
    data = tablib.Dataset(headers=["email", "first_name", "last_name"])
    for n in range(5):
        data.append([f"c{n}@example.com", "C", str(n)])

    result = CustomerResource().import_data(data, dry_run=False)

    assert not result.has_validation_errors()
    assert result.totals["new"] == 5
    assert len(result.rows) == 5
    assert Customer.objects.count() == 5
    # The check of every row runs outside a transaction; the writes prepare each row again
    # (nothing was kept from the check) and write a batch at once, in one transaction each.
    assert seen == [False] * 5 + [True] * 5
    assert written == [(True, 2), (True, 2), (True, 1)]


def test_a_long_text_cell_of_a_normal_workbook_is_refused(settings):
    settings.IMPORT_MAX_CELL_CHARS = 50
    workbook = Workbook()
    workbook.active.append(["email"])
    workbook.active.append(["a" * 51])
    out = io.BytesIO()
    workbook.save(out)
    assert "cell longer than 50 characters" in _check(out.getvalue(), "text.xlsx")


def test_a_long_shared_string_is_refused(settings):
    settings.IMPORT_MAX_CELL_CHARS = 50
    source = io.BytesIO(_xlsx([["email"]]))
    out = io.BytesIO()
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(out, "w") as z:
        for member in original.infolist():
            z.writestr(member, original.read(member))
        z.writestr("xl/sharedStrings.xml", "<sst><si><t>" + "a" * 51 + "</t></si></sst>")
    assert _check(out.getvalue(), "shared.xlsx") == "A cell is longer than 50 characters."


# Bad input: a workbook whose parts are where its relationships say, not where they usually are.

SHEET = "/xl/worksheets/sheet1.xml"


def _relocated(rows_xml: str = "", *, sheet: str = "xl/other/sheet1.xml", strings=None) -> bytes:
    """An XLSX whose only sheet lives at `sheet` (its path given, relative to xl/, by
    workbook.xml.rels and the content types), with `rows_xml` after its header row; with
    `strings`, a shared strings part at xl/other/strings.xml."""
    source = io.BytesIO(_xlsx([["email"]]))
    out = io.BytesIO()
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for member in original.infolist():
            data = original.read(member)
            name = member.filename
            if name == SHEET[1:]:
                name = sheet
                data = data.replace(
                    b"</row></sheetData>", b"</row>" + rows_xml.encode() + b"</sheetData>"
                )
            elif name == "xl/_rels/workbook.xml.rels":
                data = data.replace(f'Target="{SHEET}"'.encode(), b'Target="other/sheet1.xml"')
                data = data.replace(b"other/sheet1.xml", sheet.removeprefix("xl/").encode())
            elif name == "[Content_Types].xml":
                data = data.replace(SHEET.encode(), f"/{sheet}".encode())
                if strings is not None:
                    data = data.replace(
                        b"</Types>",
                        b'<Override PartName="/xl/other/strings.xml" ContentType="application/'
                        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
                        b"</Types>",
                    )
            z.writestr(name, data)
        if strings is not None:
            z.writestr("xl/other/strings.xml", f"<sst><si><t>{strings}</t></si></sst>")
    return out.getvalue()


def test_the_import_reads_a_sheet_where_the_workbook_relationships_put_it():
    """The crafted workbooks below are real ones: the import's parser reads their sheet."""
    content = _relocated(_rows(3))
    assert "xl/worksheets/sheet1.xml" not in zipfile.ZipFile(io.BytesIO(content)).namelist()
    dataset = tablib.Dataset().load(content, format="xlsx")
    assert (dataset.headers, len(dataset)) == (["email"], 3)
    assert _check(content, "moved.xlsx") is None


@pytest.fixture
def rows_read(monkeypatch):
    """The sheet rows the check has read (the real reader, counted)."""
    read: list[str] = []
    real = imports._sheet_rows

    def counted(archive, name):
        for row in real(archive, name):
            read.append(name)
            yield row

    monkeypatch.setattr(imports, "_sheet_rows", counted)
    return read


@pytest.fixture
def datasets_loaded(monkeypatch):
    """The workbooks django-import-export has loaded whole (the real loader, counted)."""
    loaded: list[int] = []
    real = XLSX.create_dataset

    def counted(self, in_stream):
        loaded.append(len(in_stream))
        return real(self, in_stream)

    monkeypatch.setattr(XLSX, "create_dataset", counted)
    return loaded


def test_a_sheet_outside_xl_worksheets_is_counted_and_refused_at_the_limit(settings, rows_read):
    settings.IMPORT_MAX_ROWS = 50_000
    content = _relocated(_rows(60_000))
    assert len(content) < 400_000
    message = _check(content, "moved.xlsx")
    assert message == "The file has more than 50,000 rows: split it into smaller files."
    # Streamed, and stopped at the first row over the limit: the header and 50,001 rows.
    assert rows_read == ["xl/other/sheet1.xml"] * 50_002


def test_the_admin_refuses_a_moved_sheet_of_too_many_rows_on_the_file_field(
    admin_client, store, settings, rows_read, datasets_loaded
):
    settings.IMPORT_MAX_ROWS = 50_000
    upload = SimpleUploadedFile("moved.xlsx", _relocated(_rows(60_000)))
    response = admin_client.post(
        reverse("admin:shop_customer_import"),
        {"import_file": upload, "format": "1", "resource": "0"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "import_file": ["The file has more than 50,000 rows: split it into smaller files."]
    }
    # Refused while streaming, at the first row over the limit, before any parser loads the
    # workbook whole.
    assert len(rows_read) == 50_002
    assert datasets_loaded == []
    assert Customer.objects.count() == 0


def test_shared_strings_where_the_content_types_put_them_are_checked(settings):
    settings.IMPORT_MAX_CELL_CHARS = 50
    assert _check(_relocated(strings="a" * 50), "ok.xlsx") is None
    assert _check(_relocated(strings="a" * 51), "long.xlsx") == (
        "A cell is longer than 50 characters."
    )


def test_a_workbook_naming_a_missing_sheet_cannot_be_read():
    content = _relocated(_rows(3))
    source, out = zipfile.ZipFile(io.BytesIO(content)), io.BytesIO()
    with source, zipfile.ZipFile(out, "w") as z:
        for member in source.infolist():
            if member.filename != "xl/other/sheet1.xml":
                z.writestr(member, source.read(member))
    assert _check(out.getvalue(), "missing.xlsx") == "The XLSX workbook cannot be read."


# The former confirmation step: an import is confirmed on its run's page now
# (tests/shop/test_import_runs.py); what is posted here writes nothing, whatever it names.

CSV = b"email,first_name,last_name\nnour@example.com,Nour,Ali\n"


@pytest.mark.parametrize(
    "name",
    ["nope", "../../../etc/passwd", "/etc/passwd", "", "x" * 300, "a:b:c"],
)
def test_the_former_confirmation_writes_nothing_and_offers_the_upload_again(
    admin_client, store, name
):
    fields = {"import_file_name": name, "original_file_name": "c.csv", "format": "0"}
    response = admin_client.post(reverse("admin:shop_customer_process_import"), fields)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Confirm an import on its page under Import runs" in html
    assert 'name="import_file"' in html
    assert Customer.objects.count() == 0


def test_a_run_of_another_id_or_no_id_is_refused(admin_client, store):
    for run_id in ("999", "x", "-1"):
        response = admin_client.get(f"/admin/shop/importrun/{run_id}/change/")
        assert response.status_code in (302, 403, 404)
    response = admin_client.post(reverse("admin:shop_importrun_confirm", args=[999]))
    assert response.status_code == 403


def test_the_confirm_step_takes_only_a_post(admin_client, store):
    assert admin_client.get(reverse("admin:shop_customer_process_import")).status_code == 405
