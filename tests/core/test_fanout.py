"""core.fanout: work spread over forked children, answered in order, the children always
stopped (the parent done, failed, stopped early or killed)."""

import gc
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection, transaction

from core import fanout

ROOT = Path(__file__).resolve().parents[2]


def _where(item: int) -> tuple[int, int]:
    if item % 3 == 0:
        time.sleep(0.02)  # answers come back out of step: the order is still the items'
    return item * item, os.getpid()


def _ended(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"  # a zombie waiting for its reaper has ended


def test_answers_come_in_the_items_order_from_the_children():
    answers = list(fanout.ordered_map(_where, range(40), processes=2, using=None))

    assert [square for square, _ in answers] == [n * n for n in range(40)]
    pids = {pid for _, pid in answers}
    assert len(pids) == 2
    assert os.getpid() not in pids
    assert multiprocessing.active_children() == []


def test_one_process_works_here():
    answers = list(fanout.ordered_map(_where, range(5), processes=1, using=None))

    assert answers == [(n * n, os.getpid()) for n in range(5)]


def _fails_on_seven(item: int) -> int:
    if item == 7:
        raise ValueError("seven is refused")
    return item


def test_a_childs_exception_is_raised_here_and_the_children_stop():
    answers = fanout.ordered_map(_fails_on_seven, range(20), processes=2, using=None)
    assert [next(answers) for _ in range(7)] == list(range(7))

    with pytest.raises(fanout.ChildFailed, match="ValueError: seven is refused"):
        next(answers)

    assert multiprocessing.active_children() == []


def test_stopping_early_stops_the_children():
    answers = fanout.ordered_map(_where, range(1_000), processes=2, using=None)
    assert [next(answers)[0] for _ in range(3)] == [0, 1, 4]

    answers.close()

    assert multiprocessing.active_children() == []


LEFT_OPEN = """
import os, sys
from core import fanout

answers = fanout.ordered_map(os.getpid().__add__, range(1_000), processes=2, using=None)
print(next(answers), flush=True)  # the generator left open as the process exits
"""


def test_a_process_exiting_with_the_children_still_open_stops_them():
    ended = subprocess.run(
        [sys.executable, "-c", LEFT_OPEN],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert ended.returncode == 0, ended.stderr
    assert int(ended.stdout) > 0


KILLED_PARENT = """
import os, sys, time
from core import fanout

def slow(item):
    time.sleep(0.2)
    return os.getpid(), b"x" * 1_000_000  # more than a pipe holds: the child waits to send it

seen = set()
for pid, _ in fanout.ordered_map(slow, range(10_000), processes=2, using=None):
    seen.add(pid)
    if len(seen) == 2:
        print(*seen, flush=True)
        time.sleep(60)  # killed here, each child holding an answer not read
"""


def test_children_of_a_killed_parent_stop():
    parent = subprocess.Popen(
        [sys.executable, "-c", KILLED_PARENT],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        children = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(children) == 2
        assert not any(_ended(pid) for pid in children)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        parent.stdout.close()
    deadline = time.monotonic() + 10
    while not all(_ended(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)

    assert all(_ended(pid) for pid in children)


def test_a_signal_to_the_process_group_leaves_the_children_to_their_parent():
    """A worker told to stop (SIGTERM to its process group) finishes its task: its children
    carry on until it is done with them."""
    answers = fanout.ordered_map(_where, range(30), processes=2, using=None)
    first = [next(answers), next(answers)]
    for pid in {pid for _, pid in first}:
        os.kill(pid, signal.SIGTERM)
    rest = list(answers)

    assert [square for square, _ in first + rest] == [n * n for n in range(30)]
    assert multiprocessing.active_children() == []


@pytest.mark.django_db
def test_work_on_the_database_stays_here_inside_a_transaction():
    """Children would not see the caller's uncommitted rows: the work runs here."""
    assert connection.in_atomic_block
    assert not fanout.forkable()

    answers = list(fanout.ordered_map(_where, range(3), processes=2))

    assert [pid for _, pid in answers] == [os.getpid()] * 3


@pytest.mark.django_db(transaction=True)
def test_an_in_memory_sqlite_database_keeps_the_work_here():
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL's test database is a server's: see the next test")
    with transaction.atomic():
        pass
    assert not connection.in_atomic_block
    assert connection.is_in_memory_db()

    assert not fanout.forkable()


@pytest.mark.django_db(transaction=True)
def test_children_read_the_database_committed_before_the_call():
    if connection.vendor == "sqlite":
        pytest.skip("the SQLite test database is in memory: forked children cannot open it")
    from shop.models import Customer
    from tests.factories import CustomerFactory

    made = [CustomerFactory().pk for _ in range(4)]

    def email(pk: int) -> tuple[str, int]:
        return Customer.objects.get(pk=pk).email, os.getpid()

    answers = list(fanout.ordered_map(email, made, processes=2))

    assert [e for e, _ in answers] == [Customer.objects.get(pk=pk).email for pk in made]
    assert os.getpid() not in {pid for _, pid in answers}
    assert Customer.objects.count() == 4  # the parent's connection came back after the fork


@pytest.mark.django_db
def test_work_forked_apart_from_the_database_may_not_query_it():
    """`using=None` forks with the caller's connection open (inside its transaction, say): a
    query there would run on the caller's own session, so it is refused."""
    from shop.models import Customer

    assert connection.in_atomic_block

    def count(_):
        return Customer.objects.count()

    with pytest.raises(fanout.ChildFailed, match="may not query"):
        list(fanout.ordered_map(count, range(2), processes=2, using=None))
    assert Customer.objects.count() == 0  # the caller's connection still works


def _frozen(item: int) -> int:
    return gc.get_freeze_count()


def test_a_child_leaves_what_it_inherited_out_of_its_collectors_passes():
    counts = list(fanout.ordered_map(_frozen, range(4), processes=2, using=None))

    assert all(count > 0 for count in counts)
    assert gc.get_freeze_count() == 0  # the parent's own collector untouched
