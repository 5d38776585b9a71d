"""Root URLs: the admin, the converted.in feed, the REST API and its schema."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("convertedin/", include("feeds.urls")),
    path("api/", include("shop.api.urls")),
]
