"""What the counter needs beyond the API's member card: the next gift, the benefits to apply now,
and the price of a basket before it is confirmed (tier discount, vouchers, points)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member, Milestone, Product, Tier, Voucher
from members.services.context import loyalty_context
from members.services.points import earn_points
from members.services.vouchers import voucher_value

CENT = Decimal("0.01")
MAX_LINES = 30
MAX_QUANTITY = 999


def next_gift(member: Member, milestones: list[Milestone] | None = None) -> dict[str, Any] | None:
    """The nearest purchase milestone still ahead: ``{"name", "at", "missing"}``."""
    milestones = milestones if milestones is not None else loyalty_context().milestones
    ahead = [
        m
        for m in milestones
        if m.at_purchase is not None
        and m.at_purchase > member.purchase_count
        and m.reward == Milestone.Reward.GIFT
    ]
    if not ahead:
        return None
    m = min(ahead, key=lambda m: m.at_purchase or 0)
    return {
        "name": m.gift_name,
        "at": m.at_purchase,
        "missing": (m.at_purchase or 0) - member.purchase_count,
    }


def tier_discount(tier: Tier | None) -> int:
    """The percent off the tier's discount benefit gives (10 for 9折), or 0."""
    if tier is None:
        return 0
    return max(
        (b.percent or 0 for b in tier.benefits.all() if b.kind == "discount"),
        default=0,
    )


def progress_percent(card: dict[str, Any], tiers: list[Tier]) -> int:
    """How far along the way to the next tier, 0-100, by the nearer of its conditions."""
    nt = card.get("next_tier")
    if not nt:
        return 100
    target = next((t for t in tiers if t.code == nt["code"]), None)
    best = 0.0
    if target is not None and target.min_purchases:
        best = max(best, min(1.0, card["purchase_count"] / target.min_purchases))
    if target is not None and target.min_annual_spend:
        best = max(best, min(1.0, float(Decimal(card["annual_spend"]) / target.min_annual_spend)))
    return round(best * 100)


@dataclass
class BasketLine:
    product: Product
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(CENT)


@dataclass
class Quote:
    lines: list[BasketLine]
    subtotal: Decimal
    tier_percent: int
    tier_discount: Decimal
    vouchers: list[tuple[Voucher, Decimal]]
    total: Decimal
    points: int
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def voucher_discount(self) -> Decimal:
        return sum((v for _voucher, v in self.vouchers), Decimal("0"))

    def line_amounts(self) -> list[Decimal]:
        """The total spread over the lines in proportion (the last line takes the rounding),
        so the lines sum to the total exactly as an order needs."""
        if not self.lines:
            return []
        out: list[Decimal] = []
        left = self.total
        for line in self.lines[:-1]:
            share = (
                (line.amount * self.total / self.subtotal).quantize(CENT, ROUND_HALF_UP)
                if self.subtotal
                else Decimal("0.00")
            )
            share = min(share, left)
            out.append(share)
            left -= share
        out.append(left)
        return out


def basket_quote(
    *, member: Member, items: list[tuple[str, str, str]], voucher_codes: list[str]
) -> Quote:
    """Price a basket of (sku, quantity, unit price) for a member: the tier discount first, then
    the vouchers on what is left; the points it will earn at the member's current tier."""
    ctx = loyalty_context()
    tier = next((t for t in ctx.tiers if t.pk == member.tier_id), ctx.tiers[0])
    errors: dict[str, list[str]] = {}
    skus = [sku for sku, _q, _p in items if sku]
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    lines: list[BasketLine] = []
    for i, (sku, qty, price) in enumerate(items[:MAX_LINES]):
        product = products.get(sku)
        if product is None:
            errors.setdefault(f"lines[{i}].sku", []).append(_("No product has this SKU."))
            continue
        try:
            quantity = int(qty)
            if not 1 <= quantity <= MAX_QUANTITY:
                raise ValueError
        except (TypeError, ValueError):
            errors.setdefault(f"lines[{i}].quantity", []).append(
                _("Enter a quantity from 1 to %(n)s.") % {"n": MAX_QUANTITY}
            )
            continue
        try:
            unit = Decimal(str(price).strip() or str(product.price or ""))
            if not unit.is_finite() or unit < 0 or unit > Decimal("1000000"):
                raise ValueError
            unit = unit.quantize(CENT)
        except (ArithmeticError, ValueError):
            errors.setdefault(f"lines[{i}].price", []).append(_("Enter the price in CNY."))
            continue
        lines.append(BasketLine(product=product, quantity=quantity, unit_price=unit))
    subtotal = sum((ln.amount for ln in lines), Decimal("0.00"))
    percent = tier_discount(tier)
    discount = (subtotal * percent / 100).quantize(CENT, ROUND_HALF_UP)
    after_tier = subtotal - discount
    chosen: list[tuple[Voucher, Decimal]] = []
    codes = list(dict.fromkeys(c.strip().upper() for c in voucher_codes if c.strip()))
    if codes:
        now = timezone.now()
        found = {
            v.code: v
            for v in Voucher.objects.filter(
                code__in=codes, member=member, status=Voucher.Status.AVAILABLE
            ).select_related("template")
        }
        left = after_tier
        for code in codes:
            v = found.get(code)
            if v is None or (v.expires_at and v.expires_at <= now):
                errors.setdefault("vouchers", []).append(
                    _("Voucher %(code)s can't be used.") % {"code": code}
                )
                continue
            if after_tier < v.template.min_spend:
                errors.setdefault("vouchers", []).append(
                    _("Voucher %(code)s needs a spend of at least CNY %(min)s.")
                    % {"code": code, "min": v.template.min_spend}
                )
                continue
            off = min(voucher_value(v, after_tier), left)
            left -= off
            chosen.append((v, off))
        if len(chosen) > 1 and any(not v.template.stackable for v, _off in chosen):
            errors.setdefault("vouchers", []).append(
                _("A voucher that cannot be combined was chosen with others.")
            )
    total = max(Decimal("0.00"), after_tier - sum((o for _v, o in chosen), Decimal("0")))
    return Quote(
        lines=lines,
        subtotal=subtotal,
        tier_percent=percent,
        tier_discount=discount,
        vouchers=chosen,
        total=total,
        points=earn_points(total, ctx.settings, tier.multiplier),
        errors=errors,
    )
