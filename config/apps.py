from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The site itself: the shared cache's table and the checks the app runs before it starts."""

    name = "config"
    verbose_name = "Site"

    def ready(self):
        from django.core.checks import Tags, register

        from . import checks

        register(checks.check_hash_keys)
        register(checks.check_cache_tables, Tags.database)
