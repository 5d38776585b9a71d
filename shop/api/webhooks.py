"""/api/v1/webhooks: the store's webhook subscriptions (scope webhooks.write for every method).

The secret is in the create answer only; the services in push/webhooks.py check the target
and the topics."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import DjangoModelPermissions
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response

from push.models import WebhookSubscription
from push.webhooks import (
    TOPICS,
    webhook_subscription_create,
    webhook_subscription_delete,
    webhook_subscription_update,
)

from .authentication import ApiKeyAuthentication
from .exceptions import api_exception_handler
from .models import ApiKey
from .parsers import LimitedJSONParser
from .throttling import ApiKeyRateThrottle
from .views import READ_ERRORS, WRITE_ERRORS, IdempotentWrites, errors

SCOPE = "webhooks.write"


class WebhookSerializer(serializers.ModelSerializer):
    topics = serializers.ListField(
        child=serializers.ChoiceField(choices=TOPICS),
        allow_empty=False,
        min_length=1,
        max_length=len(TOPICS),
    )
    url = serializers.URLField(max_length=2000)

    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "topics", "active", "created_at", "disabled_at", "disabled_reason"]
        read_only_fields = ["id", "created_at", "disabled_at", "disabled_reason"]

    # The target's safety (https, resolving to public addresses) is the service's rule: a
    # well-formed URL it refuses is a 409 naming `url`, like any request the store refuses.


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret (whsec_…): shown in this answer only."
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class WebhookPermission(DjangoModelPermissions):
    """An API key needs webhooks.write for any method; staff the model permission."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            self.message = f"This API key lacks the {SCOPE} scope."
            return SCOPE in request.auth.scope_set
        user = request.user
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            self.message = "Only staff members and API keys may use the API."
            return False
        self.message = "You lack the permission for webhook subscriptions."
        return super().has_permission(request, view)


NEEDS = "Needs the `webhooks.write` scope (staff: the matching model permission)."
SUBSCRIPTION_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The subscription's id."
)


def _operation(name: str, summary: str, ok: dict, *, codes, detail=False, **kwargs):
    return extend_schema(
        operation_id=f"webhooks_{name}",
        summary=summary,
        description=NEEDS,
        tags=["webhooks"],
        parameters=[SUBSCRIPTION_ID] if detail else None,
        responses={**ok, **errors(*codes, detail=detail)},
        **kwargs,
    )


@extend_schema_view(
    list=_operation(
        "list", "List webhook subscriptions", {200: WebhookSerializer(many=True)}, codes=READ_ERRORS
    ),
    create=_operation(
        "create",
        "Subscribe a URL to topics",
        {201: WebhookCreatedSerializer},
        codes=WRITE_ERRORS,
        request=WebhookSerializer,
    ),
    retrieve=_operation(
        "retrieve",
        "Get a webhook subscription",
        {200: WebhookSerializer},
        codes=READ_ERRORS,
        detail=True,
    ),
    update=_operation(
        "update",
        "Replace a subscription's fields",
        {200: WebhookSerializer},
        codes=WRITE_ERRORS,
        detail=True,
    ),
    partial_update=_operation(
        "partial_update",
        "Change some of a subscription's fields",
        {200: WebhookSerializer},
        codes=WRITE_ERRORS,
        detail=True,
    ),
    destroy=_operation(
        "destroy",
        "Delete a webhook subscription",
        {204: None},
        codes=READ_ERRORS,
        detail=True,
    ),
)
class WebhookViewSet(IdempotentWrites, viewsets.ModelViewSet):
    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [WebhookPermission]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [LimitedJSONParser]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]
    pagination_class = None  # a store has a handful
    serializer_class = WebhookSerializer
    lookup_value_regex = "[0-9]{1,18}"
    queryset = WebhookSubscription.objects.order_by("id")

    def get_exception_handler(self):
        return api_exception_handler

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.claim_idempotency_key(request)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription, secret = webhook_subscription_create(**serializer.validated_data)
        data: Any = WebhookCreatedSerializer(subscription).data
        return Response({**data, "secret": secret}, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = webhook_subscription_update(
            subscription=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        webhook_subscription_delete(subscription=instance)
