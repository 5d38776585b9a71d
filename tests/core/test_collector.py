"""core.collector: the collector's pace during batch work, restored after it."""

import gc
import weakref

from core import collector


class _Node:
    def __init__(self):
        self.me = self  # a cycle: only the collector frees it


def test_batch_work_leaves_what_exists_out_and_collects_less_often():
    thresholds = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    before = _Node()
    with collector.batch_pace():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (
            max(thresholds[0], collector.BATCH_THRESHOLD),
            *thresholds[1:],
        )
        # What the block makes is still collected.
        during = weakref.ref(_Node())
        gc.collect()
        assert during() is None
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0
    gone = weakref.ref(before)
    del before
    gc.collect()
    assert gone() is None  # back in the collector's passes


def test_where_objects_were_frozen_before_the_block_it_freezes_nothing_more():
    gc.freeze()
    try:
        made = _Node()  # made after the freeze: the block must leave it to the collector
        gone = weakref.ref(made)
        with collector.batch_pace():
            assert gc.get_threshold()[0] >= collector.BATCH_THRESHOLD
            # (The freeze count itself is no measure: a frozen object that is freed
            # leaves the count.)
            del made
            gc.collect()
            assert gone() is None
        assert gc.get_freeze_count() > 0  # what was frozen before stays frozen
    finally:
        gc.unfreeze()
