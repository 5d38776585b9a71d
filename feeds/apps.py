from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "feeds"
    verbose_name = "converted.in"

    def ready(self):
        from shop import signals

        from . import liveblocks

        signals.bulk_load_started.connect(liveblocks.bulk_load_started)
        signals.bulk_load_finished.connect(liveblocks.bulk_load_finished)
