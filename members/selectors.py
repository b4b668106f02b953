from __future__ import annotations

import re

from django.db.models import Q, QuerySet

from accounts.models import Store, User
from accounts.phones import InvalidPhone, normalize_phone
from accounts.selectors import stores_for_user
from members.models import Member


def members_visible_to(user: User) -> QuerySet[Member]:
    qs = Member.objects.select_related("store", "tier")
    if user.has_perm("accounts.manage_members"):
        return qs
    return qs.filter(store__in=stores_for_user(user))


def member_search(*, qs: QuerySet[Member], q: str) -> tuple[QuerySet[Member], str]:
    """One box for every look-up. Returns the matches and the kind of look-up it was:
    ``phone`` (an exact number), ``last4``, ``code``, ``name`` or ``all``."""
    q = (q or "").strip()
    if not q:
        return qs, "all"
    digits = re.sub(r"[\s\-+]", "", q)
    if digits.isdigit() and len(digits) >= 11:
        try:
            return qs.filter(phone=normalize_phone(q)), "phone"
        except InvalidPhone:
            return qs.none(), "phone"
    if digits.isdigit() and len(digits) == 4:
        return qs.filter(phone_last4=digits), "last4"
    # "8000 王" or "王 8000": the last four digits narrowed by a name.
    m = re.fullmatch(r"(\d{4})\s+(\S.{0,50})|(\S.{0,50}?)\s+(\d{4})", q)
    if m:
        last4, name = (m[1], m[2]) if m[1] else (m[4], m[3])
        return qs.filter(phone_last4=last4, name__icontains=name.strip()), "last4"
    if re.fullmatch(r"[Mm][0-9A-Za-z]{2,11}", q):
        # Codes are stored upper-case: an exact hit uses the unique index; else a prefix, and
        # only then names (a Latin name such as "Mia" looks like a code too).
        exact = qs.filter(code=q.upper())
        if exact.exists():
            return exact, "code"
        prefix = qs.filter(code__startswith=q.upper())
        if prefix.exists():
            return prefix, "code"
        return qs.filter(name__icontains=q), "name"
    return qs.filter(Q(name__icontains=q) | Q(code__iexact=q)), "name"


def member_for_store(*, store: Store, q: str) -> tuple[QuerySet[Member], str]:
    return member_search(qs=Member.objects.select_related("tier").filter(store=store), q=q)


# --- The member card: what the counter, the portal and the API show -------------------------


def lifecycle_stage(member: Member, now=None) -> str:
    """The stage from the cached counters, by the rules of the nightly job (which also scores RFM)."""
    from django.utils import timezone

    from members.services.lifecycle import local_date, stage_for

    if member.last_purchase_at is None:
        return stage_for(0, None)
    today = timezone.localtime(now).date() if now else timezone.localdate()
    return stage_for(member.purchase_count, (today - local_date(member.last_purchase_at)).days)


_store_codes: dict[int, str] = {}


def store_code(store_id: int | None) -> str | None:
    """Store codes by id, cached per process: the card is built on every order."""
    if store_id is None:
        return None
    code = _store_codes.get(store_id)
    if code is None:
        code = Store.objects.filter(pk=store_id).values_list("code", flat=True).first() or ""
        _store_codes[store_id] = code
    return code or None


def card_ladder(tiers) -> dict[int, dict]:
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
    tiers=None,
    current_standing=None,
    gifts=None,
    vouchers=None,
    ladder: dict[int, dict] | None = None,
) -> dict:
    """The member card of API.md. Works on a locked member inside an order's transaction."""
    from members.models import GiftGrant, Voucher
    from members.services.context import loyalty_context
    from members.services.tiers import progress, standing

    tiers = tiers or loyalty_context().tiers
    tier = next((t for t in tiers if t.pk == member.tier_id), tiers[0])
    s = current_standing or standing(member)
    p = progress(member, s, tiers)
    next_tier = None
    if p.next_tier is not None:
        missing: dict = {}
        if p.purchases_missing is not None:
            missing["purchases"] = p.purchases_missing
        if p.spend_missing is not None:
            missing["annual_spend"] = f"{p.spend_missing:.2f}"
        next_name = ladder[p.next_tier.pk]["name"] if ladder else p.next_tier.name
        next_tier = {"code": p.next_tier.code, "name": next_name, "missing": missing}
    ladder = ladder or card_ladder([tier])
    benefits = [dict(b) for b in ladder[tier.pk]["benefits"]]
    if gifts is None:  # the bulk path passes what it already holds
        gifts = GiftGrant.objects.filter(member=member, status=GiftGrant.Status.PENDING).order_by(
            "granted_at"
        )
    if vouchers is None:
        vouchers = Voucher.objects.filter(
            member=member, status=Voucher.Status.AVAILABLE
        ).select_related("template")
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


def usable_vouchers(member: Member) -> QuerySet:
    """The member's vouchers that can be used now, soonest to expire first."""
    from django.utils import timezone

    from members.models import Voucher

    return (
        Voucher.objects.filter(member=member, status=Voucher.Status.AVAILABLE)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .select_related("template")
        .order_by("expires_at", "issued_at")
    )


# --- Segments and the Member 360 ---------------------------------------------------------------


def segment_members(
    *, user: User, definition: dict, for_marketing: bool = False
) -> QuerySet[Member]:
    """The members of a (cleaned) definition the user may see; marketing audiences only hold
    members who may be reached: consent on a channel and no opt-out, at the moment of asking."""
    from members.segments import MARKETABLE, segment_q

    qs = members_visible_to(user).filter(segment_q(definition), erased_at__isnull=True)
    return qs.filter(MARKETABLE) if for_marketing else qs


def segment_counts(*, user: User, definition: dict) -> dict[str, int]:
    """The matching count and, separately, how many of them marketing may reach."""
    from django.db.models import Count
    from django.db.models import Q as Q_

    from members.segments import MARKETABLE, segment_q

    qs = members_visible_to(user).filter(segment_q(definition), erased_at__isnull=True)
    return qs.aggregate(total=Count("pk"), reachable=Count("pk", filter=Q_(MARKETABLE)))
