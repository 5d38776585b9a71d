from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "shop.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self):
        from push import webhooks
        from shop import signals

        from . import idempotency, views

        # A webhook's record is what GET /api/v1/<entity>/<id> answers (push/webhooks.py).
        webhooks.RECORD_VIEWSETS.update(
            {
                "orders": views.OrderViewSet,
                "customers": views.CustomerViewSet,
                "products": views.ProductViewSet,
                "categories": views.CategoryViewSet,
            }
        )

        signals.customer_erased.connect(idempotency.forget_erased, dispatch_uid="api-erasure")
