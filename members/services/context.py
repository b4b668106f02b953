"""The rules every order needs (settings, tier ladder, milestones), read once per order.

The ladder and milestones are cached per process and keyed by ``LoyaltySettings.version``, which
every rules change bumps; so each order costs one small query for the rules, not a dozen."""

from __future__ import annotations

from dataclasses import dataclass, replace

from members.models import LoyaltySettings, Milestone, Tier


@dataclass(frozen=True)
class LoyaltyContext:
    settings: LoyaltySettings
    tiers: list[Tier]
    milestones: list[Milestone]


_cached: LoyaltyContext | None = None


def loyalty_context() -> LoyaltyContext:
    global _cached
    settings = LoyaltySettings.current()
    if _cached is not None and _cached.settings.version == settings.version:
        return replace(_cached, settings=settings)
    _cached = LoyaltyContext(
        settings=settings,
        tiers=list(Tier.objects.prefetch_related("benefits").order_by("rank")),
        milestones=list(Milestone.objects.filter(is_active=True)),
    )
    return _cached


def loyalty_context_clear() -> None:
    global _cached
    _cached = None
