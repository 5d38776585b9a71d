"""Routes of the converted.in feed under /convertedin/; anything else there is a JSON 404."""

from django.urls import re_path

from .builders import ENDPOINTS
from .views import FeedEndpointView, not_found

app_name = "feeds"

urlpatterns = [
    *(
        re_path(
            rf"^{name}/?$",
            FeedEndpointView.as_view(endpoint=name),
            name=name,
        )
        for name in ENDPOINTS
    ),
    re_path(r"^(?P<path>.*)$", not_found, name="not-found"),
]
