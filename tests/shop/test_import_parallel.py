"""The preview spread over two processes (IMPORT_PROCESSES) finds what one process finds,
and prepares every batch the write then takes; the write builds the batches' rows in two
processes while it writes.

The check runs in a subprocess, outside any transaction, on a database the forked children
can open: the test database on PostgreSQL, a SQLite file otherwise (tests/shop/
test_import_worker.py's `database`)."""

import json

import pytest

from tests.shop.test_import_worker import (  # noqa: F401 (database: the fixture)
    FINGERPRINT,
    ORDERS,
    SETUP,
    _expected,
    _row,
    database,
)

pytestmark = pytest.mark.django_db(transaction=True)  # see tests/shop/test_import_worker.py

CHECK = """
import os
from pathlib import Path
from django.conf import settings
from django.core.files import File
from shop import imports
from shop.models import ImportRun
from shop.tasks import import_start

check_batch, pids = imports._check_batch, Path({path!r} + ".pids")
pids.unlink(missing_ok=True)

def noted(*args):  # which process checks each batch
    with pids.open("a") as out:
        out.write(f"{{os.getpid()}}\\n")
    return check_batch(*args)

imports._check_batch = noted

with open({path!r}, "rb") as upload:
    run = import_start(upload=File(upload), model="shop.Order", file_name="orders.csv",
                       file_format="csv", user=None)
imports.run_advance(run)
run.refresh_from_db()
prepared = sorted(
    int(p.name.split(".")[-2]) for p in imports.import_dir().glob(run.stored_name + ".*.prepared")
)
print(json.dumps({{
    "processes": settings.IMPORT_PROCESSES, "state": run.state,
    "rows_checked": run.rows_checked, "new": run.new, "refused": run.refused,
    "refusals": run.refusals, "message": run.message, "prepared": prepared,
    "checked_by": sorted({{int(pid) != os.getpid() for pid in pids.read_text().split()}}),
    "checkers": len(set(pids.read_text().split())),
}}))
"""
WRITE = """
import os
from shop import imports
from shop.models import ImportRun
from shop.resources import OrderResource
from shop.tasks import import_confirm

ready, built, written = OrderResource.ready, [], []

def noted_ready(self, prepared):  # which process builds each batch's rows
    return os.getpid(), ready(self, prepared)

def noted_write(self, dataset, noted):
    pid, made = noted
    built.append(pid)
    written.append(made is not None)
    return write_ready(self, dataset, made)

write_ready = OrderResource.write_ready
OrderResource.ready, OrderResource.write_ready = noted_ready, noted_write
run = ImportRun.objects.get(state="checked")
import_confirm(run=run)
run.refresh_from_db()
imports.run_advance(run)
run.refresh_from_db()
print(json.dumps({
    "state": run.state, "written_new": run.written_new, "built_here": os.getpid() in built,
    "builders": len(set(built)), "batches": len(built), "from_the_preview": all(written),
}))
"""

FAILED_WRITE = """
import json, multiprocessing
from shop import imports
from shop.models import ImportRun
from shop.resources import OrderResource
from shop.tasks import import_confirm

write_ready, calls = OrderResource.write_ready, []

def failing_write(self, dataset, made):
    calls.append(1)
    if len(calls) == 2:
        raise RuntimeError("the disk is full")
    return write_ready(self, dataset, made)

OrderResource.write_ready = failing_write
run = ImportRun.objects.get(state="checked")
import_confirm(run=run)
run.refresh_from_db()
try:
    imports.run_advance(run)
except RuntimeError as exc:
    error = exc  # kept, and with it the write's frames (as a worker's log handler may)
run.refresh_from_db()
print(json.dumps({
    "error": str(error), "helpers": len(multiprocessing.active_children()),
    "state": run.state, "rows_written": run.rows_written,
}))
"""


HOW = ("processes", "checked_by", "checkers")


def _file(tmp_path, name: str, rows: list[list[str]]):
    path = tmp_path / name
    lines = ["reference,customer_email,ordered_at,financial_status,line_items"]
    lines += [",".join(f'"{cell}"' for cell in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _check(store, path, processes: int) -> dict:
    store.env["IMPORT_PROCESSES"] = str(processes)
    return json.loads(store.run(CHECK.format(path=str(path))))


def test_two_processes_refuse_the_rows_one_process_refuses(database, tmp_path):  # noqa: F811
    rows = [_row(n) for n in range(1, ORDERS + 1)]
    rows[149][1] = "nobody@example.com"  # no such customer
    rows[776][4] = "p9 x 1"  # no such product
    rows[1998][2] = "the day after tomorrow"
    path = _file(tmp_path, "refused.csv", rows)
    database.run(SETUP.format(path=str(path)))

    alone, spread = _check(database, path, 1), _check(database, path, 2)

    assert (alone["checked_by"], alone["checkers"]) == ([False], 1)  # the worker itself
    assert (spread["checked_by"], spread["checkers"]) == ([True], 2)  # two children
    assert spread["state"] == "refused"
    assert spread["refused"] == 3
    assert [refusal["row"] for refusal in spread["refusals"]] == [150, 777, 1999]
    assert {key: spread[key] for key in spread if key not in HOW} == {
        key: alone[key] for key in alone if key not in HOW
    }


def test_two_processes_prepare_every_batch_and_the_write_takes_them(database, tmp_path):  # noqa: F811
    path = _file(tmp_path, "orders.csv", [_row(n) for n in range(1, ORDERS + 1)])
    database.run(SETUP.format(path=str(path)))  # its own run stays unchecked: no worker here

    checked = _check(database, path, 2)

    assert (checked["checked_by"], checked["checkers"]) == ([True], 2)
    assert checked["state"] == "checked"
    assert (checked["rows_checked"], checked["new"], checked["refused"]) == (ORDERS, ORDERS, 0)
    batch = int(database.env["IMPORT_BATCH_ROWS"])
    assert checked["prepared"] == list(range(0, ORDERS, batch))
    # The write builds each batch's rows from the preview's in the two other processes, and
    # writes them here.
    assert json.loads(database.run(WRITE)) == {
        "state": "done",
        "written_new": ORDERS,
        "built_here": False,
        "builders": 2,
        "batches": ORDERS // batch,
        "from_the_preview": True,
    }
    assert json.loads(database.run(FINGERPRINT)) == _expected()


def test_a_write_failing_stops_its_helpers_at_once(database, tmp_path):  # noqa: F811
    path = _file(tmp_path, "orders.csv", [_row(n) for n in range(1, ORDERS + 1)])
    database.run(SETUP.format(path=str(path)))
    assert _check(database, path, 2)["state"] == "checked"

    failed = json.loads(database.run(FAILED_WRITE))

    batch = int(database.env["IMPORT_BATCH_ROWS"])
    assert failed == {
        "error": "the disk is full",
        "helpers": 0,  # stopped although the error, and the write's frames, are still held
        "state": "failed",
        "rows_written": batch,  # the first batch is in, the second rolled back
    }
