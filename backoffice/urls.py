"""The site's own pages: the health check, robots.txt, the icon, and the staff's pages beside
the admin (the converted.in connection page and the push log)."""

from django.urls import include, path

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("robots.txt", views.robots),
    path("favicon.ico", views.favicon),
    path("admin/convertedin/push/", include("backoffice.push_urls")),
    path("admin/convertedin/", include("backoffice.connection")),
]
