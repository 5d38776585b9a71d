"""Routes of the converted.in feed under /convertedin/; anything else there is a JSON 404."""

from django.urls import re_path

from .views import VIEWS, NotFoundView

app_name = "feeds"

urlpatterns = [
    *(re_path(rf"^{name}/?$", view.as_view(), name=name) for name, view in VIEWS.items()),
    re_path(r"^(?P<path>.*)$", NotFoundView.as_view(), name="not-found"),
]
