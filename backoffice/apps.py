from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """The staff's pages: the admin's classes, lists, dashboard and charts, the data quality
    report, the converted.in connection page and the push log. Its admin module registers
    every model's admin (backoffice/admin/), found by the admin's autodiscovery."""

    name = "backoffice"
    verbose_name = "Back office"
