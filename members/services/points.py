"""The points ledger. Every change appends one entry and moves the cached balance in the same
transaction, with the member row locked first (``select_for_update``); the database refuses
updates and deletes of entries and a negative balance."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Case, F, Q, Sum, When
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from members import events, loyalty
from members.models import (
    LoyaltySettings,
    Member,
    Order,
    PointsEntry,
    PointsExpiryNotice,
    Refund,
    Reward,
)
from members.selectors.rules import rules_of
from scrm.bulk import copy_insert, insert_arrays
from scrm.exceptions import ApplicationError


def member_lock(member: Member | int) -> Member:
    pk = member if isinstance(member, int) else member.pk
    # No join here: under READ COMMITTED, a row re-checked after waiting for the lock keeps the
    # joined rows of the first read, so a join would show a tier the member no longer holds.
    return Member.objects.select_for_update().get(pk=pk)


def points_expiry(earned_at: datetime, settings: LoyaltySettings) -> datetime | None:
    """When points earned at ``earned_at`` expire under the current policy."""
    return loyalty.points_expiry(earned_at, rules_of(settings))


def points_entry_append(
    *,
    member: Member,
    kind: str,
    points: int,
    key: str,
    reason: str = "",
    reason_code: str = "",
    reason_args: dict | None = None,
    order: Order | None = None,
    refund: Refund | None = None,
    reward: Reward | None = None,
    actor: User | None = None,
    expires_at: datetime | None = None,
    at: datetime | None = None,
    save_member: bool = True,
) -> PointsEntry:
    """Append to a member row the caller has locked. Raises if the balance would go negative.
    With ``save_member=False`` the caller saves ``points_balance`` itself, with its other changes."""
    new_balance = member.points_balance + points
    if new_balance > loyalty.POINTS_CEILING:
        raise ApplicationError(
            _("The points balance can't go above %(max)s.")
            % {"max": f"{loyalty.POINTS_CEILING:,}"},
            code="points_limit",
            status_code=409,
        )
    if new_balance < 0:
        raise ApplicationError(
            _("Not enough points: the balance is %(balance)s.")
            % {"balance": member.points_balance},
            code="insufficient_points",
            status_code=409,
            extra={"balance": member.points_balance},
        )
    entry = PointsEntry.objects.create(
        member=member,
        kind=kind,
        points=points,
        balance_after=new_balance,
        reason=reason[:200],
        reason_code=reason_code,
        reason_args=reason_args,
        order=order,
        refund=refund,
        reward=reward,
        actor=actor if actor and actor.pk else None,
        idempotency_key=key,
        expires_at=expires_at,
        created_at=at or timezone.now(),
    )
    member.points_balance = new_balance
    if save_member:
        Member.objects.filter(pk=member.pk).update(points_balance=new_balance)
    return entry


@transaction.atomic
def points_redeem(
    *,
    member: Member,
    points: int,
    key: str,
    reward: Reward | None = None,
    reason: str = "",
    actor: User | None = None,
) -> tuple[PointsEntry, bool]:
    """Spend points once per ``key``. Returns (entry, created); a replay returns the first entry."""
    if points <= 0:
        raise ApplicationError(
            _("Redeem a positive number of points."), fields={"points": [_("Must be at least 1.")]}
        )
    member = member_lock(member)
    entry_key = f"redeem:{member.pk}:{key}"
    existing = PointsEntry.objects.filter(idempotency_key=entry_key).first()
    if existing is not None:
        return existing, False
    if reward is not None:
        _reward_stock_take(reward)
    if reward is not None and points != reward.points_cost:
        raise ApplicationError(
            _("This reward costs %(cost)s points.") % {"cost": reward.points_cost},
            fields={
                "points": [_("This reward costs %(cost)s points.") % {"cost": reward.points_cost}]
            },
        )
    entry = points_entry_append(
        member=member,
        kind=PointsEntry.Kind.REDEEM,
        points=-points,
        key=entry_key,
        reason=reason or (reward.name if reward else _("Redeemed")),
        reason_code="" if reason else ("reward" if reward else "redeemed"),
        reason_args={"name_zh": reward.name_zh, "name_en": reward.name_en}
        if reward and not reason
        else None,
        reward=reward,
        actor=actor,
    )
    if reward is not None:
        _deliver_reward(member=member, reward=reward, entry=entry)
    return entry, True


def _reward_stock_take(reward: Reward) -> None:
    """Take one of the reward's stock, in the redemption's transaction (a redemption refused
    later rolls it back), and refuse a reward not offered now: off, out of its dates, or gone.
    One conditional UPDATE: concurrent redemptions of the last one cannot both get it."""
    now = timezone.now()
    taken = (
        Reward.offered(now)
        .filter(pk=reward.pk)
        .update(stock=Case(When(stock__isnull=True, then=None), default=F("stock") - 1))
    )
    if not taken:
        raise ApplicationError(
            _("This reward is not offered now."), code="reward_unavailable", status_code=409
        )


def _deliver_reward(*, member: Member, reward: Reward, entry: PointsEntry) -> None:
    from members.models import GiftGrant
    from members.services.vouchers import voucher_issue

    if reward.kind == Reward.Kind.VOUCHER and reward.voucher_template is not None:
        voucher_issue(
            template=reward.voucher_template,
            member=member,
            source="reward",
            issue_key=f"reward-entry:{entry.pk}",
        )
    elif reward.kind == Reward.Kind.GIFT:
        gift = GiftGrant.objects.create(
            member=member, name_zh=reward.name_zh, name_en=reward.name_en
        )
        events.event_record(
            events.GIFT_GRANTED, member_id=member.pk, gift_id=gift.pk, milestone_code=None
        )
    # A donation is the redeem entry itself: the operator sums entries by reward.


@transaction.atomic
def points_adjust(
    *,
    member: Member,
    points: int,
    reason: str,
    actor: User | None,
    key: str | None = None,
    request=None,
    kind: str = PointsEntry.Kind.ADJUST,
    expires: bool = True,
    reason_code: str = "",
    reason_args: dict | None = None,
) -> PointsEntry:
    """A manual correction by an operator (audited: ``reason`` is theirs, as written), or an
    opening balance from an import, an erasure (with a ``reason_code`` read in any language)."""
    if points == 0:
        raise ApplicationError(
            _("Adjust by a non-zero number of points."), fields={"points": [_("Must not be 0.")]}
        )
    if not reason.strip():
        raise ApplicationError(
            _("Give a reason."), fields={"reason": [_("This field is required.")]}
        )
    member = member_lock(member)
    key = key or f"adjust:{member.pk}:{timezone.now().isoformat()}"
    existing = PointsEntry.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    now = timezone.now()
    before = member.points_balance
    entry = points_entry_append(
        member=member,
        kind=kind,
        points=points,
        key=key,
        reason=reason,
        reason_code=reason_code,
        reason_args=reason_args,
        actor=actor,
        expires_at=points_expiry(now, LoyaltySettings.current())
        if points > 0 and expires
        else None,
    )
    audit_record(
        actor=actor,
        action="points.adjusted",
        target=member,
        request=request,
        before={"points_balance": before},
        after={"points_balance": member.points_balance, "points": points, "reason": reason},
    )
    return entry


def expirable_now(member_id: int, now: datetime) -> int:
    """Points of lots expired by ``now`` that FIFO spending has not consumed yet.

    Spending (redeem, expire, reverse, negative adjust) consumes the earliest-expiring lots first,
    so what is left of the expired lots is their sum less everything ever debited."""
    agg = PointsEntry.objects.filter(member_id=member_id).aggregate(
        expired_lots=Sum("points", filter=Q(points__gt=0, expires_at__lte=now)),
        debits=Sum("points", filter=Q(points__lt=0)),
    )
    return max(0, (agg["expired_lots"] or 0) + (agg["debits"] or 0))


def points_expire_member(*, member_id: int, now: datetime) -> int:
    with transaction.atomic():
        member = member_lock(member_id)
        amount = min(expirable_now(member.pk, now), member.points_balance)
        if amount <= 0:
            return 0
        points_entry_append(
            member=member,
            kind=PointsEntry.Kind.EXPIRE,
            points=-amount,
            key=f"expire:{member.pk}:{now.isoformat()}",
            reason=_("Points expired"),
            reason_code="expired",
            at=now,
        )
        return amount


EXPIRE_CHUNK = 2000  # members per transaction in the nightly expiry


def _expirable_by_member(now: datetime, member_ids: list[int] | None = None) -> dict[int, int]:
    """``expirable_now`` for many members at once (those with something to expire), in one
    aggregate over the ledger."""
    qs = PointsEntry.objects.all()
    if member_ids is not None:
        qs = qs.filter(member_id__in=member_ids)
    rows = (
        qs.values("member_id")
        .annotate(
            expired_lots=Sum("points", filter=Q(points__gt=0, expires_at__lte=now)),
            debits=Sum("points", filter=Q(points__lt=0)),
        )
        .filter(expired_lots__gt=0)
        .values_list("member_id", "expired_lots", "debits")
    )
    out = {}
    for member_id, expired, debits in rows.iterator(chunk_size=10_000):
        left = (expired or 0) + (debits or 0)
        if left > 0:
            out[member_id] = left
    return out


def points_expire_due(*, now: datetime | None = None) -> int:
    """Nightly: expire what is due, oldest lots first. Set-based: one aggregate finds the members
    with expired points left, then each chunk of them is locked, booked and saved in a few
    statements and committed on its own. Idempotent per member and run time. Returns points."""
    now = now or timezone.now()
    # Expired lots left imply a positive balance (the balance is those plus the unexpired lots).
    candidates = sorted(_expirable_by_member(now))
    total = 0
    for start in range(0, len(candidates), EXPIRE_CHUNK):
        total += _expire_chunk(candidates[start : start + EXPIRE_CHUNK], now)
    return total


@transaction.atomic
def _expire_chunk(member_ids: list[int], now: datetime) -> int:
    members = list(
        Member.objects.select_for_update()
        .filter(pk__in=member_ids, points_balance__gt=0)
        .order_by("pk")
        .only("pk", "points_balance")
    )
    if not members:
        return 0
    # Recomputed under the locks: an order or redemption may have moved since the first look.
    expirable = _expirable_by_member(now, [m.pk for m in members])
    stamp = now.isoformat()
    done = set(
        PointsEntry.objects.filter(
            idempotency_key__in=[f"expire:{m.pk}:{stamp}" for m in members]
        ).values_list("member_id", flat=True)
    )
    reason = _("Points expired")
    entries, changed = [], []
    for m in members:
        amount = min(expirable.get(m.pk, 0), m.points_balance)
        if amount <= 0 or m.pk in done:
            continue
        m.points_balance -= amount
        entries.append(
            PointsEntry(
                member=m,
                kind=PointsEntry.Kind.EXPIRE,
                points=-amount,
                balance_after=m.points_balance,
                reason=reason,
                reason_code="expired",
                idempotency_key=f"expire:{m.pk}:{stamp}",
                created_at=now,
            )
        )
        changed.append(m)
    if changed and connection.vendor == "postgresql":
        copy_insert(PointsEntry, entries, with_pk=False)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE members_member AS m SET points_balance = v.balance"
                " FROM unnest(%s::bigint[], %s::int[]) AS v(id, balance) WHERE m.id = v.id",
                [[m.pk for m in changed], [m.points_balance for m in changed]],
            )
    else:
        PointsEntry.objects.bulk_create(entries, batch_size=1000)
        Member.objects.bulk_update(changed, ["points_balance"], batch_size=1000)
    return -sum(e.points for e in entries)


NOTICE_CHUNK = 2000  # members per transaction of the expiry notices


def points_notify_expiring(*, now: datetime | None = None) -> int:
    """Announce ``points_expiring`` once per member and expiry date, N days ahead. Set-based:
    per expiry date, one aggregate gives every member's points at risk; per chunk, the notices
    are inserted (a notice already sent is skipped by its unique key) with their events, in one
    transaction. Returns the notices sent."""
    now = now or timezone.now()
    settings = LoyaltySettings.current()
    horizon = now + timedelta(days=settings.expiry_notice_days)
    by_date: dict[datetime, list[int]] = {}
    for member_id, expires_at in (
        PointsEntry.objects.filter(
            points__gt=0, expires_at__gt=now, expires_at__lte=horizon, member__points_balance__gt=0
        )
        .values_list("member_id", "expires_at")
        .distinct()
        .iterator()
    ):
        if expires_at is not None:
            by_date.setdefault(expires_at, []).append(member_id)
    sent = 0
    for expires_at, member_ids in sorted(by_date.items()):
        member_ids.sort()
        for start in range(0, len(member_ids), NOTICE_CHUNK):
            chunk = member_ids[start : start + NOTICE_CHUNK]
            at_risk = _expirable_by_member(expires_at, chunk)
            with transaction.atomic():
                fresh = _notices_insert(expires_at, at_risk)
                events.event_record_many(
                    (
                        events.POINTS_EXPIRING,
                        pk,
                        {"points": points, "expires_at": expires_at.isoformat()},
                        None,
                    )
                    for pk, points in fresh
                )
                sent += len(fresh)
    return sent


def _notices_insert(expires_at: datetime, at_risk: dict[int, int]) -> list[tuple[int, int]]:
    """Insert the notices not sent yet; returns (member id, points) of those inserted now."""
    if not at_risk:
        return []
    ids = sorted(at_risk)
    if connection.vendor == "postgresql":
        return insert_arrays(
            PointsExpiryNotice,
            {
                "member_id": ids,
                "expires_at": [expires_at] * len(ids),
                "points": [at_risk[pk] for pk in ids],
                "created_at": [timezone.now()] * len(ids),
            },
            skip_conflicts=True,
            returning=("member_id", "points"),
        )
    sent = set(
        PointsExpiryNotice.objects.filter(member_id__in=ids, expires_at=expires_at).values_list(
            "member_id", flat=True
        )
    )
    fresh = [(pk, at_risk[pk]) for pk in ids if pk not in sent]
    PointsExpiryNotice.objects.bulk_create(
        [PointsExpiryNotice(member_id=pk, expires_at=expires_at, points=p) for pk, p in fresh]
    )
    return fresh


def points_expiring_soon(
    member: Member, *, now: datetime | None = None
) -> tuple[int, datetime | None]:
    """For the portal: the nearest expiry date and how many points expire then."""
    now = now or timezone.now()
    nxt = (
        PointsEntry.objects.filter(member=member, points__gt=0, expires_at__gt=now)
        .order_by("expires_at")
        .values_list("expires_at", flat=True)
        .first()
    )
    if nxt is None:
        return 0, None
    return expirable_now(member.pk, nxt), nxt
