"""The member card (what the counter, the portal and the API show), a member's standing, and the
vouchers a member can use now. Reads only: the rules themselves are in ``members.loyalty``."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from members import loyalty
from members.models import GiftGrant, LoyaltySettings, Member, Order, Tier, Voucher
from members.selectors.members import store_code
from members.selectors.rules import loyalty_context, milestone_rule, rules_of, tier_rules_of

COUNTED = [Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED]


def standing(
    member: Member, *, as_of: datetime | None = None, settings: LoyaltySettings | None = None
) -> loyalty.Standing:
    """Purchase count (paid, not fully refunded) and spend in the window ending at ``as_of``."""
    as_of = as_of or timezone.now()
    settings = settings or LoyaltySettings.current()
    orders = Order.objects.filter(member=member, status__in=COUNTED, placed_at__lte=as_of)
    since = as_of - timedelta(days=settings.spend_window_days)
    agg = orders.aggregate(
        n=Count("id"),
        spend=Sum("total", filter=Q(placed_at__gt=since)),
        refunded=Sum("refunded_amount", filter=Q(placed_at__gt=since)),
    )
    count = agg["n"] or 0
    if settings.one_purchase_per_day:
        count = orders.annotate(day=TruncDate("placed_at")).values("day").distinct().count()
    spend = (agg["spend"] or Decimal("0")) - (agg["refunded"] or Decimal("0"))
    return loyalty.Standing(purchase_count=count, window_spend=spend)


def tier_hold(
    member: Member,
    *,
    tiers: list[Tier] | None = None,
    settings: LoyaltySettings | None = None,
    now: datetime | None = None,
) -> loyalty.TierHold:
    """What keeps the member's tier and until when (``loyalty.tier_hold``). One query, for the
    orders in the spend window, and only when the tier depends on spend."""
    return standing_and_tier_hold(
        member, tiers=tiers, settings=settings, now=now, with_standing=False
    )[1]


def standing_and_tier_hold(
    member: Member,
    *,
    tiers: list[Tier] | None = None,
    settings: LoyaltySettings | None = None,
    now: datetime | None = None,
    with_standing: bool = True,
) -> tuple[loyalty.Standing | None, loyalty.TierHold]:
    """The member's ``standing`` now and ``tier_hold``, for a card that shows both: one query
    when the tier depends on spend (the orders of the window, each row carrying the purchase
    count), else the standing's own. ``with_standing=False`` skips the standing (None)."""
    if tiers is None or settings is None:
        ctx = loyalty_context()
        tiers, settings = tiers or ctx.tiers, settings or ctx.settings
    now = now or timezone.now()
    tier = next((t for t in tiers if t.pk == member.tier_id), tiers[0])
    rule = next(r for r in tier_rules_of(tiers) if r.id == tier.pk)
    needs_orders = rule.min_annual_spend is not None and not (
        rule.min_purchases is not None and member.purchase_count >= rule.min_purchases
    )
    current: loyalty.Standing | None = None
    orders: list[tuple[datetime, Decimal]] = []
    if needs_orders:
        since = now - timedelta(days=settings.spend_window_days)
        counted = Order.objects.filter(member=member, status__in=COUNTED, placed_at__lte=now)
        count = counted.order_by().values("member").annotate(n=Count("id")).values("n")
        rows = list(
            counted.filter(placed_at__gt=since)
            .annotate(n=Subquery(count))
            .values_list("placed_at", "total", "refunded_amount", "n")
        )
        orders = [(placed, total - refunded) for placed, total, refunded, _n in rows]
        if with_standing and rows and not settings.one_purchase_per_day:
            # As ``standing``: the count of every counted order, the spend of the window's.
            current = loyalty.Standing(
                purchase_count=rows[0][3], window_spend=sum((a for _p, a in orders), Decimal(0))
            )
    if with_standing and current is None:
        current = standing(member, as_of=now, settings=settings)
    hold = loyalty.tier_hold(
        rule,
        purchase_count=member.purchase_count,
        window_orders=orders,
        at=now,
        rules=rules_of(settings),
        downgrade_due_at=member.downgrade_due_at,
    )
    return current, hold


def purchase_count(member: Member, settings: LoyaltySettings | None = None) -> int:
    """Paid, not fully refunded orders (at most one a day when the setting says so), at any date."""
    settings = settings or LoyaltySettings.current()
    orders = Order.objects.filter(member=member, status__in=COUNTED)
    if settings.one_purchase_per_day:
        return orders.annotate(day=TruncDate("placed_at")).values("day").distinct().count()
    return orders.count()


def counted_days(member: Member) -> set:
    """The local dates of the member's counted orders (for one purchase a day)."""
    return set(
        Order.objects.filter(member=member, status__in=COUNTED)
        .annotate(day=TruncDate("placed_at"))
        .values_list("day", flat=True)
        .distinct()
    )


def lifecycle_stage(member: Member, now: datetime | None = None) -> str:
    """The stage from the cached counters, by the rules of the nightly job (which also scores RFM)."""
    if member.last_purchase_at is None:
        return loyalty.stage_for(0, None)
    today = timezone.localtime(now).date() if now else timezone.localdate()
    last = timezone.localtime(member.last_purchase_at).date()
    return loyalty.stage_for(member.purchase_count, (today - last).days)


def voucher_terms(v: Voucher) -> loyalty.VoucherTerms:
    """A voucher (with its template loaded) as the pure rules read it."""
    t = v.template
    return loyalty.VoucherTerms(
        code=v.code,
        member_id=v.member_id,
        status=v.status,
        kind=t.kind,
        amount=t.amount,
        percent=t.percent,
        min_spend=t.min_spend,
        stackable=t.stackable,
        valid_from=v.valid_from,
        expires_at=v.expires_at,
    )


def usable_voucher_q(now: datetime) -> Q:
    """Available, started and not expired: ``loyalty.voucher_usable`` in SQL."""
    return (
        Q(status=Voucher.Status.AVAILABLE)
        & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        & (Q(valid_from__isnull=True) | Q(valid_from__lte=now))
    )


def usable_vouchers(member: Member, now: datetime | None = None) -> QuerySet[Voucher]:
    """The member's vouchers that can be used now, soonest to expire first."""
    return (
        Voucher.objects.filter(usable_voucher_q(now or timezone.now()), member=member)
        .select_related("template")
        .order_by("expires_at", "issued_at")
    )


def card_ladder(tiers: list[Tier]) -> dict[int, dict]:
    """Each tier's name and benefits as the card shows them, in the current language: computed
    once for a batch of cards instead of once per card."""
    return {
        t.pk: {
            "name": t.name,
            "benefits": [
                {
                    "code": b.code,
                    "name": b.name,
                    "kind": b.kind,
                    **({"percent": b.percent} if b.percent else {}),
                }
                for b in t.benefits.all()
            ],
        }
        for t in tiers
    }


def member_card(
    member: Member,
    *,
    tiers: list[Tier] | None = None,
    current_standing: loyalty.Standing | None = None,
    gifts=None,
    vouchers=None,
    ladder: dict[int, dict] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The member card of API.md. Works on a locked member inside an order's transaction. The
    vouchers are those usable now (``usable_vouchers``) unless the caller passes its own."""
    ctx = loyalty_context() if tiers is None else None
    tiers = ctx.tiers if ctx is not None else tiers
    assert tiers is not None
    tier = next((t for t in tiers if t.pk == member.tier_id), tiers[0])
    s = current_standing or standing(member)
    p = loyalty.progress(tier.rank, s, tier_rules_of(tiers))
    next_tier = None
    if p.next_tier is not None:
        missing: dict[str, Any] = {}
        if p.purchases_missing is not None:
            missing["purchases"] = p.purchases_missing
        if p.spend_missing is not None:
            missing["annual_spend"] = f"{p.spend_missing:.2f}"
        next_model = next(t for t in tiers if t.pk == p.next_tier.id)
        next_name = ladder[next_model.pk]["name"] if ladder else next_model.name
        next_tier = {"code": next_model.code, "name": next_name, "missing": missing}
    ladder = ladder or card_ladder([tier])
    benefits = [dict(b) for b in ladder[tier.pk]["benefits"]]
    if gifts is None:  # the set-based path passes what it already holds
        gifts = GiftGrant.objects.filter(member=member, status=GiftGrant.Status.PENDING).order_by(
            "granted_at"
        )
    if vouchers is None:
        vouchers = usable_vouchers(member, now)
    return {
        "code": member.code,
        "phone": member.phone,
        "name": member.name,
        "store": store_code(member.store_id),
        "tier": {"code": tier.code, "name": ladder[tier.pk]["name"]},
        "points_balance": member.points_balance,
        "points_debt": member.points_debt,
        "purchase_count": member.purchase_count,
        "annual_spend": f"{s.window_spend:.2f}",
        "lifecycle_stage": lifecycle_stage(member),
        "next_tier": next_tier,
        "benefits": benefits,
        "pending_gifts": [
            {"id": g.pk, "name": g.name, "granted_at": g.granted_at.isoformat()} for g in gifts
        ],
        "vouchers": [
            {
                "code": v.code,
                "name": v.template.name,
                "expires_at": v.expires_at.isoformat() if v.expires_at else None,
            }
            for v in vouchers
        ],
        "referral_code": None,
        "joined_at": member.joined_at.isoformat(),
    }


def card_progress_percent(card: dict[str, Any], tiers: list[Tier]) -> int:
    """How far along the way to the next tier the card's member is, 0-100."""
    tier = next((t for t in tiers if t.code == card["tier"]["code"]), tiers[0])
    s = loyalty.Standing(card["purchase_count"], Decimal(card["annual_spend"]))
    return loyalty.progress(tier.rank, s, tier_rules_of(tiers)).percent


def next_gift(member: Member, milestones=None) -> dict[str, Any] | None:
    """The nearest purchase milestone with a gift still ahead: ``{"name", "at", "missing"}``."""
    milestones = milestones if milestones is not None else loyalty_context().milestones
    rule = loyalty.next_gift(member.purchase_count, [milestone_rule(m) for m in milestones])
    if rule is None:
        return None
    m = next(m for m in milestones if m.pk == rule.id)
    return {
        "name": m.gift_name,
        "at": m.at_purchase,
        "missing": (m.at_purchase or 0) - member.purchase_count,
    }
