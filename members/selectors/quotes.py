"""The counter's price of a basket before it is confirmed: the tier discount, each voucher, the
amount to pay and what the order will do (points, tier, gift), by the same rules the booking
applies (``members.loyalty``), so the quote is what gets booked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from members import loyalty
from members.models import Member, Product, Voucher
from members.selectors.cards import counted_days, standing, voucher_terms
from members.selectors.rules import loyalty_context
from scrm.parsing import int_or_none, money_or_none, typed

CENT = Decimal("0.01")
MAX_LINES = 30
MAX_QUANTITY = 999
MAX_UNIT_PRICE = Decimal("1000000")


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
    before_vouchers: Decimal
    vouchers: list[tuple[Voucher, Decimal]]
    total: Decimal
    points: int
    outcome: loyalty.OrderOutcome | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def voucher_discount(self) -> Decimal:
        return sum((v for _voucher, v in self.vouchers), Decimal("0"))

    @property
    def tier_after_code(self) -> str | None:
        """The tier this purchase raises the member to, if it does."""
        if self.outcome is None or not self.outcome.tier_raised:
            return None
        return self.outcome.tier_after.code

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


def voucher_problem_message(problem: str, code: str, min_spend: Decimal | None = None) -> str:
    if problem == "voucher_min_spend":
        return _("Voucher %(code)s needs a spend of at least CNY %(min)s.") % {
            "code": code,
            "min": min_spend,
        }
    if problem == "voucher_not_yet_valid":
        return _("Voucher %(code)s can't be used yet.") % {"code": code}
    return _("Voucher %(code)s can't be used.") % {"code": code}


def _parse_lines(
    items: list[tuple[str, str, str]], errors: dict[str, list[str]]
) -> list[BasketLine]:
    skus = [sku for sku, _q, _p in items if sku]
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    lines: list[BasketLine] = []
    for i, (sku, qty, price) in enumerate(items[:MAX_LINES]):
        product = products.get(sku)
        if product is None:
            errors.setdefault(f"lines[{i}].sku", []).append(_("No product has this SKU."))
            continue
        quantity = int_or_none(qty, minimum=1, maximum=MAX_QUANTITY)  # "３" is 3
        if quantity is None:
            errors.setdefault(f"lines[{i}].quantity", []).append(
                _("Enter a quantity from 1 to %(n)s.") % {"n": MAX_QUANTITY}
            )
            continue
        typed_price = typed(price)
        unit = money_or_none(typed_price, maximum=MAX_UNIT_PRICE) if typed_price else product.price
        if unit is None:
            errors.setdefault(f"lines[{i}].price", []).append(_("Enter the price in CNY."))
            continue
        unit = unit.quantize(CENT)
        lines.append(BasketLine(product=product, quantity=quantity, unit_price=unit))
    return lines


def basket_quote(
    *,
    member: Member,
    items: list[tuple[str, str, str]],
    voucher_codes: list[str],
    now: datetime | None = None,
) -> Quote:
    """Price a basket of (sku, quantity, unit price) for a member: ``loyalty.basket_price`` over
    the member's vouchers, then ``loyalty.order_outcome`` for what booking it now would do."""
    now = now or timezone.now()
    ctx = loyalty_context()
    rules = ctx.rules
    tier = loyalty.tier_of(member.tier_id, ctx.tier_rules)
    errors: dict[str, list[str]] = {}
    lines = _parse_lines(items, errors)
    subtotal = sum((ln.amount for ln in lines), Decimal("0.00"))
    if subtotal > loyalty.MAX_ORDER_TOTAL:
        errors.setdefault("lines", []).append(
            _("A purchase is at most CNY %(max)s.") % {"max": f"{loyalty.MAX_ORDER_TOTAL:,.2f}"}
        )

    codes = list(dict.fromkeys(c.strip().upper() for c in voucher_codes if c.strip()))
    found = {
        v.code: v
        for v in Voucher.objects.filter(code__in=codes, member=member).select_related("template")
    }
    for code in codes:
        if code not in found:
            errors.setdefault("vouchers", []).append(voucher_problem_message("", code))
    chosen = [found[c] for c in codes if c in found]
    price = loyalty.basket_price(
        subtotal=subtotal,
        tier_percent=tier.discount_percent,
        vouchers=[voucher_terms(v) for v in chosen],
        member_id=member.pk,
        now=now,
    )
    for code, problem in price.problems:
        errors.setdefault("vouchers", []).append(
            voucher_problem_message(problem, code, found[code].template.min_spend)
        )
    if price.stacking_refused:
        errors.setdefault("vouchers", []).append(
            _("A voucher that cannot be combined was chosen with others.")
        )
    by_code = {v.code: v for v in chosen}

    # What booking it now would do, from the member's standing with this purchase added.
    today = loyalty.local_day(now, rules)
    days = counted_days(member) if rules.one_purchase_per_day else None
    s = standing(member, as_of=now, settings=ctx.settings)
    adds = 1 if not rules.one_purchase_per_day or today not in (days or set()) else 0
    count_after = loyalty.purchase_count_with(
        member.purchase_count, day=today, counted_days=days, rules=rules
    )
    lifetime_after = member.lifetime_spend + price.total
    reached: frozenset[int] = frozenset()
    if any(loyalty.milestone_hit(m, count_after, lifetime_after) for m in ctx.milestone_rules):
        reached = frozenset(member.milestones.values_list("milestone_id", flat=True))
    outcome = loyalty.order_outcome(
        member=loyalty.MemberState(
            id=member.pk,
            tier_id=member.tier_id,
            points_balance=member.points_balance,
            points_debt=member.points_debt,
            purchase_count=member.purchase_count,
            lifetime_spend=member.lifetime_spend,
            last_purchase_at=member.last_purchase_at,
            downgrade_due_at=member.downgrade_due_at,
            reached=reached,
        ),
        order_id=0,
        total=price.total,
        placed_at=now,
        standing=loyalty.Standing(s.purchase_count + adds, s.window_spend + price.total),
        purchase_count=count_after,
        rules=rules,
        tiers=ctx.tier_rules,
        milestones=ctx.milestone_rules,
    )
    return Quote(
        lines=lines,
        subtotal=subtotal,
        tier_percent=price.tier_percent,
        tier_discount=price.tier_discount,
        before_vouchers=price.before_vouchers,
        vouchers=[(by_code[v.code], off) for v, off in price.discounts],
        total=price.total,
        points=outcome.points_earned,
        outcome=outcome,
        errors=errors,
    )
