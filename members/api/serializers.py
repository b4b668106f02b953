from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Store
from members.models import Member, PointsEntry, Voucher
from members.services.orders import LineIn, OrderIn, RefundIn

MAX_LINES = 500
MONEY: dict[str, Any] = {
    "max_digits": 12,
    "decimal_places": 2,
    "min_value": Decimal("0.00"),
    "coerce_to_string": True,
}
# What the schema promises, so that a request it calls valid is not refused for its form: a mobile
# number of mainland China as people type it (or another country's in E.164), and an amount of at
# most CNY 10 million (loyalty.MAX_ORDER_TOTAL) with at most two decimals.
PHONE_PATTERN = r"^(\+86 ?)?1[3-9]\d ?\d{4} ?\d{4}$|^\+([1-79]\d|8[0-57-9])\d{5,13}$"
MONEY_PATTERN = r"^(\d{1,7}(\.\d{1,2})?|10000000(\.0{1,2})?)$"


@extend_schema_field({"type": "string", "pattern": PHONE_PATTERN, "example": "13800138000"})
class PhoneField(serializers.CharField):
    """A phone as typed; the services normalise it (accounts.phones) and name what is wrong."""


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": MONEY_PATTERN, "example": "199.00"}
)
class MoneyField(serializers.DecimalField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**MONEY, **kwargs})


@extend_schema_field(
    {
        "type": "object",
        "properties": {c: {"type": "boolean"} for c in Member.CONSENT_CHANNELS},
        "additionalProperties": False,
        "example": {"sms": True, "email": False},
    }
)
class ConsentField(serializers.DictField):
    """``{"sms": true, ...}``: the channels of Member.CONSENT_CHANNELS, each true or false."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.BooleanField(), **kwargs)

    def to_internal_value(self, data: Any) -> dict:
        value = super().to_internal_value(data)
        unknown = sorted(set(value) - set(Member.CONSENT_CHANNELS))
        if unknown:
            raise serializers.ValidationError(
                _("Unknown channel: %(names)s. Use sms, email, wecom or portal.")
                % {"names": ", ".join(unknown)}
            )
        return value


# Text is trimmed before it is checked, so text of spaces alone (any Unicode space) is blank: the
# schema says so with a pattern, so a client that follows the schema is never refused for it.
# A character Python's str.strip() keeps (DRF trims with it): the schema's \S alone lets through
# U+001C–U+001F and U+0085, which Python counts as whitespace and trims to a blank.
NON_BLANK = RegexValidator(r"[^\s\u001c-\u001f\u0085]", _("This field may not be blank."))


class LineInput(serializers.Serializer):
    sku = serializers.CharField(max_length=64, min_length=1, validators=[NON_BLANK])
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    category = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)
    amount = MoneyField()


class OrderInput(serializers.Serializer):
    # DRF pops declared fields off the class, so this shadows Field.source only for type checkers.
    source = serializers.RegexField(  # type: ignore[assignment]
        r"^[a-z0-9_\-]{1,32}$",
        max_length=32,
        error_messages={"invalid": _("Use 1-32 lower-case letters, digits, - or _.")},
    )
    external_id = serializers.CharField(max_length=100, min_length=1, validators=[NON_BLANK])
    member = serializers.CharField(
        max_length=32,
        min_length=1,
        validators=[NON_BLANK],
        help_text="A member code, or a phone (enrols when unknown).",
    )
    store = serializers.CharField(
        max_length=16,
        min_length=1,
        required=False,
        allow_null=True,
        default=None,
        validators=[NON_BLANK],
    )
    placed_at = serializers.DateTimeField()
    total = MoneyField()
    # What the order cost before its vouchers; without it, it is the total plus what the vouchers
    # took off. A voucher's minimum spend is checked against it.
    before_vouchers = MoneyField(required=False, allow_null=True, default=None)
    lines = LineInput(many=True, allow_empty=False)
    vouchers = serializers.ListField(
        child=serializers.CharField(max_length=20, min_length=1),
        required=False,
        default=list,
        max_length=10,
    )

    def validate_store(self, value: str | None) -> Store | None:
        if not value:
            return None
        store = Store.objects.filter(code=value.upper(), is_active=True).first()
        if store is None:
            raise serializers.ValidationError(_("Unknown store."))
        return store

    def validate_lines(self, value: list) -> list:
        if len(value) > MAX_LINES:
            raise serializers.ValidationError(_("At most %(n)s lines.") % {"n": MAX_LINES})
        return value

    def validate(self, attrs):
        total = sum((line["amount"] for line in attrs["lines"]), Decimal("0"))
        if total != attrs["total"]:
            raise serializers.ValidationError(
                {"total": [_("The total must equal the sum of the line amounts.")]}
            )
        return attrs

    def to_order(self, store_scope: Store | None) -> OrderIn:
        d = self.validated_data
        store = d["store"]
        if store_scope is not None:
            if store is not None and store != store_scope:
                from scrm.exceptions import ApplicationError

                raise ApplicationError(
                    _("This key is limited to store %(code)s.") % {"code": store_scope.code},
                    code="permission_denied",
                    status_code=403,
                )
            store = store_scope
        return OrderIn(
            source=d["source"],
            external_id=d["external_id"],
            member=d["member"],
            placed_at=d["placed_at"],
            total=d["total"],
            store=store,
            vouchers=[v.strip().upper() for v in d["vouchers"]],
            before_vouchers=d["before_vouchers"],
            lines=[
                LineIn(
                    sku=ln["sku"],
                    name=ln["name"],
                    category=ln["category"],
                    quantity=ln["quantity"],
                    amount=ln["amount"],
                )
                for ln in d["lines"]
            ],
        )


class RefundLineInput(serializers.Serializer):
    sku = serializers.CharField(max_length=64, min_length=1, validators=[NON_BLANK])
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)
    amount = MoneyField()


class RefundInput(serializers.Serializer):
    external_id = serializers.CharField(max_length=100, min_length=1, validators=[NON_BLANK])
    amount = MoneyField(required=False, allow_null=True, default=None)
    lines = RefundLineInput(many=True, required=False, default=list)

    def validate_lines(self, value: list) -> list:
        if len(value) > MAX_LINES:
            raise serializers.ValidationError(_("At most %(n)s lines.") % {"n": MAX_LINES})
        return value

    def to_refund(self) -> RefundIn:
        d = self.validated_data
        return RefundIn(
            external_id=d["external_id"],
            amount=d["amount"],
            lines=[
                LineIn(sku=ln["sku"], quantity=ln["quantity"], amount=ln["amount"])
                for ln in d["lines"]
            ],
        )


class PointsEntryOutput(serializers.ModelSerializer):
    order: serializers.PrimaryKeyRelatedField = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )
    reason = serializers.CharField(
        source="reason_text", read_only=True, help_text="In the language of Accept-Language."
    )

    class Meta:
        model = PointsEntry
        fields = [
            "id",
            "kind",
            "points",
            "balance_after",
            "reason",
            "order",
            "expires_at",
            "created_at",
        ]


class RedemptionInput(serializers.Serializer):
    points = serializers.IntegerField(min_value=1, max_value=100_000_000)
    reward = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if not attrs["reward"] and not attrs["reason"]:
            raise serializers.ValidationError({"reason": [_("Give a reward code or a reason.")]})
        return attrs


class VoucherTemplateRefOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    stackable = serializers.BooleanField()


class VoucherValueOut(serializers.Serializer):
    amount = serializers.CharField(allow_null=True, help_text="CNY off, a decimal string.")
    percent = serializers.IntegerField(allow_null=True)
    gift_item = serializers.CharField(allow_null=True)
    buy_n = serializers.IntegerField(allow_null=True)
    get_m = serializers.IntegerField(allow_null=True)


class VoucherOutput(serializers.ModelSerializer):
    template = serializers.SerializerMethodField()
    member: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    value = serializers.SerializerMethodField(method_name="voucher_value")
    min_spend = serializers.DecimalField(
        source="template.min_spend", max_digits=12, decimal_places=2, read_only=True
    )
    terms = serializers.SerializerMethodField()

    class Meta:
        model = Voucher
        fields = [
            "code",
            "status",
            "template",
            "value",
            "min_spend",
            "valid_from",
            "expires_at",
            "member",
            "issued_at",
            "redeemed_at",
            "terms",
        ]

    @extend_schema_field(VoucherTemplateRefOut)
    def get_template(self, obj: Voucher) -> dict:
        return {
            "code": obj.template.code,
            "name": obj.template.name,
            "kind": obj.template.kind,
            "stackable": obj.template.stackable,
        }

    @extend_schema_field(VoucherValueOut)
    def voucher_value(self, obj: Voucher) -> dict:
        t = obj.template
        return {
            "amount": f"{t.amount:.2f}" if t.amount is not None else None,
            "percent": t.percent,
            "gift_item": t.gift_item or None,
            "buy_n": t.buy_n,
            "get_m": t.get_m,
        }

    def get_terms(self, obj: Voucher) -> str:
        from django.utils.translation import get_language

        t = obj.template
        return t.terms_zh if (get_language() or "").startswith("zh") else t.terms_en


class VoucherRedeemInput(serializers.Serializer):
    store = serializers.CharField(
        max_length=16,
        min_length=1,
        required=False,
        allow_null=True,
        default=None,
        validators=[NON_BLANK],
    )
    order = serializers.CharField(
        max_length=100, min_length=1, required=False, allow_null=True, default=None
    )
