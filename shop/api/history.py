"""GET /api/v1/<resource>/<id>/history: a record's history entries (shop/history.py), newest
first, in cursor pages shaped as the lists' cursor pages: {"data", "links": {"next"},
"meta": {"per_page", "next_cursor"}}. A cursor `i<id>` starts after (older than) that entry;
pages are found by the entry's id on the history_record_newest index, so none is counted."""

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from shop import history
from shop.models import HistoryEntry

from .exceptions import ErrorSerializer
from .filters import MAX_ID
from .pagination import _positive_int

CURSOR_PATTERN = r"^(|i[0-9]{1,19})$"
PER_PAGE, MAX_PER_PAGE = 50, 250


class HistoryActorSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=HistoryEntry.ActorKind.choices)
    id = serializers.IntegerField(
        allow_null=True, help_text="The staff user's, API key's or import run's id."
    )
    name = serializers.CharField(help_text="Their name when the entry was written.")


class HistoryEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    action = serializers.ChoiceField(choices=HistoryEntry.Action.choices)
    door = serializers.ChoiceField(
        choices=HistoryEntry.Door.choices, help_text="Where the write came from."
    )
    actor = HistoryActorSerializer()
    changes = serializers.DictField(
        child=serializers.ListField(
            child=serializers.JSONField(allow_null=True), min_length=2, max_length=2
        ),
        help_text=(
            "{field: [old, new]}; amounts and times as text, relations by id. An order's "
            "`line_items` are two lists. Empty for an erasure."
        ),
    )

    def to_representation(self, instance):
        return {
            **history.as_dict(instance),
            "at": serializers.DateTimeField().to_representation(instance.at),
        }


class HistoryPageLinksSerializer(serializers.Serializer):
    next = serializers.URLField(
        allow_null=True, help_text="The next (older) page; null when this one is the last."
    )


class HistoryPageMetaSerializer(serializers.Serializer):
    per_page = serializers.IntegerField(min_value=1)
    next_cursor = serializers.RegexField(
        CURSOR_PATTERN,
        allow_null=True,
        help_text="Where the next page starts; null when no entry was listed.",
    )


# Built with type(): a serializer's own `data` attribute would hide a field declared so.
HistoryPageSerializer = type(
    "HistoryPageSerializer",
    (serializers.Serializer,),
    {
        "data": HistoryEntrySerializer(many=True),
        "links": HistoryPageLinksSerializer(),
        "meta": HistoryPageMetaSerializer(),
        "__doc__": "A page of a record's history entries, newest first.",
    },
)


def history_schema(resource: str, noun: str, *, scope: str = ""):
    scope = scope or resource
    article = "an" if noun[0] in "aeiou" else "a"
    return extend_schema(
        operation_id=f"{resource}_history",
        summary=f"{article.capitalize()} {noun}'s history",
        description=(
            f"Who changed the {noun}, when, through which door and what, newest first, in "
            f"cursor pages: follow `links.next` until it is null. Needs the `{scope}.read` "
            "scope (staff: the view permission)."
        ),
        tags=[resource],
        request=None,
        parameters=[
            OpenApiParameter(
                "id", OpenApiTypes.INT, OpenApiParameter.PATH, description=f"The {noun}'s id."
            ),
            OpenApiParameter(
                "cursor",
                {"type": "string", "pattern": CURSOR_PATTERN},
                description="Empty or absent for the newest entries, then `links.next`.",
            ),
            OpenApiParameter(
                "per_page",
                {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                description=f"Entries per page: {PER_PAGE} by default, at most {MAX_PER_PAGE}.",
            ),
        ],
        responses={
            200: HistoryPageSerializer,
            **{
                code: OpenApiResponse(ErrorSerializer, description=text)
                for code, text in {
                    400: "An invalid `cursor` or `per_page`, or an unknown query parameter.",
                    401: "No API key or session, or an invalid, expired or revoked key.",
                    403: "The key lacks the scope, or the staff member the permission.",
                    404: f"No {noun} with this id (a soft-deleted one has its history).",
                    406: "The Accept header asks for a format the API cannot give.",
                    429: "Too many requests for this key; retry after `Retry-After` seconds.",
                    500: "The server failed.",
                    503: "The database cannot be reached: retry shortly.",
                }.items()
            },
        },
    )


class HistoryMixin:
    """The `history` route of a record viewset."""

    def history_parameters(self) -> tuple[str, ...]:
        return ("cursor", "per_page")

    @action(detail=True, methods=["get"], url_path="history")
    def history(self, request, *args, **kwargs):
        model = self.get_queryset().model
        pk = self.record_id()
        per_page = _positive_int(request, "per_page", PER_PAGE, MAX_PER_PAGE)
        text = request.query_params.get("cursor", "")
        if not re.fullmatch(CURSOR_PATTERN, text):
            raise ValidationError(
                {"cursor": ["Not a cursor: pass back links.next or meta.next_cursor as given."]}
            )
        if not model.objects.filter(pk=pk).exists():
            raise NotFound(f"No {model._meta.verbose_name} with id {pk}.")
        entries = history.entries_of(model, pk)
        if text:
            entries = entries.filter(id__lt=min(int(text[1:]), MAX_ID))
        rows = list(entries[: per_page + 1])
        more = len(rows) > per_page
        rows = rows[:per_page]
        next_cursor = f"i{rows[-1].pk}" if rows else (text or None)
        next_link = None
        if more:
            url = request.build_absolute_uri()
            next_link = replace_query_param(url, "cursor", next_cursor)
        return Response(
            {
                "data": HistoryEntrySerializer(rows, many=True).data,
                "links": {"next": next_link},
                "meta": {"per_page": per_page, "next_cursor": next_cursor},
            }
        )
