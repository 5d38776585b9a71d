"""Signals other apps listen to; the domain never imports them."""

from django.dispatch import Signal

# Sent inside the transaction of a bulk load (seed_demo) before and after rows are written
# with raw SQL, so that apps keeping derived data can suspend per-row upkeep and rebuild it
# once. Arguments: models (the model classes written).
bulk_load_started = Signal()
bulk_load_finished = Signal()
