"""Admin for the feed's request log.

The feed tokens' admin is registered by backoffice/admin/push.py: adding a token there also
keeps the copy pushes carry (push.tokens.convertedin_token_add).
"""

from django.contrib import admin

from feeds.models import FeedRequest


@admin.register(FeedRequest)
class FeedRequestAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "endpoint",
        "page",
        "per_page",
        "status",
        "duration_ms",
        "rows",
        "client_address",
        "token",
    ]
    list_filter = ["endpoint", "status"]
    date_hierarchy = "created_at"
    list_select_related = ["token"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
