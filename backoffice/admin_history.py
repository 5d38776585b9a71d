"""The admin as a door of the history (shop/history.py): its writes are recorded as the
staff user's, and each change page's "History" shows the record's entries."""

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from shop import history

PER_PAGE = 50


def admin_actor(request) -> history.Actor:
    return history.Actor.user(request.user)


class HistoryAdminMixin:
    """Record the admin's writes (forms, inlines, actions) as the user's through the admin
    door, and show a record's history, newest first, a page at a time."""

    def changeform_view(self, request, *args, **kwargs):
        with history.acting(admin_actor(request), history.Door.ADMIN):
            return super().changeform_view(request, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        with history.acting(admin_actor(request), history.Door.ADMIN):
            return super().changelist_view(request, *args, **kwargs)

    def delete_view(self, request, *args, **kwargs):
        with history.acting(admin_actor(request), history.Door.ADMIN):
            return super().delete_view(request, *args, **kwargs)

    def history_view(self, request, object_id, extra_context=None):
        model = self.model
        opts = model._meta
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, opts, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        entries = history.entries_of(model, obj.pk)
        before = _position(request.GET.get("before", ""))
        if before is not None:
            entries = entries.filter(id__lt=before)
        # One entry more than the page tells whether older ones follow; none is counted.
        page = list(entries[: PER_PAGE + 1])
        older = page[PER_PAGE - 1].pk if len(page) > PER_PAGE else None
        page = page[:PER_PAGE]
        context = {
            **self.admin_site.each_context(request),
            "title": f"History: {obj}",
            "subtitle": None,
            "module_name": str(opts.verbose_name_plural).capitalize(),
            "object": obj,
            "opts": opts,
            "entries": [
                {"entry": e, "summary": history.summary(e), "changes": history.readable(e)}
                for e in page
            ],
            "older": older,
            "newest": before is not None,
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/shop/record_history.html", context)


def _position(text: str) -> int | None:
    """A `before` id from the query string; anything else starts at the newest."""
    if text.isascii() and text.isdigit() and len(text) <= 19:
        return int(text)
    return None
