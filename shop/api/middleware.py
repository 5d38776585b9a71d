"""Middleware of the REST API."""

from django.utils.cache import patch_cache_control

API_PREFIX = "/api/"


class NoStoreMiddleware:
    """Mark every answer under /api/ `Cache-Control: no-store`: records, errors and pages are
    private to a key and change with every write, so no browser or proxy may keep them.

    A middleware rather than the viewsets' finalize_response, so the answers other
    middleware and the URL fallback give (NUL refusals, 503s, the JSON 404) carry it too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(API_PREFIX):
            patch_cache_control(response, no_store=True)
        return response
