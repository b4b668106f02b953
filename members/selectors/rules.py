"""The rules every order needs (settings, tier ladder, milestones), read once per order.

The ladder and milestones are cached per process and keyed by ``LoyaltySettings.version``, which
every rules change bumps; so each order costs one small query for the rules, not a dozen. Each
comes with its plain form for the pure rules of ``members.loyalty``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from django.conf import settings as django_settings

from members import loyalty
from members.models import Benefit, LoyaltySettings, Milestone, Tier


def rules_of(settings: LoyaltySettings) -> loyalty.Rules:
    return loyalty.Rules(
        points_per_cny=settings.points_per_cny,
        expiry_policy=settings.expiry_policy,
        expiry_days=settings.expiry_days,
        spend_window_days=settings.spend_window_days,
        grace_days=settings.grace_days,
        one_purchase_per_day=settings.one_purchase_per_day,
        time_zone=django_settings.TIME_ZONE,
    )


def tier_discount_percent(tier: Tier | None) -> int:
    """The percent off the tier's discount benefit gives (10 for 9折), or 0."""
    if tier is None:
        return 0
    return max(
        (b.percent or 0 for b in tier.benefits.all() if b.kind == Benefit.Kind.DISCOUNT),
        default=0,
    )


def tier_rule(tier: Tier) -> loyalty.TierRule:
    return loyalty.TierRule(
        id=tier.pk,
        code=tier.code,
        rank=tier.rank,
        min_purchases=tier.min_purchases,
        min_annual_spend=tier.min_annual_spend,
        multiplier=tier.multiplier,
        discount_percent=tier_discount_percent(tier),
    )


def milestone_rule(m: Milestone) -> loyalty.MilestoneRule:
    return loyalty.MilestoneRule(
        id=m.pk,
        code=m.code,
        at_purchase=m.at_purchase,
        at_spend=m.at_spend,
        reward=m.reward,
        points=m.points,
    )


@dataclass(frozen=True)
class LoyaltyContext:
    settings: LoyaltySettings
    tiers: list[Tier]
    milestones: list[Milestone]
    # The same, as plain values for members.loyalty.
    tier_rules: list[loyalty.TierRule] = field(default_factory=list)
    milestone_rules: list[loyalty.MilestoneRule] = field(default_factory=list)

    @property
    def rules(self) -> loyalty.Rules:
        return rules_of(self.settings)

    def tier(self, tier_id: int | None) -> Tier:
        """The cached ladder's own object for a tier id (the entry tier for none)."""
        return next((t for t in self.tiers if t.pk == tier_id), self.tiers[0])

    def milestone(self, milestone_id: int) -> Milestone:
        return next(m for m in self.milestones if m.pk == milestone_id)


_cached: LoyaltyContext | None = None


def tier_rules_of(tiers: list[Tier]) -> list[loyalty.TierRule]:
    """The plain rules of a ladder: the cached context's own when ``tiers`` is the cached ladder
    (a card per order of a batch must not rebuild them), without a query."""
    if (
        _cached is not None
        and len(tiers) == len(_cached.tiers)
        and all(a is b for a, b in zip(tiers, _cached.tiers, strict=True))
    ):
        return _cached.tier_rules
    return [tier_rule(t) for t in tiers]


def loyalty_context() -> LoyaltyContext:
    global _cached
    settings = LoyaltySettings.current()
    if _cached is not None and _cached.settings.version == settings.version:
        return replace(_cached, settings=settings)
    tiers = list(Tier.objects.prefetch_related("benefits").order_by("rank"))
    milestones = list(Milestone.objects.filter(is_active=True))
    _cached = LoyaltyContext(
        settings=settings,
        tiers=tiers,
        milestones=milestones,
        tier_rules=[tier_rule(t) for t in tiers],
        milestone_rules=[milestone_rule(m) for m in milestones],
    )
    return _cached


def loyalty_context_clear() -> None:
    global _cached
    _cached = None
