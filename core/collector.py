"""The garbage collector's pace during long batch work (an import's check and write).

A batch of 500 orders allocates some hundreds of thousands of objects that live until the
batch is written. At Python's default pace (a young pass every 700 allocations), a
100,000-order write ran 2,800 passes taking 1.6 s of a 23 s write; 21 of them were full
passes over every object of the process (Django's, the app's, the batch's), 50 ms each.

The pace is the process's: this is for a process doing one thing at a time (the worker runs
one task at a time), not for threads.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Allocations between two young passes during batch work (Python's default is 700).
BATCH_THRESHOLD = 10_000


@contextmanager
def batch_pace() -> Iterator[None]:
    """Within the block, the objects that exist at its start are left out of the collector's
    passes (gc.freeze: the code, the settings, the connections), and a young pass runs every
    BATCH_THRESHOLD allocations. Cycles made within the block are still collected. Both are
    restored at its end (the frozen objects join the oldest generation again). Where some
    objects were frozen before the block, it freezes nothing more."""
    thresholds = gc.get_threshold()
    # Where objects were frozen already (a fork's child), only the pace changes: what the
    # block froze could not be told from them to be given back.
    freezing = gc.get_freeze_count() == 0
    if freezing:
        gc.freeze()
    gc.set_threshold(max(thresholds[0], BATCH_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if freezing:
            gc.unfreeze()
