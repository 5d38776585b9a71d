"""Thin views of the REST API: parse input, call a selector or a service, render.

One viewset a resource: list, create, retrieve, update (PUT and PATCH), destroy (a soft
delete) and restore. The services write; every answer renders the record as it then is.
"""

from contextlib import contextmanager
from typing import Any

from django.core.exceptions import RequestDataTooBig as DjangoRequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

from shop import bulk, erasure, history, services
from shop.models import Category, Customer, Product

from . import idempotency, selectors
from .authentication import ApiKeyAuthentication
from .bulk import BulkMixin, bulk_schema, line_item_products, named
from .deadline import query_deadline
from .exceptions import ErrorSerializer, RequestTooLarge, api_exception_handler
from .filters import (
    MAX_ID,
    CategoryFilterSet,
    CodeField,
    CustomerFilterSet,
    OrderFilterSet,
    ProductFilterSet,
    currency_enum,
    either_case,
)
from .history import HistoryMixin, history_schema
from .models import ApiKey
from .pagination import PageNumberPagination
from .parsers import LimitedJSONParser
from .permissions import (
    ErasePermission,
    ExportPermission,
    RestorePermission,
    ScopeOrModelPermission,
)
from .serializers import (
    CategoryInputSerializer,
    CategorySerializer,
    CustomerErasureSerializer,
    CustomerExportSerializer,
    CustomerInputSerializer,
    CustomerSerializer,
    OrderInputSerializer,
    OrderSerializer,
    ProductInputSerializer,
    ProductSerializer,
)
from .throttling import ApiKeyRateThrottle

ERROR_DESCRIPTIONS = {
    400: "Invalid input, or an unknown or invalid query parameter; `errors` names each one.",
    401: "No API key or session, or an invalid, expired or revoked key.",
    403: "The key lacks the scope, or the staff member the permission.",
    404: (
        "No such record, or it is soft-deleted: list it with is_deleted=true, restore it "
        "with POST .../restore."
    ),
    406: "The Accept header asks for a format the API cannot give.",
    409: (
        "The request is well-formed but the store's data refuses it: a duplicate email or "
        "handle, a missing or deleted record it names, a date in the future, discounts "
        "above the order's total, a category inside itself, deleting a customer with live "
        "orders or restoring an order of a deleted customer; `errors` names the fields. Or "
        "it conflicts with a concurrent write."
    ),
    413: "The request body is too large.",
    415: "The body is not JSON.",
    429: "Too many requests for this key; retry after `Retry-After` seconds.",
    500: "The server failed.",
    503: (
        "A read took longer than the API allows (10 seconds by default) and was stopped: "
        "narrow the filters. Or the database cannot be reached: retry shortly."
    ),
}
READ_ERRORS = (400, 401, 403, 406, 429, 500, 503)
WRITE_ERRORS = (400, 401, 403, 406, 409, 413, 415, 429, 500, 503)


def errors(*codes: int, detail: bool = False) -> dict:
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in sorted({*codes, *((404,) if detail else ())})
    }


CUSTOMER_CURRENCY = OpenApiParameter(
    "currency",
    OpenApiTypes.STR,
    enum=either_case(currency_enum()),
    description="ISO 4217 code, EGP or egp: scopes the order stats to that currency.",
)


CUSTOMER_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The customer's id."
)


def query_value(request, name: str, field):
    """Parse one query parameter with a form field; a bad value is a 400 naming it."""
    try:
        return field.clean(request.query_params.get(name, ""))
    except DjangoValidationError as exc:
        raise ValidationError({name: exc.messages}) from exc


def operations(resource: str, noun: str, output, input_, *, scope: str = "", retrieve=()):
    """Describe a resource's operations in the OpenAPI schema, for extend_schema_view;
    `retrieve` adds query parameters to the detail's GET."""
    scope = scope or resource
    read = f"Needs the `{scope}.read` scope (staff: the view permission)."
    write = f"Needs the `{scope}.write` scope (staff: the matching model permission)."
    record_id = OpenApiParameter(
        "id", OpenApiTypes.INT, OpenApiParameter.PATH, description=f"The {noun}'s id."
    )
    detail = [record_id]

    def operation(name: str, summary: str, description: str, **kwargs):
        return extend_schema(
            operation_id=f"{resource}_{name}",
            summary=summary,
            description=description,
            tags=[resource],
            **kwargs,
        )

    def change(name: str, summary: str):
        return operation(
            name,
            summary,
            write,
            parameters=detail,
            request=input_,
            responses={200: output, **errors(*WRITE_ERRORS, detail=True)},
        )

    return {
        "list": operation(
            "list",
            f"List {resource}",
            f"A page of {resource}, filtered and sorted. {read}",
            responses={200: output(many=True), **errors(*READ_ERRORS)},
        ),
        "create": operation(
            "create",
            f"Create a {noun}",
            write,
            request=input_,
            responses={201: output, **errors(*WRITE_ERRORS)},
        ),
        "retrieve": operation(
            "retrieve",
            f"Get a {noun}",
            read,
            parameters=[*detail, *retrieve],
            responses={200: output, **errors(*READ_ERRORS, detail=True)},
        ),
        "update": change("update", f"Replace a {noun}'s fields"),
        "partial_update": change("partial_update", f"Change some of a {noun}'s fields"),
        "destroy": operation(
            "destroy",
            f"Delete a {noun} (soft)",
            f"Hide the {noun}; restore brings it back. {write}",
            parameters=detail,
            responses={204: None, **errors(*READ_ERRORS, 409, detail=True)},
        ),
        "restore": operation(
            "restore",
            f"Restore a soft-deleted {noun}",
            write,
            parameters=[record_id],
            request=None,
            responses={200: output, **errors(*READ_ERRORS, 409, detail=True)},
        ),
    }


class IdempotentWrites:
    """Idempotency-Key on a viewset's writes (shop/api/idempotency.py): claimed once the
    request is authenticated, allowed and well-formed; the write and its stored answer share
    one transaction. A viewset's `initial` calls `claim_idempotency_key` last."""

    idempotency_claim: idempotency.Claim | None = None
    idempotency_atomic: Any = None

    def claim_idempotency_key(self, request) -> None:
        if request.method not in idempotency.WRITE_METHODS:
            return
        key = idempotency.header_key(request)
        if key is None:
            return
        try:
            body = request._request.body
        except DjangoRequestDataTooBig as exc:
            raise RequestTooLarge() from exc
        self.idempotency_claim = idempotency.claim(
            principal=idempotency.principal_of(request),
            key=key,
            fingerprint=idempotency.fingerprint(request.method, request.path, body),
        )
        self.idempotency_atomic = transaction.atomic()
        self.idempotency_atomic.__enter__()

    def handle_exception(self, exc):
        if isinstance(exc, idempotency.Replay):
            row = exc.row
            response = HttpResponse(
                row.body, status=row.status_code, content_type=row.content_type or None
            )
            response[idempotency.REPLAYED_HEADER] = "true"
            return response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        claim, atomic = self.idempotency_claim, self.idempotency_atomic
        if claim is None:
            return response
        self.idempotency_claim = self.idempotency_atomic = None
        if response.status_code >= 500:
            failure = RuntimeError("The request failed.")
            atomic.__exit__(type(failure), failure, None)  # rolls the write back
            idempotency.release(claim)
            return response
        try:
            if hasattr(response, "render"):
                response.render()
            idempotency.answer(
                claim,
                status_code=response.status_code,
                content_type=response.get("Content-Type", ""),
                body=response.content.decode(),
            )
        except BaseException as exc:
            atomic.__exit__(type(exc), exc, exc.__traceback__)
            idempotency.release(claim)
            raise
        atomic.__exit__(None, None, None)
        return response


def history_actor(request, *, bulk: bool = False) -> None:
    """Record this request's writes as its API key's or staff user's, through the API (or
    the bulk API)."""
    if isinstance(request.auth, ApiKey):
        history.set_actor(history.Actor.api_key(request.auth))
    else:
        history.set_actor(history.Actor.user(request.user))
    if bulk:
        history.set_door(history.Door.BULK_API)


class RecordViewSet(HistoryMixin, IdempotentWrites, viewsets.ModelViewSet):
    """Keys or staff sessions, scopes, rate limits, JSON bodies and one error shape.

    A subclass names its API key scope, its output and input serializers, its filter set and
    `get_queryset()` for the list; the perform_* hooks call its model's services.
    """

    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [ScopeOrModelPermission]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [LimitedJSONParser]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]
    filter_backends = [DjangoFilterBackend]
    pagination_class = PageNumberPagination
    lookup_value_regex = "[0-9]+"

    scope_resource = ""
    input_serializer_class: Any = None
    filterset_class: Any = None
    # Query parameters a record's GET takes besides `format`.
    retrieve_parameters: tuple[str, ...] = ()

    def get_exception_handler(self):
        return api_exception_handler

    def dispatch(self, request, *args, **kwargs):
        # The door of the writes this request makes; `initial` names who, once authenticated.
        with history.acting(door=history.Door.API):
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        history_actor(request, bulk=self.action == "bulk")
        unknown = sorted(set(request.query_params) - self.known_parameters())
        if unknown:
            # A misspelt filter must never read as "no filter" (Stripe refuses them too).
            known = ", ".join(sorted(self.known_parameters())) or "none"
            raise ValidationError(
                {name: [f"Unknown query parameter. This route takes: {known}."] for name in unknown}
            )
        self.claim_idempotency_key(request)

    def known_parameters(self) -> set[str]:
        """The query parameters this request's route reads."""
        known = {api_settings.URL_FORMAT_OVERRIDE or "format"}
        if self.action == "list":
            paginator: Any = self.paginator
            known |= set(self.filterset_class.base_filters)
            known |= {
                paginator.page_query_param,
                paginator.page_size_query_param,
                paginator.cursor_query_param,
            }
        elif self.action == "retrieve":
            known |= set(self.retrieve_parameters)
        elif self.action == "history":
            known |= set(self.history_parameters())
        return known

    def get_view_name(self) -> str:
        meta = self.get_queryset().model._meta
        noun = str(meta.verbose_name if self.detail else meta.verbose_name_plural)
        return f"{self.name} {noun}".capitalize() if self.name else noun.capitalize()

    def get_serializer_class(self):
        # By the request's method rather than self.action: the browsable API's forms and
        # OPTIONS ask about methods other than the one that set self.action.
        action = self.action_map.get(self.request.method.lower())
        if action in ("create", "update", "partial_update"):
            return self.input_serializer_class
        return self.serializer_class

    def detail_queryset(self):
        """The records a detail route finds, deleted ones too."""
        return self.get_queryset()

    def record_id(self) -> int:
        pk = int(self.kwargs["pk"])
        if not 1 <= pk <= MAX_ID:
            raise self.not_found(pk)
        return pk

    def not_found(self, pk: int) -> NotFound:
        return NotFound(f"No {self.get_queryset().model._meta.verbose_name} with id {pk}.")

    def find(self, pk: int, *, include_deleted: bool):
        queryset = self.detail_queryset()
        if not include_deleted:
            queryset = queryset.alive()
        record = queryset.filter(pk=pk).first()
        if record is None:
            raise self.not_found(pk)
        self.check_object_permissions(self.request, record)
        return record

    def get_object(self):
        # A deleted record is gone from its own routes (404) but for restore: lists show it
        # with is_deleted=true, and with updated_after for a sync.
        return self.find(self.record_id(), include_deleted=self.action == "restore")

    @contextmanager
    def locked(self):
        """Hold the record's row until the block ends: concurrent writes to one record
        queue, and each validates against the state the one before it left."""
        with transaction.atomic():
            model = self.get_queryset().model
            list(model.objects.select_for_update().filter(pk=self.record_id()).values_list("pk"))
            yield

    def answer(self, pk: int, status_code: int = status.HTTP_200_OK) -> Response:
        """Render the record as it now is, with the output serializer."""
        record = self.find(pk, include_deleted=True)
        context = self.get_serializer_context()
        output: Any = self.serializer_class
        return Response(output(record, context=context).data, status=status_code)

    def list(self, request, *args, **kwargs):
        with query_deadline():
            return super().list(request, *args, **kwargs)

    def retrieve(self, request, *args, **kwargs):
        with query_deadline():
            return super().retrieve(request, *args, **kwargs)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return self.answer(serializer.instance.pk, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        with self.locked():
            instance = self.get_object()
            serializer = self.get_serializer(instance, data=request.data, partial=partial)
            serializer.is_valid(raise_exception=True)
            self.perform_update(serializer)
        return self.answer(instance.pk)

    def destroy(self, request, *args, **kwargs):
        with self.locked():
            return super().destroy(request, *args, **kwargs)

    @action(detail=True, methods=["post"], permission_classes=[RestorePermission])
    def restore(self, request, *args, **kwargs):
        """Bring a soft-deleted record back."""
        with self.locked():
            instance = self.get_object()
            self.perform_restore(instance)
        return self.answer(instance.pk)

    @property
    def writes(self) -> services.Writes:
        """The services that write this viewset's records."""
        return services.WRITES[self.get_queryset().model]

    def perform_create(self, serializer):
        serializer.instance = self.writes.create(**serializer.validated_data)

    def perform_update(self, serializer):
        self.writes.update(**{self.writes.kwarg: serializer.instance}, **serializer.validated_data)

    def perform_destroy(self, instance):
        self.writes.soft_delete(**{self.writes.kwarg: instance})

    def perform_restore(self, instance) -> None:
        self.writes.restore(**{self.writes.kwarg: instance})


@extend_schema_view(
    **operations(
        "customers",
        "customer",
        CustomerSerializer,
        CustomerInputSerializer,
        retrieve=[CUSTOMER_CURRENCY],
    ),
    bulk=bulk_schema("customers", "customer", CustomerInputSerializer, "BulkCustomersRequest"),
    history=history_schema("customers", "customer"),
)
class CustomerViewSet(BulkMixin, RecordViewSet):
    scope_resource = "customers"
    bulk_writer = staticmethod(bulk.customers_write)
    serializer_class = CustomerSerializer
    input_serializer_class = CustomerInputSerializer
    filterset_class = CustomerFilterSet
    retrieve_parameters = ("currency",)

    def get_queryset(self):
        return selectors.customers_for_api()

    def currency(self) -> str | None:
        """The `currency` the figures are scoped to (list and detail), or None."""
        field = CodeField(codes=currency_enum, example="EGP", required=False)
        return query_value(self.request, "currency", field) or None

    @extend_schema(
        operation_id="customers_erase",
        summary="Erase a customer's personal data",
        description=(
            "Replace the customer's name, email and phone, and the contact email, phone and "
            "locale of every order of theirs, in place, and erase every copy the store keeps; "
            "amounts, dates, line items and statuses stay. Irreversible; a second call changes "
            "nothing (`changed` is false). Deleted customers too. converted.in is told "
            "(`customers/delete`, and `orders/update` for their orders). Needs the "
            "`customers.erase` scope (staff: the erase_customer permission)."
        ),
        tags=["customers"],
        parameters=[CUSTOMER_ID],
        request=None,
        responses={200: CustomerErasureSerializer, **errors(*WRITE_ERRORS, detail=True)},
    )
    @action(detail=True, methods=["post"], permission_classes=[ErasePermission])
    def erase(self, request, *args, **kwargs):
        with self.locked():
            customer = self.find(self.record_id(), include_deleted=True)
            done = erasure.customer_erase(customer=customer, actor=request.auth or request.user)
        body = {
            "id": done.customer.pk,
            "erased_at": done.customer.erased_at,
            "changed": done.changed,
            "orders_erased": done.orders_erased,
        }
        return Response(CustomerErasureSerializer(body).data)

    @extend_schema(
        operation_id="customers_export",
        summary="Export a customer's data",
        description=(
            "One JSON document: the customer, their orders with line items (deleted ones "
            "too), and their history. Deleted and erased customers too. Needs the "
            "`customers.export` scope (staff: the view permissions of customers and orders)."
        ),
        tags=["customers"],
        parameters=[CUSTOMER_ID],
        responses={200: CustomerExportSerializer, **errors(*READ_ERRORS, detail=True)},
    )
    @action(detail=True, methods=["get"], permission_classes=[ExportPermission])
    def export(self, request, *args, **kwargs):
        with query_deadline():
            customer = self.find(self.record_id(), include_deleted=True)
            return Response(erasure.customer_export(customer=customer))

    def page_records(self, page):
        """The page's customers with their figures, computed for those rows alone."""
        return selectors.customers_page_with_stats(page, currency=self.currency())

    def detail_queryset(self):
        currency = self.currency() if self.action == "retrieve" else None
        return selectors.customers_with_stats_for_api(currency=currency)


@extend_schema_view(
    **operations("orders", "order", OrderSerializer, OrderInputSerializer),
    bulk=bulk_schema("orders", "order", OrderInputSerializer, "BulkOrdersRequest"),
    history=history_schema("orders", "order"),
)
class OrderViewSet(BulkMixin, RecordViewSet):
    scope_resource = "orders"
    bulk_writer = staticmethod(bulk.orders_write)
    bulk_references = {
        Customer: lambda records: named(records, "customer"),
        Product: line_item_products,
    }
    serializer_class = OrderSerializer
    input_serializer_class = OrderInputSerializer
    filterset_class = OrderFilterSet

    def get_queryset(self):
        return selectors.orders_for_api()


@extend_schema_view(
    **operations("products", "product", ProductSerializer, ProductInputSerializer),
    bulk=bulk_schema("products", "product", ProductInputSerializer, "BulkProductsRequest"),
    history=history_schema("products", "product"),
)
class ProductViewSet(BulkMixin, RecordViewSet):
    scope_resource = "products"
    bulk_writer = staticmethod(bulk.products_write)
    bulk_references = {Category: lambda records: named(records, "category")}
    serializer_class = ProductSerializer
    input_serializer_class = ProductInputSerializer
    filterset_class = ProductFilterSet

    def get_queryset(self):
        return selectors.products_for_api()


# Categories are part of the catalogue, so under the products scopes.
@extend_schema_view(
    **operations(
        "categories",
        "category",
        CategorySerializer,
        CategoryInputSerializer,
        scope="products",
    ),
    history=history_schema("categories", "category", scope="products"),
)
class CategoryViewSet(RecordViewSet):
    scope_resource = "products"
    serializer_class = CategorySerializer
    input_serializer_class = CategoryInputSerializer
    filterset_class = CategoryFilterSet

    def get_queryset(self):
        return selectors.categories_for_api()
