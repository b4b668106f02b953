"""``GET /members/{code}/messages/`` (API.md, Messages): the member's messages, newest first."""

from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import actor_of
from campaigns.models import Message
from members.api.schema import PAGE, paginated
from members.api.views import member_in_scope

SourceOut = inline_serializer(
    "MessageSource",
    {
        "type": serializers.ChoiceField(choices=Message.SourceType.choices),
        "id": serializers.CharField(),
    },
)


class MessageOutput(serializers.ModelSerializer):
    source = serializers.SerializerMethodField()
    reason = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id",
            "channel",
            "kind",
            "source",
            "status",
            "reason",
            "scheduled_for",
            "sent_at",
            "text",
        ]

    @extend_schema_field(SourceOut)
    def get_source(self, m: Message) -> dict[str, Any]:
        return {"type": m.source_type, "id": m.source_id}

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_reason(self, m: Message) -> str | None:
        return m.reason or None


class MemberMessagesApi(APIView):
    @extend_schema(parameters=[PAGE], responses=paginated(MessageOutput, "PaginatedMessageList"))
    def get(self, request: Request, code: str) -> Response:
        member = member_in_scope(actor_of(request), code)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            Message.objects.filter(member=member).order_by("-created_at", "-id"), request, view=self
        )
        return paginator.get_paginated_response(MessageOutput(page, many=True).data)


urlpatterns = [
    path("members/<str:code>/messages/", MemberMessagesApi.as_view(), name="member-messages"),
]
