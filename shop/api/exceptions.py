"""One JSON error shape for every failure of the API.

    {"status": 400, "code": "invalid", "message": "...", "errors": {"email": ["..."]}}

`errors` names the fields or query parameters at fault (empty for other failures).
DRF's exception handler does the work; this adds the conversions it lacks (the services'
ValidationError, database conflicts, oversized bodies) and renders its answers in the shape.
"""

import logging

from django.core import exceptions as django_exceptions
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import IntegrityError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

logger = logging.getLogger("shop.api")

# A unique constraint that raced past validation, and the field the client should fix.
CONSTRAINT_FIELDS = {"customer_email_ci_unique": "email"}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the data."
    default_code = "conflict"


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def _field_name(name: str) -> str:
    return api_settings.NON_FIELD_ERRORS_KEY if name == NON_FIELD_ERRORS else name


def _from_integrity_error(exc: BaseException) -> exceptions.APIException:
    text = str(exc)
    for constraint, field in CONSTRAINT_FIELDS.items():
        if constraint in text:
            return exceptions.ValidationError({field: ["This value is already taken."]})
    return Conflict()


def translate(exc: Exception) -> Exception:
    """Turn the domain's and Django's exceptions into DRF's."""
    if isinstance(exc, django_exceptions.ValidationError):
        if hasattr(exc, "error_dict"):
            return exceptions.ValidationError(
                {_field_name(name): messages for name, messages in exc.message_dict.items()}
            )
        # The services raise a bare message only when the database refused a write that
        # passed validation: a concurrent request got there first.
        if exc.__cause__ is not None:
            return _from_integrity_error(exc.__cause__)
        return Conflict(detail=" ".join(exc.messages))
    if isinstance(exc, IntegrityError):
        return _from_integrity_error(exc)
    if isinstance(exc, django_exceptions.RequestDataTooBig):
        return RequestTooLarge()
    if isinstance(exc, django_exceptions.SuspiciousOperation):
        return exceptions.ParseError(str(exc) or "Bad request.")
    return exc


def error_body(status_code: int, code: str, message: str, errors=None) -> dict:
    return {"status": status_code, "code": code, "message": message, "errors": errors or {}}


def api_exception_handler(exc, context):
    exc = translate(exc)
    response = exception_handler(exc, context)
    if response is None:
        logger.error("Unhandled error in %s", context.get("view"), exc_info=exc)
        return Response(
            error_body(500, "server_error", "The server failed to handle the request."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if not isinstance(detail, dict):
            detail = {api_settings.NON_FIELD_ERRORS_KEY: detail}
        response.data = error_body(
            response.status_code, "invalid", "The request has invalid values.", detail
        )
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        response.data = error_body(
            response.status_code,
            codes if isinstance(codes, str) else "error",
            str(getattr(exc, "detail", exc)),
        )
    return response


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Answer an unknown path under /api/ in the API's error shape."""
    return JsonResponse(
        error_body(404, "not_found", "No such endpoint."), status=status.HTTP_404_NOT_FOUND
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
            "For 400: each field or query parameter at fault, with its problems "
            "(nested for line items). Empty otherwise."
        )
    )
