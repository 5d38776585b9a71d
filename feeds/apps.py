from django.apps import AppConfig
from django.core.signals import setting_changed
from django.db.models.signals import post_migrate


class FeedsConfig(AppConfig):
    name = "feeds"
    verbose_name = "converted.in"

    def ready(self):
        from shop import signals

        from . import liveblocks, requestlog

        signals.bulk_load_started.connect(liveblocks.bulk_load_started)
        signals.bulk_load_finished.connect(liveblocks.bulk_load_finished)
        post_migrate.connect(requestlog.policy_after_migrate, sender=self)
        setting_changed.connect(requestlog.policy_after_setting_changed)
