"""Routes of the REST API under /api/v1/."""

urlpatterns: list = []
