from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from members.models.loyalty import Bilingual

MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2}


class VoucherTemplate(Bilingual):
    class Kind(models.TextChoices):
        AMOUNT_OFF = "amount_off", _("Amount off")
        PERCENT_OFF = "percent_off", _("Percent off")
        GIFT_ITEM = "gift_item", _("Gift item")
        BUY_N_GET_M = "buy_n_get_m", _("Buy N get M")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    amount = models.DecimalField(_("amount off (CNY)"), null=True, blank=True, **MONEY)
    percent = models.PositiveSmallIntegerField(_("percent off"), null=True, blank=True)
    gift_item = models.CharField(_("gift item"), max_length=100, blank=True)
    buy_n = models.PositiveSmallIntegerField(_("buy"), null=True, blank=True)
    get_m = models.PositiveSmallIntegerField(_("get free"), null=True, blank=True)
    min_spend = models.DecimalField(_("minimum spend (CNY)"), default=0, **MONEY)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    valid_days = models.PositiveIntegerField(_("valid days after issue"), null=True, blank=True)
    per_member_limit = models.PositiveIntegerField(_("per member at most"), null=True, blank=True)
    stackable = models.BooleanField(_("stackable with other vouchers"), default=False)
    terms_zh = models.TextField(_("terms (Chinese)"), blank=True)
    terms_en = models.TextField(_("terms (English)"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("voucher template")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="amount_off", amount__gt=0)
                    | Q(kind="percent_off", percent__gte=1, percent__lte=99)
                    | Q(kind="gift_item") & ~Q(gift_item="")
                    | Q(kind="buy_n_get_m", buy_n__gte=1, get_m__gte=1)
                ),
                name="voucher_template_kind_has_value",
            ),
            models.CheckConstraint(
                condition=Q(min_spend__gte=0), name="voucher_template_min_spend_gte_0"
            ),
        ]

    @property
    def terms(self) -> str:
        """The operator's terms in the reader's language, or the rules in plain words."""
        from django.utils.translation import get_language

        text = self.terms_zh if (get_language() or "").startswith("zh") else self.terms_en
        if text:
            return text
        parts: list[str] = []
        if self.kind == self.Kind.AMOUNT_OFF and self.amount:
            parts.append(str(_("CNY %(n)s off") % {"n": self.amount}))
        elif self.kind == self.Kind.PERCENT_OFF and self.percent:
            parts.append(str(_("%(n)s%% off") % {"n": self.percent}))
        elif self.kind == self.Kind.GIFT_ITEM and self.gift_item:
            parts.append(str(_("Gift: %(item)s") % {"item": self.gift_item}))
        elif self.buy_n and self.get_m:
            parts.append(str(_("Buy %(n)s, get %(m)s free") % {"n": self.buy_n, "m": self.get_m}))
        if self.min_spend:
            parts.append(str(_("on spends from CNY %(n)s") % {"n": self.min_spend}))
        parts.append(
            str(_("can be combined with other vouchers"))
            if self.stackable
            else str(_("one voucher per purchase"))
        )
        return "; ".join(parts)


class Voucher(models.Model):
    class Status(models.TextChoices):
        AVAILABLE = "available", _("Available")
        REDEEMED = "redeemed", pgettext_lazy("voucher", "Redeemed")
        EXPIRED = "expired", _("Expired")
        VOID = "void", _("Void")

    code = models.CharField(_("code"), max_length=20, unique=True)
    template = models.ForeignKey(VoucherTemplate, on_delete=models.PROTECT, related_name="vouchers")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="vouchers")
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.AVAILABLE, db_index=True
    )
    issued_at = models.DateTimeField(default=timezone.now)
    valid_from = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    redeemed_at = models.DateTimeField(null=True, blank=True)
    redeemed_value = models.DecimalField(
        _("taken off the bill"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("What the voucher took off its order's bill (CNY); empty without an order."),
    )
    redeemed_store = models.ForeignKey(
        "accounts.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    redeemed_order = models.ForeignKey(
        "members.Order",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="vouchers_redeemed",
    )
    issue_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    source = models.CharField(
        max_length=40, blank=True, help_text="What issued it: reward, campaign, ..."
    )

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = _("voucher")
        indexes = [models.Index(fields=["member", "status"], name="voucher_member_status_idx")]
