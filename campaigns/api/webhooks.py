"""Webhook endpoints by API (API.md, *Webhook endpoints*): ``POST /webhooks/`` (the secret is in
that answer only), ``GET /webhooks/``, ``DELETE /webhooks/{id}/``. For the whole brand only: an
API key without a store, or an operator's or admin's session; a store-scoped key gets 403."""

from __future__ import annotations

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import AuditEntry
from campaigns.api.common import IDEMPOTENCY_KEY, brand_actor, idempotent_post, request_user
from campaigns.models.webhooks import WEBHOOK_TYPES, WebhookEndpoint
from campaigns.selectors.webhooks import webhook_endpoints
from campaigns.services.webhooks import webhook_endpoint_create, webhook_endpoint_delete
from members.api.schema import PAGE, paginated

# What the schema promises a valid URL looks like: an https URL with a host name. The service
# accepts more (any https URL Django's validator takes); everything matching this is accepted.
URL_PATTERN = (
    r"^https://[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?)*"
    r"\.[a-z]{2,12}(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~-]*)*$"
)


@extend_schema_field({"type": "string", "maxLength": 500, "pattern": URL_PATTERN})
class WebhookUrlField(serializers.CharField):
    """The receiver's URL; the service decides (``webhook_url_problem``)."""


TYPES_SCHEMA = {"type": "string", "enum": list(WEBHOOK_TYPES)}


@extend_schema_field({"type": "array", "items": TYPES_SCHEMA, "minItems": 1})
class WebhookTypesInput(serializers.ListField):
    """One or more of API.md's event types."""

    child = serializers.ChoiceField(choices=list(WEBHOOK_TYPES))

    def __init__(self, **kwargs) -> None:
        super().__init__(min_length=1, **kwargs)


@extend_schema_field({"type": "array", "items": TYPES_SCHEMA})
class WebhookTypesOutput(serializers.ListField):
    child = serializers.CharField()


class WebhookOut(serializers.ModelSerializer):
    url = serializers.CharField()
    types = WebhookTypesOutput()
    description = serializers.CharField(allow_blank=True)
    is_active = serializers.BooleanField(
        help_text="False once turned off (after a day of failures, until turned back on)."
    )
    failing_since = serializers.DateTimeField(
        allow_null=True, help_text="Every delivery has failed since then; null when healthy."
    )
    disabled_at = serializers.DateTimeField(allow_null=True)
    disabled_reason = serializers.CharField(allow_blank=True)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "types",
            "description",
            "is_active",
            "failing_since",
            "disabled_at",
            "disabled_reason",
            "created_at",
        ]


class WebhookCreatedOut(WebhookOut):
    secret = serializers.CharField(
        help_text="64 hex characters: the HMAC-SHA256 key of X-SCRM-Signature. Shown only here."
    )

    class Meta(WebhookOut.Meta):
        fields = [*WebhookOut.Meta.fields, "secret"]


class WebhookListCreateApi(APIView):
    class WebhookInput(serializers.Serializer):
        url = WebhookUrlField(
            max_length=500,
            help_text="https:// only (plain http only to this machine in development).",
        )
        types = WebhookTypesInput()
        description = serializers.CharField(
            max_length=200, required=False, allow_blank=True, default=""
        )

    @extend_schema(
        operation_id="webhooks_list",
        parameters=[PAGE],
        responses=paginated(WebhookOut, "PaginatedWebhookList"),
    )
    def get(self, request: Request) -> Response:
        brand_actor(request)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(webhook_endpoints(), request, view=self)
        return paginator.get_paginated_response(WebhookOut(page, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        request=WebhookInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: WebhookCreatedOut, 200: WebhookCreatedOut},
    )
    def post(self, request: Request) -> Response:
        actor = brand_actor(request)
        data = self.WebhookInput(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data

        def run() -> dict:
            endpoint = webhook_endpoint_create(
                url=d["url"],
                types=d["types"],
                description=d["description"],
                actor=request_user(request),
                via=AuditEntry.Via.API,
            )
            return WebhookCreatedOut(endpoint).data

        return idempotent_post(
            request, actor=actor, scope="webhook-create", run=run, ok_status=status.HTTP_201_CREATED
        )


class WebhookDetailApi(APIView):
    @extend_schema(
        operation_id="webhooks_destroy",
        responses={204: OpenApiResponse(description="Deleted, with its delivery log.")},
    )
    def delete(self, request: Request, pk: int) -> Response:
        brand_actor(request)
        endpoint = WebhookEndpoint.objects.filter(pk=pk).first()
        if endpoint is None:
            raise Http404
        webhook_endpoint_delete(
            endpoint=endpoint, actor=request_user(request), via=AuditEntry.Via.API
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("webhooks/", WebhookListCreateApi.as_view(), name="webhook-list"),
    path("webhooks/<int:pk>/", WebhookDetailApi.as_view(), name="webhook-detail"),
]
