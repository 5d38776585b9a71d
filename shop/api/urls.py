"""Routes of the REST API under /api/: v1 resources, the OpenAPI schema and Swagger UI."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views
from .exceptions import not_found

v1 = [
    path("customers", views.CustomerListApi.as_view(), name="api-customer-list"),
    path("customers/<int:pk>", views.CustomerDetailApi.as_view(), name="api-customer-detail"),
    path(
        "customers/<int:pk>/restore",
        views.CustomerRestoreApi.as_view(),
        name="api-customer-restore",
    ),
    path("orders", views.OrderListApi.as_view(), name="api-order-list"),
    path("orders/<int:pk>", views.OrderDetailApi.as_view(), name="api-order-detail"),
    path("orders/<int:pk>/restore", views.OrderRestoreApi.as_view(), name="api-order-restore"),
    path("products", views.ProductListApi.as_view(), name="api-product-list"),
    path("products/<int:pk>", views.ProductDetailApi.as_view(), name="api-product-detail"),
    path(
        "products/<int:pk>/restore", views.ProductRestoreApi.as_view(), name="api-product-restore"
    ),
    path("categories", views.CategoryListApi.as_view(), name="api-category-list"),
    path("categories/<int:pk>", views.CategoryDetailApi.as_view(), name="api-category-detail"),
    path(
        "categories/<int:pk>/restore",
        views.CategoryRestoreApi.as_view(),
        name="api-category-restore",
    ),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("auth/", include("rest_framework.urls")),
    # Anything else under /api/ is a 404 in the API's error shape, not an HTML page.
    re_path(r"^[\s\S]*$", not_found),
]
