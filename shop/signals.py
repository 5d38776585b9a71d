"""Signals other apps listen to; the domain never imports them."""

from django.dispatch import Signal

# Sent inside the transaction of a bulk load (seed_demo) before and after rows are written
# with raw SQL, so that apps keeping derived data can suspend per-row upkeep and rebuild it
# once. Arguments: models (the model classes written).
bulk_load_started = Signal()
bulk_load_finished = Signal()

# Sent inside the transaction of every service write, once per call, after its rows are saved.
# Arguments: changes, a list of (model class, record id, action) with action "create",
# "update" or "delete"; a restore is a "create". An order's write lists its customer's
# "update" too, since the order changes the customer's figures.
records_changed = Signal()

# Sent inside the transaction of customer_erase (shop/erasure.py), when it erased something, so
# that other apps erase their own copies of the values. Arguments: customer_id, order_ids (the
# orders erased now), values (every erased text, longest first) and strong (the emails and
# phones among them, which name this person alone, for searches across every record).
customer_erased = Signal()
