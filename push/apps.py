from django.apps import AppConfig


class PushConfig(AppConfig):
    name = "push"
    verbose_name = "converted.in push"

    def ready(self):
        from shop import signals

        from . import (
            checks,  # noqa: F401 (registers the settings check)
            erasure,
            outbox,
        )

        signals.records_changed.connect(outbox.record_changes, dispatch_uid="push-outbox")
        signals.bulk_load_started.connect(outbox.bulk_load_started, dispatch_uid="push-bulk")
        signals.bulk_load_finished.connect(outbox.bulk_load_finished, dispatch_uid="push-bulk")
        signals.customer_erased.connect(erasure.forget_erased, dispatch_uid="push-erasure")
