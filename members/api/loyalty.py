"""Orders, refunds, points, vouchers and tiers of the integration API (API.md)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import actor_of
from accounts.api.permissions import key_store
from accounts.models import AuditEntry, Store
from members.api.schema import (
    PAGE,
    BatchResultOut,
    OrderResultOut,
    RedemptionResultOut,
    RefundResultOut,
    TierOut,
    paginated,
)
from members.api.serializers import (
    OrderInput,
    PointsEntryOutput,
    RedemptionInput,
    RefundInput,
    VoucherOutput,
    VoucherRedeemInput,
)
from members.models import Member, Order, Reward, Tier, Voucher
from members.services import order_ingest, order_refund, points_redeem, voucher_redeem
from members.services.idempotency import idempotency_replay, idempotency_store, request_hash
from members.services.order_batch import order_ingest_many
from members.services.points import member_lock
from scrm.exceptions import ApplicationError, error_body

MAX_BATCH = 1000


def _actor(request: Request):
    return request.user if request.user and request.user.is_authenticated else None


def _order_parse(request: Request, raw: Any):
    """An ``OrderIn`` from one raw item, or a (status, error body) when it is not valid."""
    from scrm.api_exceptions import _flatten_fields

    if not isinstance(raw, dict):
        return 400, error_body("invalid", _("Each order must be a JSON object."))
    serializer = OrderInput(data=raw)
    if not serializer.is_valid():
        return 400, error_body(
            "invalid", _("Some fields are not valid."), _flatten_fields(serializer.errors)
        )
    try:
        return serializer.to_order(key_store(request))
    except ApplicationError as exc:
        return exc.status_code, error_body(exc.code, exc.message, exc.fields, **exc.extra)


def _order_ingest(request: Request, raw: Any) -> tuple[int, dict]:
    """Validate and ingest one order; returns (status, body). Bad input is a 400, never a 500."""
    parsed = _order_parse(request, raw)
    if isinstance(parsed, tuple):
        return parsed
    try:
        result, created = order_ingest(
            data=parsed, hash_=request_hash(raw), actor=_actor(request), via=AuditEntry.Via.API
        )
    except ApplicationError as exc:
        return exc.status_code, error_body(exc.code, exc.message, exc.fields, **exc.extra)
    return (201 if created else 200), result


class OrderCreateApi(APIView):
    @extend_schema(
        request=OrderInput,
        responses={201: OrderResultOut, 200: OrderResultOut},
        description="Ingest one paid order; a replay of (source, external_id) answers 200.",
    )
    def post(self, request: Request) -> Response:
        status_code, body = _order_ingest(request, request.data)
        return Response(body, status=status_code)


class OrderBatchInput(serializers.Serializer):
    # Each item is read on its own (a bad one is a 400 in its place, not a refused batch), so the
    # field takes any JSON; the schema says what a good item is (BATCH_SCHEMA).
    orders = serializers.ListField(
        child=serializers.JSONField(), allow_empty=False, max_length=MAX_BATCH
    )


BATCH_SCHEMA = inline_serializer(
    name="OrderBatch",
    fields={"orders": OrderInput(many=True)},  # 1 to MAX_BATCH: members.api.schema.schema_rules
)


class OrderBatchApi(APIView):
    @extend_schema(request=BATCH_SCHEMA, responses={200: BatchResultOut})
    def post(self, request: Request) -> Response:
        payload = OrderBatchInput(
            data=request.data if isinstance(request.data, dict) else {"orders": None}
        )
        payload.is_valid(raise_exception=True)
        raws = payload.validated_data["orders"]
        outcome: list[tuple[int, dict] | None] = [None] * len(raws)
        valid: list[int] = []
        prepared = []
        for i, raw in enumerate(raws):
            parsed = _order_parse(request, raw)
            if isinstance(parsed, tuple):
                outcome[i] = parsed
            else:
                valid.append(i)
                prepared.append((parsed, request_hash(raw)))
        for i, result in zip(
            valid,
            order_ingest_many(items=prepared, actor=_actor(request), via=AuditEntry.Via.API),
            strict=True,
        ):
            outcome[i] = result
        results = []
        for code, body in (o for o in outcome if o is not None):
            ok = code in (200, 201)
            results.append(
                {
                    "status": code,
                    "order": body if ok else None,
                    "error": None if ok else body["error"],
                }
            )
        return Response({"results": results}, status=200)


class RefundCreateApi(APIView):
    @extend_schema(request=RefundInput, responses={201: RefundResultOut, 200: RefundResultOut})
    def post(self, request: Request, order_id: int) -> Response:
        order = get_object_or_404(Order, pk=order_id)
        scope = key_store(request)
        if scope is not None and order.store_id not in (None, scope.pk):
            raise ApplicationError(
                _("This key is limited to store %(code)s.") % {"code": scope.code},
                code="permission_denied",
                status_code=403,
            )
        serializer = RefundInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        result, created = order_refund(
            order=order,
            data=serializer.to_refund(),
            hash_=request_hash(request.data),
            actor=_actor(request),
        )
        return Response(result, status=201 if created else 200)


def _member(request: Request, code: str, *, serve: bool) -> Member:
    """The member a code names: any of the brand to serve them (redeem, their vouchers), the
    actor's stores' only to browse (their points history)."""
    from members.api.views import member_in_scope, member_served

    actor = actor_of(request)
    return member_served(actor, code) if serve else member_in_scope(actor, code)


class PointsListApi(APIView):
    @extend_schema(
        parameters=[PAGE], responses=paginated(PointsEntryOutput, "PaginatedPointsEntryList")
    )
    def get(self, request: Request, code: str) -> Response:
        member = _member(request, code, serve=False)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            member.points_entries.order_by("-id"), request, view=self
        )
        return paginator.get_paginated_response(PointsEntryOutput(page, many=True).data)


class RedemptionCreateApi(APIView):
    @extend_schema(
        request=RedemptionInput,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[!-~]+$"},
                OpenApiParameter.HEADER,
                required=True,
            )
        ],
        responses={201: RedemptionResultOut, 200: RedemptionResultOut},
    )
    def post(self, request: Request, code: str) -> Response:
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 100:
            raise ApplicationError(
                _("Send an Idempotency-Key header (at most 100 characters) with every redemption."),
                code="idempotency_key_required",
                fields={"Idempotency-Key": [_("This header is required.")]},
            )
        member = _member(request, code, serve=True)
        serializer = RedemptionInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        d = serializer.validated_data
        reward = None
        if d["reward"]:
            # Any reward of the catalogue: one not offered now (off, out of its dates or of
            # stock) is refused by the redemption with 409 reward_unavailable, nothing taken.
            reward = (
                Reward.objects.filter(code=d["reward"]).select_related("voucher_template").first()
            )
            if reward is None:
                raise ApplicationError(
                    _("Unknown reward."), fields={"reward": [_("Unknown reward.")]}
                )
        hash_ = request_hash(request.data)
        scope = f"redeem:{member.pk}"
        with transaction.atomic():
            member_lock(member)  # serialises attempts with the same key
            record = idempotency_replay(scope=scope, key=key, hash_=hash_)
            if record is not None:
                return Response(record.response, status=200)
            entry, _created = points_redeem(
                member=member,
                points=d["points"],
                key=key,
                reward=reward,
                reason=d["reason"],
                actor=_actor(request),
            )
            issued = None
            if reward is not None:
                voucher = Voucher.objects.filter(issue_key=f"reward-entry:{entry.pk}").first()
                issued = {
                    "reward": reward.code,
                    "kind": reward.kind,
                    "voucher": voucher.code if voucher else None,
                }
            body = {"entry": PointsEntryOutput(entry).data, "issued": issued}
            idempotency_store(scope=scope, key=key, hash_=hash_, status_code=201, response=body)
        return Response(body, status=201)


class MemberVouchersApi(APIView):
    @extend_schema(parameters=[PAGE], responses=paginated(VoucherOutput, "PaginatedVoucherList"))
    def get(self, request: Request, code: str) -> Response:
        member = _member(request, code, serve=True)
        paginator = PageNumberPagination()
        qs = (
            Voucher.objects.filter(member=member)
            .select_related("template", "member")
            .order_by("-issued_at", "-id")
        )
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(VoucherOutput(page, many=True).data)


class VoucherDetailApi(APIView):
    @extend_schema(responses=VoucherOutput)
    def get(self, request: Request, code: str) -> Response:
        voucher = get_object_or_404(
            Voucher.objects.select_related("template", "member"), code=code.upper()
        )
        return Response(VoucherOutput(voucher).data)


class VoucherRedeemApi(APIView):
    @extend_schema(request=VoucherRedeemInput, responses=VoucherOutput)
    def post(self, request: Request, code: str) -> Response:
        serializer = VoucherRedeemInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        store = None
        if serializer.validated_data["store"]:
            store = Store.objects.filter(code=serializer.validated_data["store"].upper()).first()
            if store is None:
                raise ApplicationError(_("Unknown store."), fields={"store": [_("Unknown store.")]})
        scope = key_store(request)
        if scope is not None:
            if store is not None and store != scope:
                raise ApplicationError(
                    _("This key is limited to store %(code)s.") % {"code": scope.code},
                    code="permission_denied",
                    status_code=403,
                )
            store = scope
        order = None
        if serializer.validated_data["order"]:
            order = Order.objects.filter(external_id=serializer.validated_data["order"]).first()
        voucher = voucher_redeem(code=code, store=store, order=order, actor=_actor(request))
        return Response(VoucherOutput(voucher).data, status=status.HTTP_200_OK)


class TierListApi(APIView):
    @extend_schema(responses={200: TierOut(many=True)})
    def get(self, request: Request) -> Response:
        tiers = Tier.objects.prefetch_related("benefits").order_by("rank")
        return Response(
            [
                {
                    "code": t.code,
                    "name": t.name,
                    "rank": t.rank,
                    "multiplier": f"{t.multiplier:.2f}",
                    "thresholds": {
                        "purchases": t.min_purchases,
                        "annual_spend": f"{t.min_annual_spend:.2f}"
                        if t.min_annual_spend is not None
                        else None,
                    },
                    "benefits": [
                        {
                            "code": b.code,
                            "name": b.name,
                            "kind": b.kind,
                            **({"percent": b.percent} if b.percent else {}),
                        }
                        for b in t.benefits.all()
                    ],
                    "rule_text": t.rule_text,
                }
                for t in tiers
            ]
        )
