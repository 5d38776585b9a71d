from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app of the store shares: the rate limiter's counters."""

    name = "core"
    verbose_name = "Core"
