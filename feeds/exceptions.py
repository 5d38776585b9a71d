"""The feed's refusals, answered in converted.in's (Laravel's) error bodies:
`{"message": ...}`, plus `"errors": {field: [messages]}` for invalid fields."""

import logging

from django.db import InterfaceError, OperationalError
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)

UNREADABLE = "The request body could not be read."
# converted.in's words for the refusals DRF raises itself.
MESSAGES = {
    exceptions.NotAuthenticated: "Unauthenticated.",
    exceptions.AuthenticationFailed: "Unauthenticated.",
    exceptions.MethodNotAllowed: "The feed accepts POST requests only.",
    exceptions.UnsupportedMediaType: (
        "Send the body as multipart/form-data, application/x-www-form-urlencoded or JSON."
    ),
    exceptions.Throttled: "Too many requests with a wrong token. Try again later.",
    exceptions.NotFound: "Not found.",
}
DATABASE_DOWN = "The store's database is unavailable. Try again shortly."
RETRY_AFTER_OUTAGE = "5"


class InvalidFields(exceptions.ValidationError):
    """Fields of the body with values the feed cannot take: converted.in expects a 422."""

    status_code: int = status.HTTP_422_UNPROCESSABLE_ENTITY
    message = "The given data was invalid."


class TokenInURL(InvalidFields):
    """A token in the query string would end up in access logs: refused even when the body
    holds one too."""

    status_code = status.HTTP_400_BAD_REQUEST
    message = "Send the token in the request body, never in the URL."

    def __init__(self):
        super().__init__({"token": ["A token in the URL is refused."]})


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."


def feed_exception_handler(exc: Exception, context: dict) -> Response:
    """Answer any exception a feed view raises; never a Django error page, never the token."""
    endpoint = getattr(context.get("view"), "endpoint", "") or "converted.in"
    headers: dict[str, str] = {}
    body: dict
    code: int
    if isinstance(exc, InvalidFields):
        detail = exc.detail if isinstance(exc.detail, dict) else {}
        errors = {field: [str(m) for m in messages] for field, messages in detail.items()}
        body, code = {"message": exc.message, "errors": errors}, exc.status_code
    elif isinstance(exc, exceptions.APIException):
        body, code = {"message": MESSAGES.get(type(exc), str(exc.detail))}, exc.status_code
        if auth_header := getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = auth_header
        if isinstance(exc, exceptions.MethodNotAllowed):
            headers["Allow"] = ", ".join(context["view"].allowed_methods)
        if wait := getattr(exc, "wait", None):
            headers["Retry-After"] = str(wait)
    elif isinstance(exc, OperationalError | InterfaceError):
        # The database is down or restarting: tell the crawler to come back, not that the
        # store is broken. The connection is re-opened by a later request.
        logger.warning("The %s feed could not reach the database.", endpoint)
        body, code = {"message": DATABASE_DOWN}, status.HTTP_503_SERVICE_UNAVAILABLE
        headers["Retry-After"] = RETRY_AFTER_OUTAGE
    else:
        # Nothing from the request in the message: its body holds the token.
        logger.exception("The %s feed failed.", endpoint)
        body, code = {"message": "Server Error."}, status.HTTP_500_INTERNAL_SERVER_ERROR
    return Response(body, status=code, headers=headers)
