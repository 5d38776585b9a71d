"""POST /api/v1/<resource>/bulk: up to 1,000 records in one request, written by shop.bulk.

Each record is parsed by the single POST's input serializer, with the records it names
fetched once for the batch, so the same input gets the same error; shop.bulk then applies the
services' rules to the batch and writes it with bulk inserts.
"""

from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.validators import UniqueValidator

from shop import bulk

from .exceptions import (
    STORED_DATA_CODES,
    BulkResultSerializer,
    ErrorSerializer,
    _codes,
    _from_django,
    error_body,
)
from .filters import MAX_ID
from .models import ApiKey
from .permissions import ScopeOrModelPermission, _needs

MAX_RECORDS = 1000
PER_RECORD, ALL_OR_NOTHING = "per_record", "all_or_nothing"


class BulkRequestSerializer(serializers.Serializer):
    """The envelope; each record is parsed apart, so one bad record is that record's error."""

    records = serializers.ListField(
        child=serializers.DictField(), min_length=1, max_length=MAX_RECORDS, allow_empty=False
    )
    error_policy = serializers.ChoiceField(choices=[PER_RECORD, ALL_OR_NOTHING], default=PER_RECORD)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            extra = sorted(set(data) - set(self.fields))
            if extra:
                raise ValidationError({name: ["This field is not known."] for name in extra})
        return super().to_internal_value(data)


class BulkResponseSerializer(serializers.Serializer):
    results = BulkResultSerializer(many=True, help_text="One result per record, in order.")


def bulk_request(input_serializer: Any, name: str) -> type[serializers.Serializer]:
    """The request body's schema: records shaped as for the single POST."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "records": input_serializer(
                many=True,
                min_length=1,
                max_length=MAX_RECORDS,
                help_text=(
                    "Records shaped as for the single POST. A record whose natural key (a "
                    "customer's email in any case, a product's handle, an order's reference) "
                    "names an existing record updates it; otherwise it is created."
                ),
            ),
            "error_policy": serializers.ChoiceField(
                choices=[PER_RECORD, ALL_OR_NOTHING],
                default=PER_RECORD,
                help_text=(
                    "per_record: good records are written, bad ones reported. all_or_nothing: "
                    "any refused record and nothing is written (400 or 409)."
                ),
            ),
        },
    )


def bulk_schema(resource: str, noun: str, input_serializer: Any, request_name: str):
    scope = "products" if resource == "categories" else resource
    return extend_schema(
        operation_id=f"{resource}_bulk",
        summary=f"Create or update up to {MAX_RECORDS} {resource}",
        description=(
            f"Each record as for creating a {noun}; the answer has one result per record, in "
            f"order. Needs the `{scope}.write` scope (staff: the add and change permissions)."
        ),
        tags=[resource],
        request=bulk_request(input_serializer, request_name),
        responses={
            200: BulkResponseSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "The envelope is invalid (`errors` names it), or all_or_nothing and a "
                    "record breaks its schema (`results` names each record's fields)."
                ),
            ),
            409: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "all_or_nothing and a record the store's data refuses (`results`), or a "
                    "concurrent write took a natural key: nothing is written."
                ),
            ),
            **{
                code: OpenApiResponse(ErrorSerializer, description=text)
                for code, text in BULK_ERRORS.items()
            },
        },
    )


BULK_ERRORS = {
    401: "No API key or session, or an invalid, expired or revoked key.",
    403: "The key lacks the scope, or the staff member the permission.",
    406: "The Accept header asks for a format the API cannot give.",
    413: "The request body is too large.",
    415: "The body is not JSON.",
    429: "Too many requests for this key; retry after `Retry-After` seconds.",
    500: "The server failed.",
    503: "The database cannot be reached: retry shortly.",
}


class BulkPermission(ScopeOrModelPermission):
    """A bulk write creates and updates: staff need both permissions."""

    perms_map = {**ScopeOrModelPermission.perms_map, "POST": [*_needs("add"), *_needs("change")]}

    def has_permission(self, request, view) -> bool:
        user = request.user
        if isinstance(request.auth, ApiKey) or not (user and user.is_authenticated):
            return super().has_permission(request, view)
        if not (user.is_active and user.is_staff):
            return super().has_permission(request, view)
        model = view.get_queryset().model
        self.message = (
            f"You lack the permission to add and change {model._meta.verbose_name_plural}."
        )
        return user.has_perms(self.get_required_permissions(request.method, model))


def _ids(values: Iterable[Any]) -> set[int]:
    return {v for v in values if type(v) is int and 1 <= v <= MAX_ID}


def named(records: list[dict], name: str) -> list[Any]:
    return [record.get(name) for record in records if isinstance(record, dict)]


def line_item_products(records: list[dict]) -> list[Any]:
    products = []
    for items in named(records, "line_items"):
        if isinstance(items, list):
            products += named(items, "product")
    return products


def _record_errors(error: DjangoValidationError, taken: dict[str, str]) -> dict:
    """The errors as the single POST names them; a natural key a deleted record holds, in
    the words of the single POST's unique check."""
    errors = getattr(_from_django(error), "errors", {}) or {}
    for name, message in taken.items():
        codes = [e.code for e in getattr(error, "error_dict", {}).get(name, [])]
        if codes == ["unique"]:
            errors[name] = [message]
    return errors


class BulkMixin:
    """The `bulk` route of a record viewset."""

    bulk_writer: Callable[..., list[bulk.Result]]
    # The models a record names by id, with how to read those ids from the raw records.
    bulk_references: dict[type, Callable[[list[dict]], list[Any]]] = {}

    @action(detail=False, methods=["post"], permission_classes=[BulkPermission])
    def bulk(self, request, *args, **kwargs):
        envelope = BulkRequestSerializer(data=request.data)
        envelope.is_valid(raise_exception=True)
        records = envelope.validated_data["records"]
        all_or_nothing = envelope.validated_data["error_policy"] == ALL_OR_NOTHING
        fetched = {
            model: model.objects.alive().in_bulk(_ids(ids_of(records)))
            for model, ids_of in self.bulk_references.items()
        }
        context = {**self.get_serializer_context(), "fetched": fetched}
        parsed, refused = [], {}
        schema_broken = False
        # One input serializer for all the records: building its fields costs more than
        # parsing a record.
        parser = self.input_serializer_class(context=context)
        taken = _match_by_natural_key(parser)
        for index, record in enumerate(records):
            try:
                parsed.append((index, parser.run_validation(record)))
            except ValidationError as exc:
                refused[index] = exc.detail
                schema_broken |= not _codes(exc.get_codes()) <= STORED_DATA_CODES
        if refused and all_or_nothing:
            parsed = []
        written = self.bulk_writer(records=parsed, all_or_nothing=all_or_nothing)
        results = {result.index: result for result in written}
        answers = []
        for index in range(len(records)):
            result = results.get(index)
            if index in refused:
                answers.append(_answer(index, bulk.ERROR, None, refused[index]))
            elif result is None:  # all_or_nothing, refused by the parse of another record
                answers.append(
                    _answer(index, bulk.ERROR, None, {"non_field_errors": [bulk.NOT_WRITTEN]})
                )
            else:
                errors = _record_errors(result.errors, taken) if result.errors else {}
                answers.append(_answer(index, result.status, result.id, errors))
        if all_or_nothing and any(answer["status"] == bulk.ERROR for answer in answers):
            code = status.HTTP_400_BAD_REQUEST if schema_broken else status.HTTP_409_CONFLICT
            body = error_body(
                code,
                "invalid" if schema_broken else "conflict",
                "Records were refused, so none was written: see `results`.",
            )
            return Response({**body, "results": answers}, status=code)
        return Response({"results": answers})


def _match_by_natural_key(serializer) -> dict[str, str]:
    """Drop the unique checks of the natural keys (a query each): a bulk record with a taken
    key updates that record, and shop.bulk refuses a key a deleted record holds. Return
    their messages, by field."""
    messages = {}
    for name in bulk.NATURAL_KEYS:
        field = serializer.fields.get(name)
        if field is None:
            continue
        for validator in field.validators:
            if isinstance(validator, UniqueValidator):
                messages[name] = str(validator.message)
        field.validators = [v for v in field.validators if not isinstance(v, UniqueValidator)]
    return messages


def _answer(index: int, state: str, pk: int | None, errors: dict) -> dict:
    return {"index": index, "status": state, "id": pk, "errors": errors}
