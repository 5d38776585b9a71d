"""Routes of the converted.in feed under /convertedin/."""

urlpatterns: list = []
