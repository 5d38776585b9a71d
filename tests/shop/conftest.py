import pytest
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from shop.models import ImportRun
from shop.tasks import import_advance


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path):
    """Uploads wait in the test's own folder."""
    settings.IMPORT_DIR = tmp_path / "imports"
    return settings.IMPORT_DIR


def work(run: ImportRun) -> ImportRun:
    """Run an import's task as the worker would (its successor too: it finds nothing to do)."""
    import_advance.call(run.pk)
    import_advance.call(run.pk)
    DBTaskResult.objects.filter(task_path=import_advance.module_path).delete()
    run.refresh_from_db()
    return run


def admin_import(client, model: str, upload, *, file_format: str = "0", confirm: bool = True):
    """Upload a file on a model's import page, let the worker check it, confirm it (when it
    may be) and let the worker write it. Return the run and its page's HTML."""
    response = client.post(
        reverse(f"admin:shop_{model}_import"),
        {"resource": "0", "format": file_format, "import_file": upload},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    run = work(ImportRun.objects.latest("id"))
    if confirm and run.state == ImportRun.State.CHECKED:
        client.post(reverse("admin:shop_importrun_confirm", args=[run.pk]))
        run = work(run)
    page = client.get(reverse("admin:shop_importrun_change", args=[run.pk]))
    return run, page.content.decode()
