"""What the API answers, for the OpenAPI schema (drf-spectacular): the shapes of API.md.

These serializers only describe responses the views build as dicts (the member card is built by
``members.selectors.cards.member_card`` for the counter and the portal too); the schemathesis run in
the suite checks every response against them, so a field added to a card without its line here
fails there.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers

from members.api.serializers import PointsEntryOutput

PAGE = OpenApiParameter(
    "page",
    {"type": "integer", "minimum": 1},
    description="The page number, from 1 (50 a page); past the last page is a 404.",
)
MONEY_HELP = 'A decimal string in CNY, e.g. "199.00".'


class TierRefOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class MissingOut(serializers.Serializer):
    purchases = serializers.IntegerField(required=False)
    annual_spend = serializers.CharField(required=False, help_text=MONEY_HELP)


class NextTierOut(TierRefOut):
    missing = MissingOut()


class BenefitOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    percent = serializers.IntegerField(required=False)


class PendingGiftOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    granted_at = serializers.DateTimeField()


class CardVoucherOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class MemberCardOut(serializers.Serializer):
    code = serializers.CharField()
    phone = serializers.CharField(
        help_text="E.164; masked (+86 138****8000) for a member of another store."
    )
    name = serializers.CharField(allow_blank=True)
    store = serializers.CharField(allow_null=True)
    tier = TierRefOut()
    points_balance = serializers.IntegerField()
    points_debt = serializers.IntegerField()
    purchase_count = serializers.IntegerField()
    annual_spend = serializers.CharField(help_text=MONEY_HELP)
    lifecycle_stage = serializers.CharField()
    next_tier = NextTierOut(allow_null=True)
    benefits = BenefitOut(many=True)
    pending_gifts = PendingGiftOut(many=True)
    vouchers = CardVoucherOut(many=True)
    referral_code = serializers.CharField(allow_null=True)
    joined_at = serializers.DateTimeField()


class CausedOut(serializers.Serializer):
    """One thing an order or a refund caused; more keys depend on the type."""

    type = serializers.CharField(
        help_text="tier_changed, milestone_reached, gift_granted, voucher_redeemed, ..."
    )


class OrderResultOut(serializers.Serializer):
    id = serializers.IntegerField()
    points_earned = serializers.IntegerField()
    member = MemberCardOut()
    events = CausedOut(many=True)


class ErrorDetailOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))  # type: ignore[assignment]  # DRF pops declared fields


class BatchItemOut(serializers.Serializer):
    status = serializers.ChoiceField(choices=[200, 201, 400, 403, 404, 409])
    order = OrderResultOut(allow_null=True)
    error = ErrorDetailOut(allow_null=True)


class BatchResultOut(serializers.Serializer):
    results = BatchItemOut(many=True)


class RefundResultOut(serializers.Serializer):
    id = serializers.IntegerField()
    order = serializers.IntegerField()
    amount = serializers.CharField(help_text=MONEY_HELP)
    points_reversed = serializers.IntegerField()
    points_debt = serializers.IntegerField()
    member = MemberCardOut()
    events = CausedOut(many=True)


class IssuedOut(serializers.Serializer):
    reward = serializers.CharField()
    kind = serializers.CharField()
    voucher = serializers.CharField(allow_null=True)


class RedemptionResultOut(serializers.Serializer):
    entry = PointsEntryOutput()
    issued = IssuedOut(allow_null=True)


class ThresholdsOut(serializers.Serializer):
    purchases = serializers.IntegerField(allow_null=True)
    annual_spend = serializers.CharField(allow_null=True, help_text=MONEY_HELP)


class TierOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    rank = serializers.IntegerField()
    multiplier = serializers.CharField(help_text="Points per CNY, a decimal string.")
    thresholds = ThresholdsOut()
    benefits = BenefitOut(many=True)
    rule_text = serializers.CharField(allow_blank=True)


def paginated(item: type[serializers.Serializer], name: str) -> serializers.Serializer:
    """A page of ``item`` as API.md's lists answer it: ``{"count", "next", "previous", "results"}``."""
    return inline_serializer(
        name=name,
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item(many=True),
        },
    )


def schema_rules(result: dict, generator: object, request: object, public: bool) -> dict:
    """What the serializers cannot say about the members API's bodies (a drf-spectacular
    post-processing hook): a batch holds 1 to 1,000 orders, an order 1 to 500 lines; a refund gives
    an amount or lines."""
    schemas = result.get("components", {}).get("schemas", {})
    if "OrderBatch" in schemas:
        from members.api.loyalty import MAX_BATCH

        schemas["OrderBatch"]["properties"]["orders"].update(minItems=1, maxItems=MAX_BATCH)
    if "OrderInput" in schemas:
        from members.api.serializers import MAX_LINES

        schemas["OrderInput"]["properties"]["lines"].update(minItems=1, maxItems=MAX_LINES)
    if "RefundInput" in schemas:
        schemas["RefundInput"]["properties"]["lines"]["minItems"] = 1  # given: not empty
        schemas["RefundInput"]["anyOf"] = [
            {"required": ["amount"], "properties": {"amount": {"type": "string"}}},  # not null
            {"required": ["lines"]},
        ]
    return result
