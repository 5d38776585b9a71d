"""Imports in the background: upload, the worker checks, the preview, confirm, the worker
writes (the task run here in-process; tests/shop/test_import_worker.py runs real workers)."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from shop import imports, services
from shop.models import Customer, ImportRun, Order
from shop.tasks import import_advance
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

CUSTOMERS = b"email,first_name,last_name\nnour@example.com,Nour,Ali\nsam@example.com,Sam,Lee\n"


def _upload(client, content: bytes, model: str = "customer", name: str = "c.csv"):
    return client.post(
        reverse(f"admin:shop_{model}_import"),
        {"resource": "0", "format": "0", "import_file": SimpleUploadedFile(name, content)},
    )


def _work(run: ImportRun) -> ImportRun:
    """Run the import's task as the worker would, then every successor it enqueued."""
    import_advance.call(run.pk)
    DBTaskResult.objects.all().delete()
    run.refresh_from_db()
    return run


def _confirm(client, run: ImportRun):
    return client.post(reverse("admin:shop_importrun_confirm", args=[run.pk]))


def test_an_upload_is_checked_by_the_worker_then_written_once_confirmed(
    admin_client, store, import_dir
):
    response = _upload(admin_client, CUSTOMERS)

    run = ImportRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:shop_importrun_change", args=[run.pk])
    assert run.state == ImportRun.State.CHECKING
    assert DBTaskResult.objects.filter(task_path=import_advance.module_path).count() == 1
    stored = import_dir / run.stored_name
    assert stored.is_file()
    page = admin_client.get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' in page

    run = _work(run)

    assert run.state == ImportRun.State.CHECKED
    assert (run.total_rows, run.rows_checked, run.new, run.refused) == (2, 2, 2, 0)
    assert Customer.objects.count() == 0
    page = admin_client.get(response["Location"]).content.decode()
    assert "Import 2 rows" in page
    assert 'http-equiv="refresh"' not in page

    assert _confirm(admin_client, run).status_code == 302
    assert _confirm(admin_client, run).status_code == 302  # twice: writes once
    assert DBTaskResult.objects.filter(task_path=import_advance.module_path).count() == 1
    run = _work(run)
    import_advance.call(run.pk)  # a retried task writes nothing more

    run.refresh_from_db()
    assert run.state == ImportRun.State.DONE
    assert (run.rows_written, run.written_new) == (2, 2)
    assert run.finished_at is not None
    assert sorted(Customer.objects.values_list("email", flat=True)) == [
        "nour@example.com",
        "sam@example.com",
    ]
    assert run.stored_name == ""
    assert not stored.exists()
    page = admin_client.get(reverse("admin:shop_importrun_change", args=[run.pk])).content
    assert b"2 of 2 rows written" in page
    listing = admin_client.get(reverse("admin:shop_importrun_changelist")).content.decode()
    assert "c.csv" in listing


def test_refused_rows_are_listed_and_the_file_dropped(admin_client, store, import_dir):
    _upload(admin_client, b"email,first_name,last_name\nok@example.com,A,B\nbroken,C,D\n")
    run = _work(ImportRun.objects.get())

    assert run.state == ImportRun.State.REFUSED
    assert (run.new, run.refused) == (1, 1)
    assert run.refusals == [{"row": 2, "errors": {"email": ["Enter a valid email address."]}}]
    assert list(import_dir.iterdir()) == []
    page = admin_client.get(reverse("admin:shop_importrun_change", args=[run.pk])).content
    assert b"Enter a valid email address." in page
    assert _confirm(admin_client, run).status_code == 302
    run.refresh_from_db()
    assert run.state == ImportRun.State.REFUSED
    assert Customer.objects.count() == 0


def test_an_order_file_is_checked_and_written_in_batches(admin_client, store, settings):
    settings.IMPORT_BATCH_ROWS = 2
    customer, product = CustomerFactory(), ProductFactory(handle="tee")
    rows = "".join(f"#{n},{customer.email},tee x {n}\n" for n in range(1, 6))
    _upload(admin_client, f"reference,customer_email,line_items\n{rows}".encode(), "order")
    run = _work(ImportRun.objects.get())
    assert (run.state, run.new, run.rows_checked) == (ImportRun.State.CHECKED, 5, 5)

    _confirm(admin_client, run)
    run = _work(run)

    assert (run.state, run.rows_written, run.written_new) == (ImportRun.State.DONE, 5, 5)
    quantities = Order.objects.order_by("reference").values_list(
        "reference", "line_items__quantity"
    )
    assert list(quantities) == [(f"#{n}", n) for n in range(1, 6)]
    assert product.line_items.count() == 5


def test_a_row_refused_while_writing_says_which_rows_are_in(admin_client, store, settings):
    settings.IMPORT_BATCH_ROWS = 2
    first, later = CustomerFactory(), CustomerFactory()
    ProductFactory(handle="tee")
    rows = "".join(f"#{n},{(first if n < 3 else later).email},tee x 1\n" for n in range(1, 6))
    _upload(admin_client, f"reference,customer_email,line_items\n{rows}".encode(), "order")
    run = _work(ImportRun.objects.get())
    _confirm(admin_client, run)
    services.customer_soft_delete(customer=later)  # after the preview, before the write

    run = _work(run)

    assert run.state == ImportRun.State.FAILED
    assert "rows 1 to 2 are in; nothing from row 3 on was written" in run.message
    assert run.refusals[0]["row"] == 3
    assert run.rows_written == 2
    assert sorted(Order.objects.values_list("reference", flat=True)) == ["#1", "#2"]


def test_only_who_may_import_starts_or_confirms_and_sees_only_their_runs(
    admin_client, staff_client, store, django_user_model
):
    _upload(admin_client, CUSTOMERS)
    run = _work(ImportRun.objects.get())
    page = reverse("admin:shop_importrun_change", args=[run.pk])

    viewer = staff_client("view_customer")
    assert _upload(viewer, CUSTOMERS).status_code == 403
    assert _confirm(viewer, run).status_code == 403
    assert viewer.get(page).status_code == 403

    user = django_user_model.objects.create_user("other", password="pw", is_staff=True)
    codenames = ("view_customer", "add_customer", "change_customer")
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    other = Client()
    other.force_login(user)
    assert other.get(page).status_code == 403
    assert _confirm(other, run).status_code == 403
    listing = other.get(reverse("admin:shop_importrun_changelist"))
    assert listing.status_code == 200
    assert "c.csv" not in listing.content.decode()

    run.refresh_from_db()
    assert run.state == ImportRun.State.CHECKED
    assert ImportRun.objects.count() == 1
    assert Customer.objects.count() == 0


def test_a_preview_not_confirmed_is_cancelled_and_its_file_removed(admin_client, store, import_dir):
    _upload(admin_client, CUSTOMERS)
    run = _work(ImportRun.objects.get())

    admin_client.post(reverse("admin:shop_importrun_cancel", args=[run.pk]))

    run.refresh_from_db()
    assert run.state == ImportRun.State.FAILED
    assert list(import_dir.iterdir()) == []
    assert _confirm(admin_client, run).status_code == 302
    run.refresh_from_db()
    assert run.state == ImportRun.State.FAILED


def test_the_uploads_folder_is_apart_from_what_is_served():
    from django.conf import settings as django_settings

    folder = Path(django_settings.IMPORT_DIR).resolve()
    for served in (django_settings.STATIC_ROOT, getattr(django_settings, "MEDIA_ROOT", "")):
        if served:
            root = Path(served).resolve()
            assert not folder.is_relative_to(root)
            assert not root.is_relative_to(folder)


def test_the_progress_gives_the_rate_and_the_time_left(store):
    now = timezone.now()
    run = ImportRun(
        state=ImportRun.State.WRITING,
        total_rows=10_000,
        rows_checked=10_000,
        rows_written=2_500,
        step_started_at=now - timedelta(seconds=10),
    )

    progress = imports.run_progress(run)

    assert (progress["done"], progress["total"], progress["writing"]) == (2_500, 10_000, True)
    assert progress["rate"] == pytest.approx(250, rel=0.05)
    assert progress["left"] == pytest.approx(30, rel=0.05)
