"""Tiers: a member holds the highest tier any of whose conditions is met. Orders only raise a
tier; refunds re-evaluate at once; the daily job lowers spend-based tiers after a grace period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from members import events
from members.models import LoyaltySettings, Member, Order, Tier, TierChange
from members.services.context import loyalty_context

COUNTED = [Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED]


@dataclass(frozen=True)
class Standing:
    purchase_count: int
    window_spend: Decimal


def standing(
    member: Member, *, as_of: datetime | None = None, settings: LoyaltySettings | None = None
) -> Standing:
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
    return Standing(purchase_count=count, window_spend=spend)


def purchase_count(member: Member, settings: LoyaltySettings | None = None) -> int:
    """Paid, not fully refunded orders (at most one a day when the setting says so), at any date."""
    settings = settings or LoyaltySettings.current()
    orders = Order.objects.filter(member=member, status__in=COUNTED)
    if settings.one_purchase_per_day:
        return orders.annotate(day=TruncDate("placed_at")).values("day").distinct().count()
    return orders.count()


def qualifies(tier: Tier, s: Standing) -> bool:
    if tier.min_purchases is None and tier.min_annual_spend is None:
        return True
    return bool(
        (tier.min_purchases is not None and s.purchase_count >= tier.min_purchases)
        or (tier.min_annual_spend is not None and s.window_spend >= tier.min_annual_spend)
    )


def tier_for(s: Standing, tiers: list[Tier]) -> Tier:
    best = tiers[0]
    for tier in tiers:
        if qualifies(tier, s) and tier.rank > best.rank:
            best = tier
    return best


def _change(
    member: Member, to: Tier, *, cause: str, order: Order | None, at: datetime
) -> TierChange:
    change = TierChange.objects.create(
        member=member, from_tier=member.tier, to_tier=to, cause=cause, order=order, created_at=at
    )
    from_code = member.tier.code if member.tier else None
    member.tier = to
    member.tier_since = at
    member.downgrade_due_at = None
    Member.objects.filter(pk=member.pk).update(tier=to, tier_since=at, downgrade_due_at=None)
    events.send_on_commit(
        events.tier_changed,
        member_id=member.pk,
        from_code=from_code,
        to_code=to.code,
        cause=cause,
        order_id=order.pk if order else None,
    )
    return change


def tier_evaluate(
    *,
    member: Member,
    cause: str,
    order: Order | None = None,
    as_of: datetime | None = None,
    tiers: list[Tier] | None = None,
    settings: LoyaltySettings | None = None,
    current_standing: Standing | None = None,
) -> TierChange | None:
    """Re-evaluate a member whose row the caller has locked. Orders and imports only raise;
    refunds and new rules apply at once in both directions; the daily job uses the grace period."""
    tiers = tiers or loyalty_context().tiers
    settings = settings or LoyaltySettings.current()
    at = as_of or timezone.now()
    target = tier_for(current_standing or standing(member, as_of=at, settings=settings), tiers)
    current = member.tier
    if current is None or target.rank > current.rank:
        return _change(member, target, cause=cause, order=order, at=at)
    if target.rank == current.rank:
        if member.downgrade_due_at is not None:
            member.downgrade_due_at = None
            Member.objects.filter(pk=member.pk).update(downgrade_due_at=None)
        return None
    if cause in (TierChange.Cause.ORDER, TierChange.Cause.IMPORT):
        return None
    if cause == TierChange.Cause.DAILY:
        if member.downgrade_due_at is None:
            due = at + timedelta(days=settings.grace_days)
            member.downgrade_due_at = due
            Member.objects.filter(pk=member.pk).update(downgrade_due_at=due)
            events.send_on_commit(
                events.tier_downgrade_pending,
                member_id=member.pk,
                from_code=current.code,
                to_code=target.code,
                due_at=due,
            )
            return None
        if member.downgrade_due_at > at:
            return None
    return _change(member, target, cause=cause, order=order, at=at)


def tiers_evaluate_daily(*, now: datetime | None = None) -> int:
    """Members above the entry tier whose window may have lapsed, and those already pending."""
    from members.services.points import lock_member

    now = now or timezone.now()
    ctx = loyalty_context()
    tiers, settings = ctx.tiers, ctx.settings
    changed = 0
    candidates = Member.objects.filter(tier__rank__gt=0).values_list("pk", flat=True)
    for pk in candidates.iterator():
        with transaction.atomic():
            member = lock_member(pk)
            if tier_evaluate(
                member=member,
                cause=TierChange.Cause.DAILY,
                as_of=now,
                tiers=tiers,
                settings=settings,
            ):
                changed += 1
    return changed


@dataclass
class Progress:
    next_tier: Tier | None
    purchases_missing: int | None
    spend_missing: Decimal | None


def progress(member: Member, s: Standing, tiers: list[Tier]) -> Progress:
    """What the member still needs for the next tier up: the nearer of its conditions."""
    current_rank = member.tier.rank if member.tier else 0
    for tier in tiers:
        if tier.rank <= current_rank:
            continue
        purchases = (
            max(0, tier.min_purchases - s.purchase_count)
            if tier.min_purchases is not None
            else None
        )
        spend = (
            max(Decimal("0"), tier.min_annual_spend - s.window_spend)
            if tier.min_annual_spend is not None
            else None
        )
        return Progress(next_tier=tier, purchases_missing=purchases, spend_missing=spend)
    return Progress(next_tier=None, purchases_missing=None, spend_missing=None)
