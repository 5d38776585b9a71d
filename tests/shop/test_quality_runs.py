"""The data quality page shows the counts of the worker's last run, never counting on a request;
a Recompute button asks the worker for a new run, once however often it is pressed."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from push.tasks import pump
from shop import quality, services, tasks
from shop.models import Customer, Product, QualityRun
from shop.tasks import quality_compute
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db

URL = "/admin/shop/store/quality/"


def _numbers(sections):
    return {(s.model, f.check.key): f.count for s in sections for f in s.findings} | {
        (s.model, "live"): s.live for s in sections
    }


def _untidy_store():
    OrderFactory(items=2)
    CustomerFactory(phone="")
    empty = OrderFactory(items=1)
    empty.line_items.all().delete()
    ProductFactory(image_url="", vendor="")
    ProductFactory(published_at=None)
    CategoryFactory()
    gone = CustomerFactory()
    services.customer_soft_delete(customer=gone)


def _queued():
    return DBTaskResult.objects.filter(task_path=quality_compute.module_path, status="READY")


def _ask(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(URL, follow=True)


def test_the_worker_counts_what_the_report_counts_on_the_spot(store):
    _untidy_store()
    run = tasks.quality_run_request()

    quality_compute.call(run.pk)

    run.refresh_from_db()
    assert run.computed_at is not None
    assert _numbers(quality.sections(run.counts)) == _numbers(quality.report())
    assert run.counts["customer"]["missing_phone"] == 1
    assert run.counts["order"]["no_line_items"] == 1
    assert run.counts["product"]["missing_image"] == 1


def test_the_page_shows_the_last_run_as_of_its_time_in_the_store_zone(admin_client, store):
    CustomerFactory(phone="")
    run = quality.quality_run_compute()
    QualityRun.objects.filter(pk=run.pk).update(
        computed_at=datetime(2026, 11, 1, 12, 5, tzinfo=UTC)
    )
    CustomerFactory(phone="")  # after the run: not in its counts

    response = admin_client.get(URL)

    page = response.content.decode()
    assert response.status_code == 200
    assert "As of" in page
    assert "2026-11-01 14:05" in page  # Africa/Cairo
    assert "Recompute" in page
    counts = {
        (s.model, f.check.key): f.count for s in response.context["sections"] for f in s.findings
    }
    assert counts[(Customer, "missing_phone")] == 1


def test_without_a_run_the_page_says_so_and_offers_to_compute(admin_client, store):
    response = admin_client.get(URL)

    page = response.content.decode()
    assert response.status_code == 200
    assert "has not been computed yet" in page
    assert "Compute now" in page
    assert response.context["sections"] == []


@pytest.mark.parametrize("orders", [0, 1, 8])
def test_the_page_reads_the_same_few_rows_however_large_the_store(
    admin_client, store, orders, django_assert_num_queries
):
    OrderFactory.create_batch(orders, items=2)
    quality.quality_run_compute()
    admin_client.get(URL)  # the session's first use

    # The store (its time zone), session, user, the last computed run, the waiting run.
    with django_assert_num_queries(5):
        response = admin_client.get(URL)
    assert response.status_code == 200


def test_recompute_asks_the_worker_once_however_often_it_is_pressed(
    admin_client, store, django_capture_on_commit_callbacks
):
    quality.quality_run_compute()

    first = _ask(admin_client, django_capture_on_commit_callbacks)
    second = _ask(admin_client, django_capture_on_commit_callbacks)

    assert first.redirect_chain == [(reverse("admin:shop_quality"), 302)]
    assert "Recomputing: refresh in a minute." in [str(m) for m in first.context["messages"]]
    assert "being recomputed" in " ".join(str(m) for m in second.context["messages"])
    assert _queued().count() == 1
    assert QualityRun.objects.filter(computed_at__isnull=True).count() == 1
    page = second.content.decode()
    assert "Recomputing since" in page
    assert 'id="quality-run"' in page
    assert "Recompute</button>" not in page


def test_a_run_lost_long_ago_does_not_block_a_new_one(
    admin_client, store, settings, django_capture_on_commit_callbacks
):
    settings.QUALITY_RUN_SECONDS = 60
    QualityRun.objects.create(requested_at=timezone.now() - timedelta(minutes=5))

    _ask(admin_client, django_capture_on_commit_callbacks)

    assert _queued().count() == 1


def test_recompute_needs_the_permission_the_page_needs(
    staff_client, store, django_capture_on_commit_callbacks
):
    client = staff_client("view_store", "change_store")

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(URL).status_code == 403
    assert client.get(URL).status_code == 403
    assert not _queued().exists()
    assert not QualityRun.objects.exists()


def test_recompute_needs_the_csrf_token(admin_user, store):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(admin_user)

    assert csrf_client.post(URL).status_code == 403
    assert not QualityRun.objects.exists()


def test_a_view_only_clerk_sees_the_stored_counts_of_the_models_they_may_view(staff_client, store):
    ProductFactory(image_url="")
    quality.quality_run_compute()

    response = staff_client("view_product").get(URL)

    assert [s.model for s in response.context["sections"]] == [Product]
    assert response.context["sections"][0].findings[0].count == 1


def test_a_new_run_replaces_the_older_ones(store):
    older = quality.quality_run_compute()
    lost = QualityRun.objects.create(requested_at=timezone.now())
    newer = quality.quality_run_compute()

    assert list(QualityRun.objects.all()) == [newer]
    quality_compute.call(lost.pk)  # its task runs late: nothing to count into
    quality_compute.call(older.pk)
    assert list(QualityRun.objects.all()) == [newer]


def test_a_failed_count_leaves_no_run_waiting(store, monkeypatch):
    run = tasks.quality_run_request()

    def broken():
        raise RuntimeError("database went away")

    monkeypatch.setattr(quality, "count_all", broken)
    with pytest.raises(RuntimeError):
        quality_compute.call(run.pk)
    assert not QualityRun.objects.exists()


def test_a_check_added_since_the_run_is_shown_as_not_counted(admin_client, store):
    run = quality.quality_run_compute()
    del run.counts["order"]["totals_mismatch"]
    run.save()

    response = admin_client.get(URL)

    findings = {f.check.key: f for s in response.context["sections"] for f in s.findings}
    assert findings["totals_mismatch"].count is None
    assert "not counted yet" in response.content.decode()


def test_the_worker_takes_the_count_before_a_waiting_push_pump(
    admin_client, store, django_capture_on_commit_callbacks
):
    pump.using(run_after=timezone.now() - timedelta(seconds=1)).enqueue()
    _ask(admin_client, django_capture_on_commit_callbacks)

    # What the database worker claims next: the first ready task in the backend's order.
    assert DBTaskResult.objects.ready().first().task_path == quality_compute.module_path
