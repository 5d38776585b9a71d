"""The converted.in feed's endpoints, as DRF views: POST only, token in the body, JSON always.

The parts are DRF's, each in its module: parsers (feeds.parsers), the token authentication
class and the wrong-token throttle (feeds.authentication), the pagination class
(feeds.pagination), the orjson renderer and the exception handler that writes converted.in's
error bodies (feeds.exceptions). Each answer, success or refusal, leaves one row in the
request log; a page costs three queries: the token, the page, the log row.
"""

import ipaddress
import time

from django.conf import settings
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from . import builders
from .authentication import FeedTokenAuthentication, WrongTokenThrottle
from .exceptions import InvalidFields, PayloadTooLarge, TokenInURL, feed_exception_handler
from .pagination import ConvertedInPagination, given, positive_int
from .parsers import FeedContentNegotiation, FeedFormParser, FeedJSONParser, FeedMultiPartParser
from .renderers import OrjsonRenderer
from .requestlog import feed_request_log


class ConvertedInView(APIView):
    """JSON in converted.in's shapes for every answer, never cached, outside the REST API's
    schema. Every policy is set here, so the REST API's defaults never reach the feed."""

    renderer_classes = [OrjsonRenderer]
    content_negotiation_class = FeedContentNegotiation
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    versioning_class = None
    schema = None

    def get_exception_handler(self):
        return feed_exception_handler

    @property
    def default_response_headers(self) -> dict:
        # No Allow or Vary on every answer: Allow belongs to the 405 alone.
        return {}

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response


@method_decorator(sensitive_post_parameters("token"), name="dispatch")
class FeedView(ConvertedInView):
    """One converted.in endpoint: refuse, authenticate, answer, log the request."""

    endpoint = ""
    http_method_names = ["post"]
    parser_classes = [FeedJSONParser, FeedFormParser, FeedMultiPartParser]
    authentication_classes = [FeedTokenAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [WrongTokenThrottle]

    def dispatch(self, request, *args, **kwargs):
        started = time.perf_counter()
        self.token_id = self.page = None
        self.rows = 0
        # Rendered here, so the logged duration includes writing the JSON.
        response = super().dispatch(request, *args, **kwargs).render()
        feed_request_log(
            endpoint=self.endpoint,
            page=self.page.page if self.page else None,
            per_page=self.page.per_page if self.page else None,
            status=response.status_code,
            duration_ms=(time.perf_counter() - started) * 1000,
            rows=self.rows,
            client_address=_client_address(request),
            token_id=self.token_id,
        )
        # DRF ties the response to itself (renderer_context) and to this view; untie them, so
        # a page's thousands of objects are freed once the answer is sent, not by the cycle GC.
        response.renderer_context = self.response = None
        return response

    def initial(self, request, *args, **kwargs):
        # Refusals that need neither the body nor the database come first.
        if request.method not in self.allowed_methods:
            raise exceptions.MethodNotAllowed(request.method)
        if "token" in request.query_params:
            raise TokenInURL
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            raise PayloadTooLarge
        super().initial(request, *args, **kwargs)

    def check_permissions(self, request):
        self.token_id = request.auth
        if request.auth is None:
            # Count a wrong token before refusing it: past the limit the answer is 429.
            self.check_throttles(request)
        super().check_permissions(request)


class StoreInfoView(FeedView):
    endpoint = "storeinfo"

    def post(self, request) -> Response:
        self.rows = 1
        return Response(builders.storeinfo_payload())


class PagedFeedView(FeedView):
    pagination_class = ConvertedInPagination

    def filters(self, request) -> dict:
        return {}

    def post(self, request) -> Response:
        paginator = self.pagination_class()
        self.page = paginator.paginate_request(request)
        paged = builders.PAGES[self.endpoint](page=self.page, **self.filters(request))
        self.rows = len(paged.items)
        return paginator.get_paginated_response(paged)


class CategoriesView(PagedFeedView):
    endpoint = "categories"


class ProductsView(PagedFeedView):
    endpoint = "products"

    def filters(self, request) -> dict:
        """Read the optional collection (category) id."""
        data = request.data
        if not given(data, "collection_id"):
            return {"collection_id": None}
        errors: dict = {}
        value = positive_int(data["collection_id"], "collection_id", errors, upper=2**62)
        if errors:
            raise InvalidFields(errors)
        return {"collection_id": value}


class CustomersView(PagedFeedView):
    endpoint = "customers"


class OrdersView(PagedFeedView):
    endpoint = "orders"


VIEWS = {
    view.endpoint: view
    for view in (StoreInfoView, CategoriesView, ProductsView, CustomersView, OrdersView)
}


class NotFoundView(ConvertedInView):
    """Any other path under /convertedin/: a JSON 404."""

    def initial(self, request, *args, **kwargs):
        raise exceptions.NotFound


def _client_address(request) -> str | None:
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR") or ""))
    except ValueError:
        return None
