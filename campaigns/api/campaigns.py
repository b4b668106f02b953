"""Campaigns by API (API.md, *Campaigns*): create a draft, launch it, cancel it, read it, its
audience by group and its results. For the whole brand only: an API key without a store, or an
operator's or admin's session; a store-scoped key gets 403."""

from __future__ import annotations

from datetime import timedelta

from django.http import Http404
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import AuditEntry
from campaigns.api.common import IDEMPOTENCY_KEY, brand_actor, idempotent_post, request_user
from campaigns.models import Campaign
from campaigns.models.messages import Channel
from campaigns.selectors import campaigns as selectors
from campaigns.services import campaigns as services
from members.api.schema import PAGE, paginated
from members.api.serializers import NON_BLANK
from members.models import Segment, VoucherTemplate
from scrm.exceptions import ApplicationError

RESULTS_FRESH = timedelta(minutes=1)


class CampaignOut(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=Campaign.Status.values)
    kind = serializers.ChoiceField(choices=["promotion", "value"])
    channels = serializers.ListField(child=serializers.ChoiceField(choices=Channel.values))
    audience = serializers.SerializerMethodField()
    offer = serializers.SerializerMethodField()
    budget = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "kind",
            "status",
            "audience",
            "channels",
            "offer",
            "budget",
            "starts_at",
            "repeat",
            "repeat_until",
            "conversion_window_days",
            "holdout_percent",
            "audience_count",
            "treatment_count",
            "holdout_count",
            "launched_at",
            "finished_at",
            "cancelled_at",
            "created_at",
        ]

    @extend_schema_field(
        {
            "type": "object",
            "properties": {"segment": {"type": "integer"}, "list": {"type": "boolean"}},
        }
    )
    def get_audience(self, obj: Campaign) -> dict:
        if obj.uses_list:
            return {"list": True}
        return {"segment": obj.segment_id}

    def get_offer(self, obj: Campaign) -> str | None:
        return obj.offer.code if obj.offer_id else None


@extend_schema_field(
    {
        "description": '{"segment": id} or {"members": ["M7Q2K9", ...]} (up to 100,000 codes).',
        "oneOf": [
            {
                "type": "object",
                "properties": {"segment": {"type": "integer", "minimum": 1}},
                "required": ["segment"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {
                    "members": {
                        "type": "array",
                        "items": {"type": "string", "maxLength": 20},
                        "maxItems": 100_000,
                    }
                },
                "required": ["members"],
                "additionalProperties": False,
            },
        ],
    }
)
class AudienceField(serializers.JSONField):
    """A saved segment or a static list of member codes."""


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": list(Channel.values)},
        "minItems": 1,
        "maxItems": 4,
        "uniqueItems": True,
    }
)
class ChannelsField(serializers.ListField):
    child = serializers.ChoiceField(choices=Channel.values)

    def __init__(self, **kwargs) -> None:
        super().__init__(min_length=1, max_length=4, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if len(set(value)) != len(value):
            raise serializers.ValidationError(_("Choose channels from the list, each once."))
        return value


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": r"^\d{1,10}(\.\d{0,2})?$", "nullable": True}
)
class BudgetField(serializers.DecimalField):
    """CNY, from 0: what the offer may cost at most."""


def _audience_field(value):
    if not isinstance(value, dict) or (("segment" in value) == ("members" in value)):
        raise serializers.ValidationError(_('Give {"segment": id} or {"members": [member codes]}.'))
    return value


class CampaignIn(serializers.Serializer):
    name = serializers.CharField(max_length=120, validators=[NON_BLANK])
    kind = serializers.ChoiceField(choices=["promotion", "value"])
    audience = AudienceField(validators=[_audience_field])
    holdout_percent = serializers.IntegerField(min_value=0, max_value=50, default=10)
    channels = ChannelsField()
    message = serializers.DictField(
        child=serializers.CharField(max_length=5000, allow_blank=True),
        help_text="The text per channel, with {variables}.",
    )
    subject = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="The email's subject."
    )
    offer = serializers.CharField(
        max_length=40,
        allow_null=True,
        allow_blank=True,
        required=False,
        default=None,
        help_text="A voucher template's code, or null (blank) for no offer.",
    )
    budget = BudgetField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    starts_at = serializers.DateTimeField()
    repeat = serializers.ChoiceField(choices=Campaign.Repeat.values, default="once")
    repeat_until = serializers.DateField(required=False, allow_null=True)
    conversion_window_days = serializers.IntegerField(min_value=1, max_value=90, default=14)


def _data(d: dict) -> dict:
    """The API's body as the service's checked values (a 400 names what is unknown)."""
    audience = d["audience"]
    segment = None
    members = None
    if "segment" in audience:
        seg = audience["segment"]
        if not isinstance(seg, int) or isinstance(seg, bool):
            raise ApplicationError(
                _("Give the segment's id."), fields={"audience": [_("Give the segment's id.")]}
            )
        segment = Segment.objects.filter(pk=seg).first() if 0 < seg < 2**63 else None
        if segment is None:
            raise ApplicationError(
                _("No segment has this id."),
                fields={"audience.segment": [_("No segment has this id.")]},
            )
    else:
        members = audience["members"]
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise ApplicationError(
                _("Give the members as a list of member codes."),
                fields={"audience.members": [_("Give the members as a list of member codes.")]},
            )
        members = [m.replace("\x00", "").strip() for m in members if m.strip()]
    offer = None
    if d.get("offer"):
        offer = VoucherTemplate.objects.filter(code=d["offer"].replace("\x00", "")).first()
        if offer is None:
            raise ApplicationError(
                _("No voucher template has this code."),
                fields={"offer": [_("No voucher template has this code.")]},
            )
    unknown = set(d["message"]) - set(d["channels"])
    if unknown:
        raise ApplicationError(
            _("A message for a channel the campaign does not use."),
            fields={
                "message": [
                    _("No such channel in channels: %(c)s") % {"c": ", ".join(sorted(unknown))}
                ]
            },
        )
    messages = {
        ch: {
            "body": d["message"].get(ch, ""),
            "subject": (d.get("subject") or d["name"]) if ch == "email" else "",
        }
        for ch in d["channels"]
    }
    return {
        "name": d["name"],
        "kind": d["kind"],
        "segment": segment,
        "members": members,
        "channels": d["channels"],
        "messages": messages,
        "offer": offer,
        "budget": d.get("budget"),
        "starts_at": d["starts_at"],
        "repeat": d["repeat"],
        "repeat_until": d.get("repeat_until"),
        "conversion_window_days": d["conversion_window_days"],
        "holdout_percent": d["holdout_percent"],
    }


def _in_api_terms(exc: ApplicationError) -> ApplicationError:
    """The service names fields as the console's form does (``sms_body``, ``members``); the API
    names them as its body does (``message.sms``, ``audience.members``)."""
    fields: dict[str, list[str]] = {}
    for name, errors in exc.fields.items():
        channel, _sep, part = name.partition("_")
        if channel in Channel.values and part == "body":
            name = f"message.{channel}"
        elif channel in Channel.values and part == "subject":
            name = "subject"
        elif name == "members":
            name = "audience.members"
        fields.setdefault(name, []).extend(errors)
    return ApplicationError(exc.message, code=exc.code, status_code=exc.status_code, fields=fields)


def _campaign(pk: int) -> Campaign:
    campaign = (
        Campaign.objects.select_related("offer", "segment").filter(pk=pk).first()
        if 0 < pk < 2**63
        else None
    )
    if campaign is None:
        raise Http404
    return campaign


class CampaignListCreateApi(APIView):
    @extend_schema(
        operation_id="campaigns_list",
        parameters=[PAGE],
        responses=paginated(CampaignOut, "PaginatedCampaignList"),
    )
    def get(self, request: Request) -> Response:
        brand_actor(request)
        paginator = PageNumberPagination()
        qs = Campaign.objects.select_related("offer").order_by("-created_at", "-id")
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(CampaignOut(page, many=True).data)

    @extend_schema(
        operation_id="campaigns_create",
        request=CampaignIn,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: CampaignOut, 200: CampaignOut},
    )
    def post(self, request: Request) -> Response:
        actor = brand_actor(request)
        data = CampaignIn(data=request.data)
        data.is_valid(raise_exception=True)

        def run() -> dict:
            try:
                campaign = services.campaign_save(
                    data=_data(data.validated_data),
                    actor=request_user(request),
                    via=AuditEntry.Via.API,
                )
            except ApplicationError as exc:
                raise _in_api_terms(exc) from exc
            return CampaignOut(campaign).data

        return idempotent_post(
            request,
            actor=actor,
            scope="campaign-create",
            run=run,
            ok_status=status.HTTP_201_CREATED,
        )


class CampaignDetailApi(APIView):
    @extend_schema(operation_id="campaigns_retrieve", responses=CampaignOut)
    def get(self, request: Request, pk: int) -> Response:
        brand_actor(request)
        return Response(CampaignOut(_campaign(pk)).data)


class _CampaignStepApi(APIView):
    """A step of the workflow by POST: the service, its operation id and whether it commits in
    chunks of its own (outside the Idempotency-Key's transaction)."""

    step = ""
    atomic = True

    def post(self, request: Request, pk: int) -> Response:
        actor = brand_actor(request)
        campaign = _campaign(pk)
        service = getattr(services, f"campaign_{self.step}")

        def run() -> dict:
            done = service(campaign=campaign, actor=request_user(request), via=AuditEntry.Via.API)
            return CampaignOut(done).data

        return idempotent_post(
            request,
            actor=actor,
            scope=f"campaign-{self.step}:{pk}",
            run=run,
            ok_status=status.HTTP_200_OK,
            atomic=self.atomic,
        )


STEP_SCHEMA = {"request": None, "parameters": [IDEMPOTENCY_KEY], "responses": {200: CampaignOut}}


@extend_schema_view(post=extend_schema(operation_id="campaigns_launch", **STEP_SCHEMA))
class CampaignLaunchApi(_CampaignStepApi):
    step = "launch"
    atomic = False  # the outbox is written chunk by chunk, each its own transaction


@extend_schema_view(post=extend_schema(operation_id="campaigns_cancel", **STEP_SCHEMA))
class CampaignCancelApi(_CampaignStepApi):
    step = "cancel"


class AudienceOut(serializers.Serializer):
    member = serializers.CharField()
    group = serializers.ChoiceField(choices=["treatment", "holdout"])
    message_status = serializers.CharField(allow_null=True)


GROUP = OpenApiParameter(
    "group", {"type": "string", "enum": ["treatment", "holdout"]}, description="One group only."
)


class CampaignAudienceApi(APIView):
    @extend_schema(
        operation_id="campaigns_audience",
        parameters=[GROUP, PAGE],
        responses=paginated(AudienceOut, "PaginatedCampaignAudience"),
    )
    def get(self, request: Request, pk: int) -> Response:
        brand_actor(request)
        campaign = _campaign(pk)
        group = request.query_params.get("group")
        if group not in (None, "treatment", "holdout"):
            raise ApplicationError(
                _("Choose treatment or holdout."),
                fields={"group": [_("Choose treatment or holdout.")]},
            )
        from campaigns.models import CampaignMember

        qs = CampaignMember.objects.filter(campaign_id=campaign.pk).select_related("member")
        if group:
            qs = qs.filter(group=group)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(qs.order_by("member_id"), request, view=self)
        statuses = selectors.message_statuses(campaign, [row.member_id for row in page])
        return paginator.get_paginated_response(
            [
                {
                    "member": row.member.code,
                    "group": row.group,
                    "message_status": statuses.get(row.member_id),
                }
                for row in page
            ]
        )


RESULTS_SCHEMA = inline_serializer(
    name="CampaignResults",
    fields={
        "window_days": serializers.IntegerField(),
        "treatment": serializers.DictField(),
        "holdout": serializers.DictField(),
        "lift": serializers.DictField(),
        "offer_cost": serializers.CharField(),
        "as_of": serializers.DateTimeField(allow_null=True),
    },
)


class CampaignResultsApi(APIView):
    @extend_schema(
        operation_id="campaigns_results",
        responses={
            200: RESULTS_SCHEMA,
            409: OpenApiResponse(description="campaign_not_launched: a draft has no results."),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        brand_actor(request)
        campaign = _campaign(pk)
        results = services.campaign_results_current(campaign, max_age=RESULTS_FRESH)
        body = {
            key: results[key]
            for key in ("window_days", "treatment", "holdout", "lift", "offer_cost")
        }
        body["as_of"] = campaign.results_at.isoformat() if campaign.results_at else None
        return Response(body)


urlpatterns = [
    path("campaigns/", CampaignListCreateApi.as_view(), name="campaign-list"),
    path("campaigns/<int:pk>/", CampaignDetailApi.as_view(), name="campaign-detail"),
    path("campaigns/<int:pk>/launch/", CampaignLaunchApi.as_view(), name="campaign-launch"),
    path("campaigns/<int:pk>/cancel/", CampaignCancelApi.as_view(), name="campaign-cancel"),
    path("campaigns/<int:pk>/audience/", CampaignAudienceApi.as_view(), name="campaign-audience"),
    path("campaigns/<int:pk>/results/", CampaignResultsApi.as_view(), name="campaign-results"),
]
