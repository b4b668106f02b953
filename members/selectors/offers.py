"""What the console's offers pages read: voucher templates with their counts and cost, rewards
and products by a search (the writes are ``members.services.offers``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from members.models import Product, Reward, Voucher, VoucherTemplate
from scrm.parsing import typed


def templates_with_counts(*, q: str = "", now: datetime | None = None) -> QuerySet[VoucherTemplate]:
    """Templates with how many of their vouchers were issued, redeemed, have expired (the nightly
    job's and those past their end it has not reached yet) and are still available, in the one
    query that lists them. Void vouchers count as issued only."""
    now = now or timezone.now()
    qs = VoucherTemplate.objects.all()
    q = typed(q)
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(name_zh__icontains=q) | Q(name_en__icontains=q))
    past = Q(vouchers__expires_at__lte=now)
    available = Q(vouchers__status=Voucher.Status.AVAILABLE)
    return qs.annotate(
        issued=Count("vouchers"),
        redeemed=Count("vouchers", filter=Q(vouchers__status=Voucher.Status.REDEEMED)),
        expired=Count(
            "vouchers",
            filter=Q(vouchers__status=Voucher.Status.EXPIRED) | (available & past),
        ),
        available=Count("vouchers", filter=available & ~past),
        taken=Sum("vouchers__redeemed_value", filter=Q(vouchers__status=Voucher.Status.REDEEMED)),
        taken_unknown=Count(
            "vouchers",
            filter=Q(vouchers__status=Voucher.Status.REDEEMED, vouchers__redeemed_value=None),
        ),
    ).order_by("-is_active", "-created_at", "-id")


def template_cost(template: VoucherTemplate) -> Decimal | None:
    """What the template's redeemed vouchers took off bills: each voucher records it when an
    order redeems it (``Voucher.redeemed_value``). A voucher redeemed without an order (at the
    counter, by hand) took nothing known; an amount-off one is counted at its amount. None ("—")
    when nothing is known; gift and buy-N vouchers take nothing off the bill (0)."""
    known = getattr(template, "taken", None)
    unknown = getattr(template, "taken_unknown", 0)
    if template.kind == VoucherTemplate.Kind.AMOUNT_OFF and template.amount is not None:
        return (known or Decimal("0")) + template.amount * unknown
    if template.kind in (VoucherTemplate.Kind.GIFT_ITEM, VoucherTemplate.Kind.BUY_N_GET_M):
        return Decimal("0")
    return known if not unknown else None


def reward_search(q: str = "") -> QuerySet[Reward]:
    """Rewards by code or name (a part of either), offered ones first, cheapest first."""
    qs = Reward.objects.select_related("voucher_template").order_by("-is_active", "points_cost")
    q = typed(q)
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(name_zh__icontains=q) | Q(name_en__icontains=q))
    return qs


def product_search(q: str = "") -> QuerySet[Product]:
    """Products by SKU or name (a part of either)."""
    qs = Product.objects.all()
    q = typed(q)
    if q:
        qs = qs.filter(Q(sku__icontains=q) | Q(name__icontains=q))
    return qs.order_by("sku")
