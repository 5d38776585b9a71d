"""The Recompute button on the second Tasks backend: asked for with TASKS_BACKEND=rq, counted by
a real `rqworker` on a real Redis (the README's RQ recipe; tests/push/test_worker_rq.py)."""

import json

import pytest

from tests.push.test_worker_rq import RQ_WORKER, Site

pytestmark = pytest.mark.django_db(transaction=True)

ASK = """
from shop import tasks
from shop.models import Customer

Customer.objects.create(email="a@example.com", first_name="A", last_name="B", phone="")
Customer.objects.create(email="b@example.com", first_name="B", last_name="C", phone="+2010")
run = tasks.quality_run_request()
print(run.pk)
"""


def test_recompute_is_counted_by_an_rqworker(tmp_path, redis_url):
    site = Site(tmp_path, redis_url)
    run = int(site.run(ASK))
    site.manage(*RQ_WORKER[1:], "--burst")
    [(computed_at, counts)] = site.query(
        f"SELECT computed_at, counts FROM shop_qualityrun WHERE id = {run}"
    )
    assert computed_at is not None
    counts = counts if isinstance(counts, dict) else json.loads(counts)
    assert counts["customer"]["missing_phone"] == 1
