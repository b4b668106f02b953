"""The operator's rules: tiers, milestones, earning and expiry. A dry run counts, over the real
data, how many members would move up and down; publishing saves a numbered, audited version and
re-evaluates every member under the new ladder."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from members import loyalty
from members.models import Benefit, LoyaltySettings, Member, Milestone, Order, RulesVersion, Tier
from members.selectors.cards import COUNTED
from members.selectors.rules import loyalty_context_clear

TIER_FIELDS = [
    "name_zh",
    "name_en",
    "min_purchases",
    "min_annual_spend",
    "multiplier",
    "rule_text_zh",
    "rule_text_en",
]
MILESTONE_FIELDS = [
    "name_zh",
    "name_en",
    "at_purchase",
    "at_spend",
    "reward",
    "gift_name_zh",
    "gift_name_en",
    "points",
    "is_active",
]
SETTINGS_FIELDS = [
    "points_per_cny",
    "points_per_cny_redeemed",
    "expiry_policy",
    "expiry_days",
    "expiry_notice_days",
    "spend_window_days",
    "grace_days",
    "one_purchase_per_day",
]


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def rules_snapshot() -> dict[str, Any]:
    settings = LoyaltySettings.current()
    return {
        "version": settings.version,
        "settings": {f: _plain(getattr(settings, f)) for f in SETTINGS_FIELDS},
        "tiers": [
            {
                "code": t.code,
                "rank": t.rank,
                **{f: _plain(getattr(t, f)) for f in TIER_FIELDS},
                "discount_percent": _discount(t),
                "perks": _perks(t),
            }
            for t in Tier.objects.prefetch_related("benefits").order_by("rank")
        ],
        "milestones": [
            {"code": m.code, **{f: _plain(getattr(m, f)) for f in MILESTONE_FIELDS}}
            for m in Milestone.objects.order_by("code")
        ],
    }


PERK_KINDS = [
    Benefit.Kind.ADVISOR,
    Benefit.Kind.TRIAL,
    Benefit.Kind.PRIORITY,
    Benefit.Kind.PRICE_PROTECTION,
]


def _perks(tier: Tier) -> list[str]:
    """The tier's benefits other than its discount, by kind (named advisor, trials, ...)."""
    return sorted({b.kind for b in tier.benefits.all() if b.kind in PERK_KINDS})


def _set_perks(tier: Tier, kinds: list[str]) -> None:
    """Give the tier exactly these kinds of benefit: the existing benefit of a kind is shared by
    the tiers that have it; a kind never used before is made with its names in both languages."""
    from django.utils import translation

    for b in [b for b in tier.benefits.all() if b.kind in PERK_KINDS and b.kind not in kinds]:
        tier.benefits.remove(b)
    have = set(_perks(tier))
    for kind in kinds:
        if kind in have or kind not in PERK_KINDS:
            continue
        benefit = Benefit.objects.filter(kind=kind).order_by("pk").first()
        if benefit is None:
            label = Benefit.Kind(kind).label
            with translation.override("zh-hans"):
                zh = str(label)
            with translation.override("en"):
                en = str(label)
            benefit = Benefit.objects.create(code=kind, kind=kind, name_zh=zh, name_en=en)
        tier.benefits.add(benefit)


def _discount(tier: Tier) -> int | None:
    for b in tier.benefits.all():
        if b.kind == Benefit.Kind.DISCOUNT:
            return b.percent
    return None


def _proposed_rule(t: dict[str, Any], current: dict[int, Tier]) -> loyalty.TierRule:
    tier = next((x for x in current.values() if x.code == t["code"]), None)
    spend = t.get("min_annual_spend")
    return loyalty.TierRule(
        id=tier.pk if tier else -t["rank"] - 1,
        code=t["code"],
        rank=t["rank"],
        min_purchases=t.get("min_purchases"),
        min_annual_spend=Decimal(str(spend)) if spend is not None else None,
    )


def rules_dry_run(
    *,
    tiers: list[dict[str, Any]],
    spend_window_days: int,
    one_purchase_per_day: bool = False,
    grace_days: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """What publishing ``tiers`` (dicts with code, rank, min_purchases, min_annual_spend) would
    do to every member, by the engine's own decision (``loyalty.tier_decision`` with the cause
    ``rules``, the grace period included) on each member's standing as ``standing`` computes it,
    set-based: how many move up, move down now (a downgrade already announced and due), enter the
    grace period (announced now, lowered after it) or stay; and how many hold each tier after."""
    now = now or timezone.now()
    current = {t.pk: t for t in Tier.objects.all()}
    ladder = sorted((_proposed_rule(t, current) for t in tiers), key=lambda r: r.rank)
    by_code = {r.code: r for r in ladder}
    since = now - timedelta(days=spend_window_days)
    orders = Order.objects.filter(status__in=COUNTED, placed_at__lte=now)
    count_expr = (
        Count(TruncDate("placed_at"), distinct=True) if one_purchase_per_day else Count("id")
    )
    stats: dict[int, loyalty.Standing] = {}
    for row in (
        orders.values("member_id")
        .annotate(
            n=count_expr,
            spend=Sum("total", filter=Q(placed_at__gt=since)),
            refunded=Sum("refunded_amount", filter=Q(placed_at__gt=since)),
        )
        .iterator()
    ):
        stats[row["member_id"]] = loyalty.Standing(
            purchase_count=row["n"],
            window_spend=(row["spend"] or Decimal("0")) - (row["refunded"] or Decimal("0")),
        )
    nothing = loyalty.Standing(purchase_count=0, window_spend=Decimal("0"))
    up = down = grace = same = 0
    after: dict[str, int] = {r.code: 0 for r in ladder}
    members = Member.objects.filter(erased_at__isnull=True)
    for member_id, tier_id, due in members.values_list(
        "pk", "tier_id", "downgrade_due_at"
    ).iterator():
        held = current.get(tier_id)
        # A member without a tier holds the entry tier (``loyalty.tier_of``).
        rule = by_code.get(held.code) if held is not None else ladder[0]
        decision = loyalty.tier_decision(
            current=rule,
            s=stats.get(member_id, nothing),
            tiers=ladder,
            cause="rules",
            downgrade_due_at=due,
            at=now,
        )
        holds = decision.target if decision.change or rule is None else rule
        after[holds.code] += 1
        if decision.change and (rule is None or decision.target.rank > rule.rank):
            up += 1
        elif decision.change:
            down += 1
        elif decision.start_grace:
            grace += 1
        else:
            same += 1
    names = {t.code: t.name for t in current.values()}  # the tier's name in the reader's language
    for t in tiers:  # or the name about to be published
        if t.get("name_zh") or t.get("name_en"):
            names[t["code"]] = Tier(name_zh=t.get("name_zh", ""), name_en=t.get("name_en", "")).name
    return {
        "up": up,
        "down": down,
        "grace": grace,
        "same": same,
        "grace_days": grace_days
        if grace_days is not None
        else LoyaltySettings.current().grace_days,
        "after": {names[code]: n for code, n in after.items()},
        "members": up + down + grace + same,
    }


@transaction.atomic
def rules_publish(
    *,
    tiers: list[dict[str, Any]],
    milestones: list[dict[str, Any]],
    settings_data: dict[str, Any],
    actor: User | None,
    note: str = "",
    request: HttpRequest | None = None,
) -> RulesVersion:
    """Save new rules as the next version. Members are re-evaluated by ``tiers_reevaluate_all``."""
    before = rules_snapshot()
    settings = LoyaltySettings.objects.select_for_update().get(pk=1)
    for f in SETTINGS_FIELDS:
        if f in settings_data:
            setattr(settings, f, settings_data[f])
    settings.version += 1
    settings.full_clean()
    settings.save()
    for data in tiers:
        tier = Tier.objects.get(code=data["code"])
        for f in TIER_FIELDS:
            if f in data:
                setattr(tier, f, data[f])
        tier.full_clean()
        tier.save()
        if "discount_percent" in data:
            _set_discount(tier, data["discount_percent"])
        if "perks" in data:
            _set_perks(tier, list(data["perks"]))
    for data in milestones:
        code = data["code"]
        milestone = Milestone.objects.filter(code=code).first() or Milestone(code=code)
        for f in MILESTONE_FIELDS:
            if f in data:
                setattr(milestone, f, data[f])
        milestone.full_clean()
        milestone.save()
    after = rules_snapshot()
    version = RulesVersion.objects.create(
        number=settings.version, snapshot=after, note=note[:200], published_by=actor
    )
    audit_record(
        actor=actor,
        action="rules.published",
        target=version,
        before=before,
        after=after,
        request=request,
        target_label=f"v{settings.version}",
    )
    transaction.on_commit(loyalty_context_clear)
    return version


def _set_discount(tier: Tier, percent: int | None) -> None:
    current = [b for b in tier.benefits.all() if b.kind == Benefit.Kind.DISCOUNT]
    for b in current:
        tier.benefits.remove(b)
    if percent:
        benefit, _created = Benefit.objects.get_or_create(
            code=f"{tier.code}_discount_{percent}",
            defaults={
                "kind": Benefit.Kind.DISCOUNT,
                "percent": percent,
                "name_zh": f"{tier.name_zh} 折扣",
                "name_en": f"{tier.name_en} discount",
            },
        )
        tier.benefits.add(benefit)


def tiers_reevaluate_all() -> int:
    """After new rules: every member to the tier the rules give, cause ``rules``: up at once,
    down after the grace period (``loyalty.tier_decision``)."""
    from members.models import TierChange
    from members.selectors.rules import loyalty_context
    from members.services.points import member_lock
    from members.services.tiers import tier_evaluate

    ctx = loyalty_context()
    changed = 0
    for pk in Member.objects.filter(erased_at__isnull=True).values_list("pk", flat=True).iterator():
        with transaction.atomic():
            member = member_lock(pk)
            if tier_evaluate(
                member=member, cause=TierChange.Cause.RULES, tiers=ctx.tiers, settings=ctx.settings
            ):
                changed += 1
    return changed
