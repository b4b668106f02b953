from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Store

MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2}


# The categories the shipped catalogue and imports use, by the names people read; a category an
# import brings that is not listed here is shown as it was written.
CATEGORY_LABELS = {
    "skincare": _("Skincare"),
    "makeup": _("Makeup"),
    "mother_baby": _("Mother and baby"),
    "bakery": _("Bakery"),
    "pet": _("Pet supplies"),
    "food": _("Food"),
    "fitness": _("Fitness"),
}


def category_label(key: str) -> str:
    label = CATEGORY_LABELS.get(key)
    return str(label) if label is not None else key


class Product(models.Model):
    class Kind(models.TextChoices):
        CONSUMABLE = "consumable", _("Consumable")
        DURABLE = "durable", _("Durable")

    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=64, blank=True, db_index=True)
    cycle_days = models.PositiveIntegerField(
        _("consumption cycle (days)"),
        null=True,
        blank=True,
        help_text=_("How long one unit lasts; used to predict the next purchase."),
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.CONSUMABLE)
    price = models.DecimalField(_("price"), null=True, blank=True, **MONEY)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["category", "sku"]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class Order(models.Model):
    """A paid order. Unique on (source, external_id): an outside system may send it again."""

    class Status(models.TextChoices):
        PAID = "paid", _("Paid")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
        REFUNDED = "refunded", _("Refunded")

    source = models.CharField(_("source"), max_length=32)
    external_id = models.CharField(_("external id"), max_length=100)
    # db_index off: order_member_placed_idx (member, placed_at) serves look-ups by member.
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    placed_at = models.DateTimeField(_("placed at"), db_index=True)
    total = models.DecimalField(_("total"), **MONEY)
    refunded_amount = models.DecimalField(_("refunded"), default=Decimal("0.00"), **MONEY)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PAID
    )
    discounted = models.BooleanField(_("bought with a discount"), default=False)
    tier_code = models.CharField(_("tier at the time"), max_length=32, blank=True)
    points_earned = models.IntegerField(_("points earned"), default=0)
    points_reversed = models.IntegerField(_("points reversed"), default=0)
    request_hash = models.CharField(max_length=64)
    result = models.JSONField(default=dict, help_text="The first response, returned to replays.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-placed_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="order_source_external_id_uniq"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_gte_0"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=models.F("total")),
                name="order_refunded_within_total",
            ),
        ]
        indexes = [models.Index(fields=["member", "placed_at"], name="order_member_placed_idx")]

    def __str__(self) -> str:
        return f"{self.source}/{self.external_id}"

    @property
    def net_amount(self) -> Decimal:
        return self.total - self.refunded_amount


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines")
    quantity = models.PositiveIntegerField(_("quantity"))
    amount = models.DecimalField(_("amount"), **MONEY)
    refunded_quantity = models.PositiveIntegerField(default=0)
    refunded_amount = models.DecimalField(default=Decimal("0.00"), **MONEY)

    class Meta:
        verbose_name = _("order line")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="orderline_amount_gte_0"),
            models.CheckConstraint(
                condition=Q(refunded_quantity__lte=models.F("quantity")),
                name="orderline_refund_qty_within",
            ),
        ]


class Refund(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    source = models.CharField(max_length=32)
    external_id = models.CharField(_("external id"), max_length=100)
    amount = models.DecimalField(_("amount"), **MONEY)
    lines = models.JSONField(default=list, blank=True)
    points_reversed = models.IntegerField(default=0)
    points_debt_added = models.IntegerField(default=0)
    request_hash = models.CharField(max_length=64)
    result = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("refund")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="refund_source_external_id_uniq"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_gt_0"),
        ]
