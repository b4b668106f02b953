"""Tiers: a member holds the highest tier any of whose conditions is met. Orders only raise a
tier; refunds re-evaluate at once; the daily job lowers spend-based tiers after a grace period.
The decision is ``loyalty.tier_decision``; this module loads the standing and stores the move."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from members import events, loyalty
from members.models import LoyaltySettings, Member, Order, Tier, TierChange
from members.selectors.cards import standing
from members.selectors.rules import loyalty_context, tier_rule, tier_rules_of


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
    events.event_record(
        events.TIER_CHANGED,
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
    current_standing: loyalty.Standing | None = None,
) -> TierChange | None:
    """Re-evaluate a member whose row the caller has locked (``loyalty.tier_decision``)."""
    tiers = tiers or loyalty_context().tiers
    settings = settings or LoyaltySettings.current()
    at = as_of or timezone.now()
    s = current_standing or standing(member, as_of=at, settings=settings)
    current = member.tier
    rules = tier_rules_of(tiers)
    decision = loyalty.tier_decision(
        current=next((r for r in rules if r.id == current.pk), tier_rule(current))
        if current is not None
        else None,
        s=s,
        tiers=rules,
        cause=cause,
        downgrade_due_at=member.downgrade_due_at,
        at=at,
    )
    if decision.change:
        target = next(t for t in tiers if t.pk == decision.target.id)
        return _change(member, target, cause=cause, order=order, at=at)
    if decision.clear_downgrade:
        member.downgrade_due_at = None
        Member.objects.filter(pk=member.pk).update(downgrade_due_at=None)
    elif decision.start_grace and current is not None:
        due = at + timedelta(days=settings.grace_days)
        member.downgrade_due_at = due
        Member.objects.filter(pk=member.pk).update(downgrade_due_at=due)
        events.event_record(
            events.TIER_DOWNGRADE_PENDING,
            member_id=member.pk,
            from_code=current.code,
            to_code=decision.target.code,
            due_at=due.isoformat(),
        )
    return None


def tiers_evaluate_daily(*, now: datetime | None = None) -> int:
    """Members above the entry tier whose window may have lapsed, and those already pending."""
    from members.services.points import member_lock

    now = now or timezone.now()
    ctx = loyalty_context()
    tiers, settings = ctx.tiers, ctx.settings
    changed = 0
    candidates = Member.objects.filter(tier__rank__gt=0).values_list("pk", flat=True)
    for pk in candidates.iterator():
        with transaction.atomic():
            member = member_lock(pk)
            if tier_evaluate(
                member=member,
                cause=TierChange.Cause.DAILY,
                as_of=now,
                tiers=tiers,
                settings=settings,
            ):
                changed += 1
    return changed
