"""The admin's middleware: the store's time zone on every admin page."""

from zoneinfo import ZoneInfo

from django.utils import timezone

from shop.models import Store


class StoreTimeZoneMiddleware:
    """Show and read dates in the admin in the store's time zone, not UTC.

    The store's row is loaded once per admin request and kept on `request.store` for the
    pages that need it (the dashboard), so it costs no second query.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.prefix = "/admin/"

    def __call__(self, request):
        if not request.path.startswith(self.prefix):
            return self.get_response(request)
        request.store = Store.load()
        with timezone.override(ZoneInfo(request.store.time_zone)):
            return self.get_response(request)
