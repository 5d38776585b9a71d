"""Thin views of the REST API: parse input, call a selector or a service, render.

Each resource has a list view (GET list, POST create), a detail view (GET, PUT, PATCH,
DELETE = soft delete) and a restore view (POST).
"""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from shop import services
from shop.models import Category, Customer, Order, Product

from . import selectors
from .authentication import ApiKeyAuthentication
from .exceptions import ErrorSerializer, api_exception_handler
from .filters import (
    CategoryFilterSet,
    CodeField,
    CustomerFilterSet,
    OrderFilterSet,
    ProductFilterSet,
    StrictBooleanField,
    currency_enum,
)
from .pagination import PageNumberPagination
from .parsers import LimitedJSONParser
from .permissions import HasScopeOrStaffPermission
from .serializers import (
    CategoryInputSerializer,
    CategorySerializer,
    CustomerInputSerializer,
    CustomerSerializer,
    OrderInputSerializer,
    OrderSerializer,
    ProductInputSerializer,
    ProductSerializer,
)
from .throttling import ApiKeyRateThrottle

ERROR_DESCRIPTIONS = {
    400: "Invalid input or query parameter; `errors` names each one.",
    401: "No API key or session, or an invalid, expired or revoked key.",
    403: "The key lacks the scope, or the staff member the permission.",
    404: "No such record (or it is soft-deleted).",
    406: "The Accept header asks for a format the API cannot give.",
    409: "The write conflicts with a concurrent one.",
    413: "The request body is too large.",
    415: "The body is not JSON.",
    429: "Too many requests for this key; retry after `Retry-After` seconds.",
    500: "The server failed.",
}
READ_ERRORS = (400, 401, 403, 406, 429, 500)
WRITE_ERRORS = (400, 401, 403, 406, 409, 413, 415, 429, 500)


def errors(*codes: int, detail: bool = False) -> dict:
    statuses = sorted({*codes, *((404,) if detail else ())})
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in statuses
    }


INCLUDE_DELETED = OpenApiParameter(
    "include_deleted",
    OpenApiTypes.BOOL,
    description="true: find the record even if it is soft-deleted.",
)
CUSTOMER_CURRENCY = OpenApiParameter(
    "currency",
    OpenApiTypes.STR,
    enum=currency_enum(),
    description="ISO 4217 code, in any letter case: scopes the order stats to that currency.",
)


def query_value(request, name: str, field):
    """Parse one query parameter with a form field; a bad value is a 400 naming it."""
    try:
        return field.clean(request.query_params.get(name, ""))
    except DjangoValidationError as exc:
        raise ValidationError({name: exc.messages}) from exc


class ApiView(APIView):
    """Keys or staff sessions, scopes, rate limits, JSON bodies and one error shape."""

    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [HasScopeOrStaffPermission]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [LimitedJSONParser]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]

    # Set by each resource's views: its model, serializers and selector.
    scope_resource = ""
    model: Any = None
    noun = "record"
    output_serializer: Any = None
    input_serializer: Any
    detail_selector: Any = None

    def get_exception_handler(self):
        return api_exception_handler

    def find(self, pk: int, *, include_deleted: bool, **kwargs):
        found = type(self).detail_selector(pk=pk, include_deleted=include_deleted, **kwargs)
        if found is None:
            raise NotFound(f"No {self.noun} with id {pk}.")
        return found

    def lock(self, pk: int) -> None:
        """Hold the record's row until the transaction ends: concurrent writes to one record
        queue, and each validates against the state the one before it left."""
        list(type(self).model.objects.select_for_update().filter(pk=pk).values_list("pk"))

    def respond(self, instance, status_code=status.HTTP_200_OK) -> Response:
        return Response(type(self).output_serializer(instance).data, status=status_code)


class ListApi(ApiView, GenericAPIView):
    filter_backends = [DjangoFilterBackend]
    pagination_class = PageNumberPagination
    list_selector: Any = None
    create_service: Any = None

    def get_view_name(self) -> str:
        return str(self.model._meta.verbose_name_plural).capitalize()

    def get_queryset(self):
        return type(self).list_selector()

    def get_serializer_class(self):
        return self.input_serializer

    def get(self, request):
        rows = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.output_serializer(rows, many=True).data)

    def post(self, request):
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = type(self).create_service(**serializer.validated_data)
        return self.respond(self.find(created.pk, include_deleted=True), status.HTTP_201_CREATED)


class DetailApi(ApiView, GenericAPIView):
    instance_kwarg = ""
    update_service: Any = None
    soft_delete_service: Any = None

    def get_view_name(self) -> str:
        return self.noun.capitalize()

    def get_serializer_class(self):
        return self.input_serializer

    def get_object(self):
        include_deleted = query_value(self.request, "include_deleted", StrictBooleanField())
        return self.find(self.kwargs["pk"], include_deleted=bool(include_deleted))

    def get(self, request, pk):
        return self.respond(self.get_object())

    def put(self, request, pk):
        return self.update(partial=False)

    def patch(self, request, pk):
        return self.update(partial=True)

    def update(self, *, partial: bool) -> Response:
        with transaction.atomic():
            self.lock(self.kwargs["pk"])
            instance = self.get_object()
            serializer = self.input_serializer(instance, data=self.request.data, partial=partial)
            serializer.is_valid(raise_exception=True)
            type(self).update_service(
                **{self.instance_kwarg: instance}, **serializer.validated_data
            )
        return self.respond(self.find(instance.pk, include_deleted=True))

    def delete(self, request, pk):
        with transaction.atomic():
            self.lock(pk)
            type(self).soft_delete_service(**{self.instance_kwarg: self.get_object()})
        return Response(status=status.HTTP_204_NO_CONTENT)


class RestoreApi(ApiView):
    restore_service: Any = None
    instance_kwarg = ""
    # Restoring undoes a delete, so staff need the delete permission.
    staff_actions = {"POST": "delete"}

    def get_view_name(self) -> str:
        return f"Restore {self.noun}"

    def post(self, request, pk):
        with transaction.atomic():
            self.lock(pk)
            instance = self.find(pk, include_deleted=True)
            type(self).restore_service(**{self.instance_kwarg: instance})
        return self.respond(self.find(pk, include_deleted=True))


def document(resource: str, noun: str, output, input_, *, scope: str = "", parameters=()):
    """Describe the three views of a resource in the OpenAPI schema."""
    scope = scope or resource
    read = f"Needs the `{scope}.read` scope (staff: the view permission)."
    write = f"Needs the `{scope}.write` scope (staff: the matching model permission)."
    tags = [resource]
    record_id = OpenApiParameter(
        "id", OpenApiTypes.INT, OpenApiParameter.PATH, description=f"The {noun}'s id."
    )
    detail_parameters = [record_id, INCLUDE_DELETED]
    return (
        extend_schema_view(
            get=extend_schema(
                operation_id=f"{resource}_list",
                summary=f"List {resource}",
                description=f"A page of {resource}, filtered and sorted. {read}",
                responses={200: output(many=True), **errors(*READ_ERRORS)},
                tags=tags,
            ),
            post=extend_schema(
                operation_id=f"{resource}_create",
                summary=f"Create a {noun}",
                description=write,
                request=input_,
                responses={201: output, **errors(*WRITE_ERRORS)},
                tags=tags,
            ),
        ),
        extend_schema_view(
            get=extend_schema(
                operation_id=f"{resource}_retrieve",
                summary=f"Get a {noun}",
                description=read,
                parameters=[*detail_parameters, *parameters],
                responses={200: output, **errors(*READ_ERRORS, detail=True)},
                tags=tags,
            ),
            put=extend_schema(
                operation_id=f"{resource}_update",
                summary=f"Replace a {noun}'s fields",
                description=write,
                parameters=detail_parameters,
                request=input_,
                responses={200: output, **errors(*WRITE_ERRORS, detail=True)},
                tags=tags,
            ),
            patch=extend_schema(
                operation_id=f"{resource}_partial_update",
                summary=f"Change some of a {noun}'s fields",
                description=write,
                parameters=detail_parameters,
                request=input_,
                responses={200: output, **errors(*WRITE_ERRORS, detail=True)},
                tags=tags,
            ),
            delete=extend_schema(
                operation_id=f"{resource}_destroy",
                summary=f"Delete a {noun} (soft)",
                description=f"Hide the {noun}; restore brings it back. {write}",
                parameters=detail_parameters,
                responses={204: None, **errors(*READ_ERRORS, detail=True)},
                tags=tags,
            ),
        ),
        extend_schema_view(
            post=extend_schema(
                operation_id=f"{resource}_restore",
                summary=f"Restore a soft-deleted {noun}",
                description=write,
                parameters=[record_id],
                request=None,
                responses={200: output, **errors(*READ_ERRORS, detail=True)},
                tags=tags,
            ),
        ),
    )


# Customers ------------------------------------------------------------------------------

_list, _detail, _restore = document(
    "customers",
    "customer",
    CustomerSerializer,
    CustomerInputSerializer,
    parameters=[CUSTOMER_CURRENCY],
)


class CustomerMixin:
    scope_resource = "customers"
    model = Customer
    noun = "customer"
    output_serializer = CustomerSerializer
    input_serializer = CustomerInputSerializer
    detail_selector = staticmethod(selectors.customer_for_api)
    instance_kwarg = "customer"


@_list
class CustomerListApi(CustomerMixin, ListApi):
    filterset_class = CustomerFilterSet
    list_selector = staticmethod(selectors.customers_for_api)
    create_service = staticmethod(services.customer_create)


@_detail
class CustomerDetailApi(CustomerMixin, DetailApi):
    update_service = staticmethod(services.customer_update)
    soft_delete_service = staticmethod(services.customer_soft_delete)

    def get(self, request, pk):
        include_deleted = query_value(request, "include_deleted", StrictBooleanField())
        currency = query_value(
            request, "currency", CodeField(codes=currency_enum, example="EGP", required=False)
        )
        return self.respond(
            self.find(pk, include_deleted=bool(include_deleted), currency=currency or None)
        )


@_restore
class CustomerRestoreApi(CustomerMixin, RestoreApi):
    restore_service = staticmethod(services.customer_restore)


# Orders ---------------------------------------------------------------------------------

_list, _detail, _restore = document("orders", "order", OrderSerializer, OrderInputSerializer)


class OrderMixin:
    scope_resource = "orders"
    model = Order
    noun = "order"
    output_serializer = OrderSerializer
    input_serializer = OrderInputSerializer
    detail_selector = staticmethod(selectors.order_for_api)
    instance_kwarg = "order"


@_list
class OrderListApi(OrderMixin, ListApi):
    filterset_class = OrderFilterSet
    list_selector = staticmethod(selectors.orders_for_api)
    create_service = staticmethod(services.order_create)


@_detail
class OrderDetailApi(OrderMixin, DetailApi):
    update_service = staticmethod(services.order_update)
    soft_delete_service = staticmethod(services.order_soft_delete)


@_restore
class OrderRestoreApi(OrderMixin, RestoreApi):
    restore_service = staticmethod(services.order_restore)


# Products -------------------------------------------------------------------------------

_list, _detail, _restore = document(
    "products", "product", ProductSerializer, ProductInputSerializer
)


class ProductMixin:
    scope_resource = "products"
    model = Product
    noun = "product"
    output_serializer = ProductSerializer
    input_serializer = ProductInputSerializer
    detail_selector = staticmethod(selectors.product_for_api)
    instance_kwarg = "product"


@_list
class ProductListApi(ProductMixin, ListApi):
    filterset_class = ProductFilterSet
    list_selector = staticmethod(selectors.products_for_api)
    create_service = staticmethod(services.product_create)


@_detail
class ProductDetailApi(ProductMixin, DetailApi):
    update_service = staticmethod(services.product_update)
    soft_delete_service = staticmethod(services.product_soft_delete)


@_restore
class ProductRestoreApi(ProductMixin, RestoreApi):
    restore_service = staticmethod(services.product_restore)


# Categories: part of the catalogue, so under the products scopes ------------------------

_list, _detail, _restore = document(
    "categories", "category", CategorySerializer, CategoryInputSerializer, scope="products"
)


class CategoryMixin:
    scope_resource = "products"
    model = Category
    noun = "category"
    output_serializer = CategorySerializer
    input_serializer = CategoryInputSerializer
    detail_selector = staticmethod(selectors.category_for_api)
    instance_kwarg = "category"


@_list
class CategoryListApi(CategoryMixin, ListApi):
    filterset_class = CategoryFilterSet
    list_selector = staticmethod(selectors.categories_for_api)
    create_service = staticmethod(services.category_create)


@_detail
class CategoryDetailApi(CategoryMixin, DetailApi):
    update_service = staticmethod(services.category_update)
    soft_delete_service = staticmethod(services.category_soft_delete)


@_restore
class CategoryRestoreApi(CategoryMixin, RestoreApi):
    restore_service = staticmethod(services.category_restore)
