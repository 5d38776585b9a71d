"""Root URLs: the site's own and staff pages (backoffice), the admin, the converted.in feed,
the REST API and its schema, and the local stand-in for converted.in's webhooks."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # The health check, robots.txt, the icon, the connection page and the push log.
    path("", include("backoffice.urls")),
    path("admin/", admin.site.urls),
    path("convertedin/", include("feeds.urls")),
    path("api/", include("shop.api.urls")),
    # converted.in's stand-in for local settings; a 404 unless PUSH_LOCAL_RECEIVER is on.
    path("dev/convertedin/", include("push.receiver")),
]

handler400 = "backoffice.views.bad_request"
handler403 = "backoffice.views.permission_denied"
handler404 = "backoffice.views.not_found"
handler500 = "backoffice.views.server_failure"
