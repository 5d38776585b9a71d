"""One JSON error shape for every failure of the API.

    {"status": 400, "code": "invalid", "message": "...", "errors": {"email": ["..."]}}

`errors` names the fields or query parameters at fault (empty for other failures).
DRF's exception handler does the work; this converts what it does not know (the services'
ValidationError, with DRF's `as_serializer_error`; database conflicts; oversized bodies) and
renders its answers in the shape.
"""

import logging

from django.core import exceptions as django_exceptions
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

logger = logging.getLogger("shop.api")


class Conflict(exceptions.APIException):
    """409: a request the schema allows that the store's data refuses (a duplicate email or
    handle, a missing or deleted record it names, a date in the future, discounts above the
    order's total) or a concurrent write; with the fields at fault, if any."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the data."
    default_code = "conflict"

    def __init__(self, errors=None):
        super().__init__()
        self.errors = errors or {}


# Codes of the serializers' own checks against stored data; any other is the body breaking
# its schema (400).
STORED_DATA_CODES = {"does_not_exist", "unique"}


def _codes(value) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_codes(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_codes(v) for v in value)) if value else set()
    return {str(value)}


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class QueryTimeout(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "query_timeout"

    def __init__(self, seconds: float):
        super().__init__(
            f"The query took longer than {seconds:g} seconds and was stopped. Narrow the "
            "filters (a date range, a customer, a status) or ask for fewer records per page."
        )


def _from_django(exc: Exception) -> Exception:
    """Turn the services' and Django's exceptions into DRF's."""
    if isinstance(exc, django_exceptions.ValidationError):
        # The input serializers have checked everything the schema says; what the services
        # refuse beyond that is the store's data refusing the request (a duplicate, a
        # deleted record, a date in the future): a 409 naming the fields. A write the
        # database refused without naming a field is a conflict with a concurrent write.
        if not hasattr(exc, "error_dict") and isinstance(exc.__cause__, IntegrityError):
            return Conflict()
        errors = as_serializer_error(exc)
        if NON_FIELD_ERRORS in errors:
            errors[api_settings.NON_FIELD_ERRORS_KEY] = errors.pop(NON_FIELD_ERRORS)
        return Conflict(errors)
    if (
        isinstance(exc, exceptions.ValidationError)
        and isinstance(exc.detail, dict)
        and _codes(exc.get_codes()) <= STORED_DATA_CODES
    ):
        return Conflict(as_serializer_error(exc))
    if isinstance(exc, IntegrityError):
        return Conflict()
    if isinstance(exc, django_exceptions.RequestDataTooBig):
        return RequestTooLarge()
    if isinstance(exc, django_exceptions.SuspiciousOperation):
        return exceptions.ParseError(str(exc) or "Bad request.")
    return exc


def error_body(status_code: int, code: str, message: str, errors=None) -> dict:
    return {"status": status_code, "code": code, "message": message, "errors": errors or {}}


def api_exception_handler(exc, context):
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is busy past its timeout or out of reach: retry shortly, not a 500.
        logger.warning("database unavailable in %s: %s", context.get("view"), type(exc).__name__)
        return Response(
            error_body(503, "unavailable", "The database is busy or out of reach: retry shortly."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    exc = _from_django(exc)
    response = exception_handler(exc, context)
    if response is None:
        logger.error("Unhandled error in %s", context.get("view"), exc_info=exc)
        return Response(
            error_body(500, "server_error", "The server failed to handle the request."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(
            response.status_code,
            "invalid",
            "The request has invalid values.",
            as_serializer_error(exc),
        )
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        response.data = error_body(
            response.status_code,
            codes if isinstance(codes, str) else "error",
            str(getattr(exc, "detail", exc)),
            getattr(exc, "errors", None),
        )
    return response


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Answer an unknown path under /api/ in the API's error shape."""
    return JsonResponse(
        error_body(404, "not_found", "No such endpoint."), status=status.HTTP_404_NOT_FOUND
    )


class BulkResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The record's place in `records`, from 0.")
    status = serializers.ChoiceField(choices=["created", "updated", "error"])
    id = serializers.IntegerField(
        allow_null=True, help_text="The record's id: new, or the one its natural key named."
    )
    errors = serializers.DictField(  # type: ignore[assignment]
        help_text=(
            "For an error: the record's fields at fault, as the single POST names them "
            "(nested for line items). Empty otherwise."
        )
    )


class ErrorSerializer(serializers.Serializer):
    """The body of every error answer."""

    status = serializers.IntegerField(help_text="The HTTP status code.")
    code = serializers.CharField(
        help_text="A stable, machine-readable code, e.g. invalid, not_found, throttled."
    )
    message = serializers.CharField(help_text="A sentence for people.")
    # A field named as the body's key; this serializer only describes the schema.
    errors = serializers.DictField(  # type: ignore[assignment]
        help_text=(
            "For 400 and 409: each field or query parameter at fault, with its problems "
            "(nested for line items). Empty otherwise."
        )
    )
    results = BulkResultSerializer(
        many=True,
        required=False,
        help_text=(
            "For a bulk request with error_policy all_or_nothing whose records were refused: "
            "one result per record, in order. Absent otherwise."
        ),
    )
