"""Root URLs: the admin and its converted.in connection page, the converted.in feed, the REST
API and its schema, the health check, and the local stand-in for converted.in's webhooks."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from . import views

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    path("robots.txt", views.robots),
    path("favicon.ico", views.favicon),
    path("admin/convertedin/push/", include("push.urls")),
    path("admin/convertedin/", include("feeds.connection")),
    path("admin/", admin.site.urls),
    path("convertedin/", include("feeds.urls")),
    path("api/", include("shop.api.urls")),
    # converted.in's stand-in for local settings; a 404 unless PUSH_LOCAL_RECEIVER is on.
    path("dev/convertedin/", include("push.receiver")),
]

handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.views.not_found"
handler500 = "config.views.server_failure"
