"""Set-based ingest for batches and imports: the same rules as ``order_ingest``, a few queries per
batch instead of a dozen per order.

Within one transaction it locks every member the batch touches (ordered by id, so two batches
cannot deadlock), finds replays under the lock, inserts orders and lines in bulk, runs the rules in
Python per member in the batch's own order (tier before each order, points with debt repayment,
counters, spend window, tier raises, milestones and gifts), then writes entries, tier changes and
members in bulk. Items this path does not cover (vouchers, a key repeated in the batch, the
one-purchase-a-day setting) go through ``order_ingest`` one by one; if the bulk transaction fails
for any reason, every item does. ``tests/members/test_bulk_orders.py`` checks that both paths give
the same ledgers, tiers, milestones and results.
"""

from __future__ import annotations

import json
import logging
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.phones import InvalidPhone, normalize_phone
from members import events
from members.models import (
    GiftGrant,
    Member,
    Milestone,
    MilestoneReached,
    Order,
    OrderLine,
    PointsEntry,
    TierChange,
    Voucher,
)
from members.services.context import loyalty_context
from members.services.idempotency import mismatch_error
from members.services.lifecycle import lifecycle_refresh
from members.services.members import members_enrol_many
from members.services.orders import (
    CODE_RE,
    OrderIn,
    _product_id,
    milestone_gift,
    milestone_hit,
    order_ingest,
)
from members.services.points import earn_points, points_expiry
from members.services.tiers import COUNTED, Standing, tier_for
from scrm.bulk import copy_rows, rows_to_instances
from scrm.exceptions import ApplicationError, error_body

Result = tuple[int, dict[str, Any]]
logger = logging.getLogger("scrm.orders")
# Tests turn this off to prove the bulk path itself gives the results.
FALL_BACK_ON_ERROR = True

# The row tuples the bulk path builds and COPYs (copy_rows checks they name every column).
ORDER_COLUMNS = [
    "id",
    "source",
    "external_id",
    "member_id",
    "store_id",
    "placed_at",
    "total",
    "refunded_amount",
    "status",
    "discounted",
    "tier_code",
    "points_earned",
    "points_reversed",
    "request_hash",
    "result",
    "created_by_id",
    "created_at",
]
LINE_COLUMNS = [
    "order_id",
    "product_id",
    "quantity",
    "amount",
    "refunded_quantity",
    "refunded_amount",
]
ENTRY_COLUMNS = [
    "member_id",
    "kind",
    "points",
    "balance_after",
    "reason",
    "actor_id",
    "order_id",
    "refund_id",
    "reward_id",
    "idempotency_key",
    "expires_at",
    "created_at",
]


@dataclass
class _MemberState:
    member: Member
    # Counted orders since the batch's window start, sorted by time (for standings by bisection),
    # and how many counted orders came before that start.
    times: list[datetime] = field(default_factory=list)
    nets: list[Decimal] = field(default_factory=list)
    earlier: int = 0
    gifts: list[GiftGrant] = field(default_factory=list)
    vouchers: list[Voucher] = field(default_factory=list)
    reached: set[int] = field(default_factory=set)

    def add(self, at: datetime, net: Decimal) -> None:
        if not self.times or at >= self.times[-1]:
            self.times.append(at)
            self.nets.append(net)
        else:
            i = bisect_right(self.times, at)
            self.times.insert(i, at)
            self.nets.insert(i, net)

    def standing(self, as_of: datetime, since: datetime) -> Standing:
        end = bisect_right(self.times, as_of)
        start = bisect_right(self.times, since, 0, end)
        return Standing(
            purchase_count=self.earlier + end, window_spend=sum(self.nets[start:end], Decimal("0"))
        )


def orders_ingest_many(
    *,
    items: list[tuple[OrderIn, str]],
    actor: User | None = None,
    via: str | None = None,
    defer_lifecycle: set[int] | None = None,
    card: bool = True,
) -> list[Result]:
    """Ingest many orders; one (status, body) per item, in order, as ``order_ingest`` would give.

    With ``defer_lifecycle`` (a set), the lifecycle refresh of the batch's members is left to the
    caller, who gets their ids in the set: an import refreshes each member once at its end.
    With ``card=False`` the stored result of an order the bulk path books holds its id, points and
    events but no member card: an import's orders are answered to no client, and only the import
    itself can replay them (its fingerprint is not an API request's)."""
    results: list[Result | None] = [None] * len(items)
    ctx = loyalty_context()
    seen: set[tuple[str, str]] = set()
    bulk: list[int] = []
    single: list[int] = []
    for i, (data, _hash) in enumerate(items):
        key = (data.source, data.external_id)
        if data.vouchers or key in seen or ctx.settings.one_purchase_per_day:
            single.append(i)
        else:
            bulk.append(i)
        seen.add(key)
    if bulk:
        try:
            with transaction.atomic():
                for i, result in _bulk(
                    items, bulk, actor=actor, via=via, defer_lifecycle=defer_lifecycle, card=card
                ).items():
                    results[i] = result
        except Exception:
            if not FALL_BACK_ON_ERROR:
                raise
            # Any failure (a concurrent writer won a key, say): the one-by-one path decides each item.
            logger.warning("bulk ingest fell back to one by one", exc_info=True)
            single = sorted(set(single) | set(bulk))
    for i in single:
        results[i] = _one(items[i], actor=actor, via=via)
    return [r for r in results if r is not None]


def _one(item: tuple[OrderIn, str], *, actor: User | None, via: str | None) -> Result:
    data, hash_ = item
    try:
        result, created = order_ingest(data=data, hash_=hash_, actor=actor, via=via)
    except ApplicationError as exc:
        return exc.status_code, error_body(exc.code, exc.message, exc.fields, **exc.extra)
    return (201 if created else 200), result


def _error(exc: ApplicationError) -> Result:
    return exc.status_code, error_body(exc.code, exc.message, exc.fields, **exc.extra)


def _resolve_members(
    items: list[tuple[OrderIn, str]], idx: list[int], *, actor: User | None, via: str | None
) -> tuple[dict[int, int], dict[int, Result]]:
    """Member id per item (enrolling unknown phones), or an error result."""
    codes = {items[i][0].member.strip().upper() for i in idx if _is_code(items[i][0].member)}
    by_code = dict(Member.objects.filter(code__any=codes).values_list("code", "pk"))
    phones: dict[int, str] = {}
    errors: dict[int, Result] = {}
    for i in idx:
        ref = items[i][0].member.strip()
        if _is_code(ref):
            continue
        try:
            phones[i] = normalize_phone(ref)
        except InvalidPhone as exc:
            errors[i] = _error(
                ApplicationError(
                    _("Give a member code or a mobile number."), fields={"member": [str(exc)]}
                )
            )
    # Unknown phones are enrolled at once, each as its first order in the batch would enrol it.
    by_phone, _created = members_enrol_many(
        [
            {
                "phone": phones[i],
                "store": items[i][0].store,
                "channel": Member.Channel.STORE if items[i][0].store else Member.Channel.ONLINE,
            }
            for i in sorted(phones)
        ],
        actor=actor,
        via=via,
    )
    member_of: dict[int, int] = {}
    for i in idx:
        if i in errors:
            continue
        data = items[i][0]
        if i in phones:
            member_of[i] = by_phone[phones[i]]
        else:
            code = data.member.strip().upper()
            if code not in by_code:
                msg = _("No member has code %(code)s.") % {"code": data.member.strip()}
                errors[i] = _error(ApplicationError(msg, fields={"member": [msg]}))
            else:
                member_of[i] = by_code[code]
    return member_of, errors


def _is_code(ref: str) -> bool:
    ref = ref.strip()
    return bool(CODE_RE.match(ref.upper())) and not ref.isdigit()


def _bulk(
    items: list[tuple[OrderIn, str]],
    idx: list[int],
    *,
    actor: User | None,
    via: str | None,
    defer_lifecycle: set[int] | None = None,
    card: bool = True,
) -> dict[int, Result]:
    ctx = loyalty_context()
    settings, tiers = ctx.settings, ctx.tiers
    tier_by_pk = {t.pk: t for t in tiers}
    results: dict[int, Result] = {}
    member_of, errors = _resolve_members(items, idx, actor=actor, via=via)
    results.update(errors)

    # Lock every member once, in id order: concurrent batches wait for each other, never deadlock.
    states = {
        m.pk: _MemberState(member=m)
        for m in Member.objects.select_for_update()
        .filter(pk__any=set(member_of.values()))
        .order_by("pk")
    }
    keys = [(items[i][0].source, items[i][0].external_id) for i in member_of]
    existing: dict[tuple[str, str], Order] = {}
    if keys:
        # source = ANY(...) AND external_id = ANY(...) uses the unique index; a long OR would not.
        wanted = set(keys)
        candidates = Order.objects.filter(
            source__any={k[0] for k in keys}, external_id__any={k[1] for k in keys}
        )
        existing = {
            (o.source, o.external_id): o for o in candidates if (o.source, o.external_id) in wanted
        }
    new: list[int] = []
    for i in member_of:
        data, hash_ = items[i]
        prior = existing.get((data.source, data.external_id))
        if prior is None:
            new.append(i)
        elif prior.request_hash != hash_:
            results[i] = _error(mismatch_error())
        else:
            results[i] = (200, prior.result)
    if not new:
        return results

    involved = {member_of[i] for i in new}
    # Only orders inside the spend window of the batch's earliest order are needed one by one;
    # older ones only count. Members with long histories then cost no more than new ones.
    window = timedelta(days=settings.spend_window_days)
    window_start = min(items[i][0].placed_at for i in new) - window
    counted = Order.objects.filter(member_id__any=involved, status__in=COUNTED)
    for member_id, n in (
        counted.filter(placed_at__lte=window_start)
        .values("member_id")
        .annotate(n=Count("id"))
        .values_list("member_id", "n")
    ):
        states[member_id].earlier = n
    for member_id, placed_at, total, refunded in (
        counted.filter(placed_at__gt=window_start)
        .order_by("placed_at")
        .values_list("member_id", "placed_at", "total", "refunded_amount")
    ):
        states[member_id].add(placed_at, total - refunded)
    for gift in GiftGrant.objects.filter(
        member_id__any=involved, status=GiftGrant.Status.PENDING
    ).order_by("granted_at"):
        states[gift.member_id].gifts.append(gift)
    for voucher in Voucher.objects.filter(
        member_id__any=involved, status=Voucher.Status.AVAILABLE
    ).select_related("template"):
        states[voucher.member_id].vouchers.append(voucher)
    if ctx.milestones:
        for member_id, milestone_id in MilestoneReached.objects.filter(
            member_id__any=involved
        ).values_list("member_id", "milestone_id"):
            states[member_id].reached.add(milestone_id)

    postgres = connection.vendor == "postgresql"
    created_by_id = actor.pk if actor and actor.pk else None
    if postgres:
        # Ids drawn up front: each order is written once, with its points and result, by COPY.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('members_order', 'id')) FROM generate_series(1, %s)",
                [len(new)],
            )
            order_ids = [pk for (pk,) in cursor.fetchall()]
    else:
        order_ids = [
            o.pk
            for o in Order.objects.bulk_create(
                [
                    Order(
                        source=items[i][0].source,
                        external_id=items[i][0].external_id,
                        member_id=member_of[i],
                        store=items[i][0].store,
                        placed_at=items[i][0].placed_at,
                        total=items[i][0].total,
                        request_hash=items[i][1],
                        created_by_id=created_by_id,
                    )
                    for i in new
                ]
            )
        ]

    from members.selectors import card_ladder, member_card

    ladder = card_ladder(tiers) if card else {}
    order_reason = _("Order %(order)s")
    debt_reason = _("Points debt from an earlier refund")
    now = timezone.now()

    # Rows as plain tuples (ENTRY_COLUMNS, ORDER_COLUMNS, LINE_COLUMNS): no model instances.
    entries: list[tuple] = []
    order_rows: list[tuple] = []
    changes: list[TierChange] = []
    reached_rows: list[MilestoneReached] = []

    def book(
        state: _MemberState,
        *,
        kind: str,
        points: int,
        key: str,
        reason: str,
        order_id: int,
        at: datetime,
    ) -> tuple[int, int]:
        """earn_with_debt, in memory."""
        if points <= 0:
            return 0, 0
        m = state.member
        m.points_balance += points
        entries.append(
            (
                m.pk,
                kind,
                points,
                m.points_balance,
                reason[:200],
                None,
                order_id,
                None,
                None,
                key,
                points_expiry(at, settings),
                at,
            )
        )
        repaid = min(points, m.points_debt)
        if repaid:
            m.points_balance -= repaid
            entries.append(
                (
                    m.pk,
                    PointsEntry.Kind.REVERSE.value,
                    -repaid,
                    m.points_balance,
                    debt_reason,
                    None,
                    order_id,
                    None,
                    None,
                    f"{key}:debt",
                    None,
                    at,
                )
            )
            m.points_debt -= repaid
        return points, repaid

    for order_id, i in zip(order_ids, new, strict=True):
        data, hash_ = items[i]
        state = states[member_of[i]]
        m = state.member
        if m.tier_id is None:
            m.tier_id = tiers[0].pk
        tier_before = tier_by_pk.get(m.tier_id, tiers[0])
        found: list[dict[str, Any]] = []
        earned, repaid = book(
            state,
            kind=PointsEntry.Kind.EARN.value,
            points=earn_points(data.total, settings, tier_before.multiplier),
            key=f"order:{order_id}:earn",
            reason=order_reason % {"order": data.external_id},
            order_id=order_id,
            at=data.placed_at,
        )
        if earned:
            found.append({"type": "points_earned", "points": earned, "debt_repaid": repaid})
        m.purchase_count += 1
        m.lifetime_spend += data.total
        if m.last_purchase_at is None or data.placed_at > m.last_purchase_at:
            m.last_purchase_at = data.placed_at
        state.add(data.placed_at, data.total)
        as_of = data.placed_at
        s = state.standing(as_of, as_of - window)
        target = tier_for(s, tiers)
        if target.rank > tier_before.rank:
            changes.append(
                TierChange(
                    member=m,
                    from_tier=tier_before,
                    to_tier=target,
                    cause=TierChange.Cause.ORDER,
                    order_id=order_id,
                    created_at=as_of,
                )
            )
            m.tier_id, m.tier_since, m.downgrade_due_at = target.pk, as_of, None
            found.append({"type": "tier_changed", "from": tier_before.code, "to": target.code})
            events.send_on_commit(
                events.tier_changed,
                member_id=m.pk,
                from_code=tier_before.code,
                to_code=target.code,
                cause=TierChange.Cause.ORDER,
                order_id=order_id,
            )
        elif target.rank == tier_before.rank:
            m.downgrade_due_at = None
        for milestone in ctx.milestones:
            if not milestone_hit(milestone, m) or milestone.pk in state.reached:
                continue
            state.reached.add(milestone.pk)
            reached_rows.append(MilestoneReached(member=m, milestone=milestone, order_id=order_id))
            found.append({"type": "milestone_reached", "milestone": milestone.code})
            events.send_on_commit(
                events.milestone_reached,
                member_id=m.pk,
                milestone_code=milestone.code,
                order_id=order_id,
            )
            if milestone.reward == Milestone.Reward.GIFT:
                gift = milestone_gift(member=m, milestone=milestone, order=Order(pk=order_id))
                state.gifts.append(gift)
                found.append({"type": "gift_granted", "gift": gift.pk, "name": gift.name})
            elif milestone.reward == Milestone.Reward.POINTS and milestone.points:
                book(
                    state,
                    kind=PointsEntry.Kind.BONUS.value,
                    points=milestone.points,
                    key=f"milestone:{m.pk}:{milestone.code}",
                    reason=milestone.name,
                    order_id=order_id,
                    at=data.placed_at,
                )
                found.append({"type": "points_bonus", "points": milestone.points})
        result: dict[str, Any] = {"id": order_id, "points_earned": earned}
        if card:
            m.tier = tier_by_pk[m.tier_id]
            result["member"] = member_card(
                m,
                tiers=tiers,
                current_standing=s,
                gifts=list(state.gifts),
                vouchers=state.vouchers,
                ladder=ladder,
            )
        result["events"] = found
        results[i] = (201, result)
        order_rows.append(
            (
                order_id,
                data.source,
                data.external_id,
                m.pk,
                data.store.pk if data.store else None,
                data.placed_at,
                data.total,
                Decimal("0.00"),
                Order.Status.PAID.value,
                False,
                tier_before.code,
                earned,
                0,
                hash_,
                json.dumps(result) if postgres else result,  # COPY takes a jsonb column's text
                created_by_id,
                now,
            )
        )
        events.send_on_commit(
            events.order_ingested, member_id=m.pk, order_id=order_id, events=found
        )

    line_rows = [
        (order_id, _product_id(line), line.quantity, line.amount, 0, Decimal("0.00"))
        for order_id, i in zip(order_ids, new, strict=True)
        for line in items[i][0].lines
    ]
    if postgres:
        # COPY: several times faster than INSERT ... VALUES for thousands of rows, and no SQL to build.
        copy_rows(Order, ORDER_COLUMNS, order_rows)
        copy_rows(OrderLine, LINE_COLUMNS, line_rows)
        copy_rows(PointsEntry, ENTRY_COLUMNS, entries)
    else:
        Order.objects.bulk_update(
            [
                Order(pk=r[0], tier_code=r[10], points_earned=r[11], result=r[14])
                for r in order_rows
            ],
            ["tier_code", "points_earned", "result"],
            batch_size=500,
        )
        OrderLine.objects.bulk_create(rows_to_instances(OrderLine, LINE_COLUMNS, line_rows))
        PointsEntry.objects.bulk_create(rows_to_instances(PointsEntry, ENTRY_COLUMNS, entries))
    TierChange.objects.bulk_create(changes)
    MilestoneReached.objects.bulk_create(reached_rows)
    _save_members([states[pk].member for pk in involved], postgres=postgres)
    if defer_lifecycle is None:
        lifecycle_refresh(member_ids=involved)
    else:
        defer_lifecycle.update(involved)
    return results


MEMBER_FIELDS = [
    "points_balance",
    "points_debt",
    "purchase_count",
    "lifetime_spend",
    "last_purchase_at",
    "tier",
    "tier_since",
    "downgrade_due_at",
]


def _save_members(members: list[Member], *, postgres: bool) -> None:
    """One UPDATE ... FROM unnest(arrays) on PostgreSQL: nine parameters however many members
    (Django's CASE-based bulk_update, or a VALUES list, costs more Python than the batch)."""
    if not postgres:
        Member.objects.bulk_update(members, MEMBER_FIELDS, batch_size=500)
        return
    columns = list(
        zip(
            *[
                (
                    m.pk,
                    m.points_balance,
                    m.points_debt,
                    m.purchase_count,
                    m.lifetime_spend,
                    m.last_purchase_at,
                    m.tier_id,
                    m.tier_since,
                    m.downgrade_due_at,
                )
                for m in members
            ],
            strict=True,
        )
    )
    if not columns:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE members_member AS m SET points_balance = v.pb, points_debt = v.pd,
                   purchase_count = v.pc, lifetime_spend = v.ls, last_purchase_at = v.lp,
                   tier_id = v.tier, tier_since = v.ts, downgrade_due_at = v.dd
                FROM unnest(%s::bigint[], %s::int[], %s::int[], %s::int[], %s::numeric[],
                            %s::timestamptz[], %s::bigint[], %s::timestamptz[], %s::timestamptz[])
                     AS v(id, pb, pd, pc, ls, lp, tier, ts, dd)
                WHERE m.id = v.id""",
            [list(c) for c in columns],
        )
