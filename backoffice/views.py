"""Site-wide views: the health check and error pages that answer JSON to machine clients."""

from django.contrib.staticfiles import finders
from django.http import FileResponse, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.defaults import page_not_found, server_error

from core.middleware import MACHINE_PREFIXES
from push.tasks import stalled_since


def _wants_json(request) -> bool:
    return request.path.startswith(MACHINE_PREFIXES)


@never_cache
@require_GET
def healthz(request):
    """200 when the database answers, 503 when it does not; `push.stalled` is true when
    changes wait and no worker has delivered one for PUSH_STALL_SECONDS (one query)."""
    try:
        since = stalled_since()
    except Exception:  # noqa: BLE001 - any database failure means unhealthy
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    push = {"stalled": since is not None, "stalled_since": since and since.isoformat()}
    return JsonResponse({"status": "ok", "database": "up", "push": push})


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"message": "Not found."}, status=404)
    return page_not_found(request, exception)


def server_failure(request):
    if _wants_json(request):
        return JsonResponse({"message": "Server error."}, status=500)
    return server_error(request)


def bad_request(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"message": "Bad request."}, status=400)
    from django.views.defaults import bad_request as default

    return default(request, exception)


def permission_denied(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"message": "Forbidden."}, status=403)
    from django.views.defaults import permission_denied as default

    return default(request, exception)


def robots(request):
    return HttpResponse("User-agent: *\nDisallow: /\n", content_type="text/plain")


@require_GET
def favicon(request):
    """The site's icon where browsers look for it first, kept by them for a day."""
    icon = open(finders.find("shop/favicon.ico"), "rb")  # FileResponse closes it
    response = FileResponse(icon, content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response
