"""Pieces the admins of several apps share: a list filter read from a table of options, and
the action that revokes feed tokens and API keys."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.utils.translation import ngettext


class OptionsFilter(admin.SimpleListFilter):
    """A list filter whose options are a table: value -> (label, the rows it keeps)."""

    options: dict[str, tuple[str, Callable[[Any], QuerySet]]] = {}

    def lookups(self, request, model_admin):
        return [(value, label) for value, (label, _) in self.options.items()]

    def queryset(self, request, queryset):
        option = self.options.get(self.value() or "")
        return queryset if option is None else option[1](queryset)


def revoke_rows(
    model_admin: admin.ModelAdmin,
    request,
    queryset: QuerySet,
    *,
    revoke: Callable[..., Any],
    kwarg: str,
    done: tuple[str, str],
) -> None:
    """Revoke the selected rows not yet revoked, each by its service (`revoke(<kwarg>=row)`);
    say how many with `done`, its singular and plural each with a %d."""
    rows = list(queryset.filter(revoked_at__isnull=True))
    for row in rows:
        revoke(**{kwarg: row})
    model_admin.message_user(request, ngettext(*done, len(rows)) % len(rows), messages.SUCCESS)
