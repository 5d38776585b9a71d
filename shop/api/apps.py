from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "shop.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self):
        from shop import signals

        from . import idempotency

        signals.customer_erased.connect(idempotency.forget_erased, dispatch_uid="api-erasure")
