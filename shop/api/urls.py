"""Routes of the REST API under /api/: v1 resources, the OpenAPI schema and Swagger UI."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from . import views, webhooks
from .exceptions import not_found

# /v1/customers, /v1/customers/<id> and /v1/customers/<id>/restore, and so on.
v1 = SimpleRouter(trailing_slash=False)
v1.register("customers", views.CustomerViewSet, basename="api-customer")
v1.register("orders", views.OrderViewSet, basename="api-order")
v1.register("products", views.ProductViewSet, basename="api-product")
v1.register("categories", views.CategoryViewSet, basename="api-category")
v1.register("webhooks", webhooks.WebhookViewSet, basename="api-webhook")

urlpatterns = [
    path("v1/", include(v1.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script for the
    # Content-Security-Policy to allow.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Anything else under /api/ is a 404 in the API's error shape, not an HTML page.
    re_path(r"^[\s\S]*$", not_found),
]
