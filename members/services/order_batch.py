"""Set-based ingest for batches and imports: the same outcome as ``order_ingest`` for every order
(``loyalty.order_outcome``, called per order in the batch's own order), a few queries per batch
instead of a dozen per order.

Within one transaction it locks every member the batch touches (ordered by id, so two batches
cannot deadlock), then the vouchers the batch names (ordered by code), finds replays under the
locks, and per member in memory keeps what the next order needs: counted orders in the spend window
(standings by bisection), counted days (one purchase a day), milestones reached, pending gifts and
usable vouchers. Orders, lines, points entries and events are written with COPY, members with one
UPDATE from arrays. Items this path does not take go through ``order_ingest`` one by one: a key
repeated in the batch, and vouchers on an order for a phone (a failing voucher must not leave the
new member enrolled). If the set-based transaction fails for any reason, every item goes one by one.
``tests/members/test_order_outcome.py`` proves both paths and the counter's quote agree.
"""

from __future__ import annotations

import json
import logging
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.phones import InvalidPhone, normalize_phone
from members import events, loyalty
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
from members.selectors.cards import COUNTED, card_ladder, member_card, usable_voucher_q
from members.selectors.rules import loyalty_context
from members.services.idempotency import mismatch_error
from members.services.lifecycle import lifecycle_refresh
from members.services.members import member_enrol_many
from members.services.orders import (
    ENTRY_COLUMNS,
    OrderIn,
    gift_for_milestone,
    is_member_code,
    ledger_rows,
    log_rows,
    member_state,
    order_ingest,
    order_validate,
    outcome_events,
    points_limit_error,
    product_ids_for,
)
from members.services.vouchers import vouchers_check_for_order, vouchers_taken
from scrm.bulk import copy_rows, rows_to_instances
from scrm.exceptions import ApplicationError, error_body

Result = tuple[int, dict[str, Any]]
logger = logging.getLogger("scrm.orders")

# The row tuples this path builds and COPYs (copy_rows checks they name every column).
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


@dataclass
class _MemberState:
    member: Member
    # Counted orders since the batch's window start, sorted by time (for standings by bisection),
    # and how many counted orders came before that start.
    times: list[datetime] = field(default_factory=list)
    nets: list[Decimal] = field(default_factory=list)
    earlier: int = 0
    # One purchase a day: the local day of every counted order, aligned with ``times`` (which
    # then holds all of them) for standings.
    days: list[date] = field(default_factory=list)
    gifts: list[GiftGrant] = field(default_factory=list)
    vouchers: list[Voucher] = field(default_factory=list)
    reached: set[int] = field(default_factory=set)

    def add(self, at: datetime, net: Decimal, day: date | None = None) -> None:
        i = bisect_right(self.times, at)
        self.times.insert(i, at)
        self.nets.insert(i, net)
        if day is not None:
            self.days.insert(i, day)

    def standing(self, as_of: datetime, window: timedelta, one_a_day: bool) -> loyalty.Standing:
        end = bisect_right(self.times, as_of)
        start = bisect_right(self.times, as_of - window, 0, end)
        count = len(set(self.days[:end])) if one_a_day else self.earlier + end
        return loyalty.Standing(
            purchase_count=count, window_spend=sum(self.nets[start:end], Decimal("0"))
        )


def order_ingest_many(
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
    With ``card=False`` the stored result of an order this path books holds its id, points and
    events but no member card: an import's orders are answered to no client, and only the import
    itself can replay them (its fingerprint is not an API request's)."""
    results: list[Result | None] = [None] * len(items)
    seen: set[tuple[str, str]] = set()
    set_based: list[int] = []
    singly: list[int] = []
    for i, (data, _hash) in enumerate(items):
        try:
            order_validate(data)
        except ApplicationError as exc:
            results[i] = _error(exc)
            continue
        key = (data.source, data.external_id)
        if key in seen or (data.vouchers and not is_member_code(data.member)):
            singly.append(i)
        else:
            set_based.append(i)
        seen.add(key)
    if set_based:
        try:
            with transaction.atomic():
                for i, result in _ingest_set_based(
                    items,
                    set_based,
                    actor=actor,
                    via=via,
                    defer_lifecycle=defer_lifecycle,
                    card=card,
                ).items():
                    results[i] = result
        except Exception:
            # Any failure (a concurrent writer won a key, say): the one-by-one path decides each item.
            logger.warning("set-based ingest fell back to one by one", exc_info=True)
            singly = sorted(set(singly) | set(set_based))
    for i in singly:
        results[i] = _ingest_singly(items[i], actor=actor, via=via)
    return [r for r in results if r is not None]


def _ingest_singly(item: tuple[OrderIn, str], *, actor: User | None, via: str | None) -> Result:
    data, hash_ = item
    try:
        result, created = order_ingest(data=data, hash_=hash_, actor=actor, via=via)
    except ApplicationError as exc:
        return _error(exc)
    return (201 if created else 200), result


def _error(exc: ApplicationError) -> Result:
    return exc.status_code, error_body(exc.code, exc.message, exc.fields, **exc.extra)


def _resolve_members(
    items: list[tuple[OrderIn, str]], idx: list[int], *, actor: User | None, via: str | None
) -> tuple[dict[int, int], dict[int, Result]]:
    """Member id per item (enrolling unknown phones), or an error result."""
    codes = {items[i][0].member.strip().upper() for i in idx if is_member_code(items[i][0].member)}
    by_code = dict(Member.objects.filter(code__any=codes).values_list("code", "pk"))
    phones: dict[int, str] = {}
    errors: dict[int, Result] = {}
    for i in idx:
        ref = items[i][0].member.strip()
        if is_member_code(ref):
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
    by_phone, _created = member_enrol_many(
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


def _load_states(
    involved: set[int],
    states: dict[int, _MemberState],
    *,
    window_start: datetime,
    rules: loyalty.Rules,
    milestones: bool,
) -> None:
    """What each member's next order needs, from the database, into ``states``."""
    counted = Order.objects.filter(member_id__any=involved, status__in=COUNTED)
    if rules.one_purchase_per_day:
        # Every counted order (with its local day): distinct days count, at any date.
        for member_id, placed_at, total, refunded, day in (
            counted.annotate(day=TruncDate("placed_at"))
            .order_by("placed_at")
            .values_list("member_id", "placed_at", "total", "refunded_amount", "day")
        ):
            states[member_id].add(placed_at, total - refunded, day)
    else:
        # Only orders inside the spend window of the batch's earliest order are needed one by one;
        # older ones only count. Members with long histories then cost no more than new ones.
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
    now = timezone.now()
    for voucher in (
        Voucher.objects.filter(usable_voucher_q(now), member_id__any=involved)
        .select_related("template")
        .order_by("expires_at", "issued_at")
    ):
        states[voucher.member_id].vouchers.append(voucher)
    if milestones:
        for member_id, milestone_id in MilestoneReached.objects.filter(
            member_id__any=involved
        ).values_list("member_id", "milestone_id"):
            states[member_id].reached.add(milestone_id)


def _ingest_set_based(
    items: list[tuple[OrderIn, str]],
    idx: list[int],
    *,
    actor: User | None,
    via: str | None,
    defer_lifecycle: set[int] | None = None,
    card: bool = True,
) -> dict[int, Result]:
    ctx = loyalty_context()
    rules, tiers = ctx.rules, ctx.tiers
    results: dict[int, Result] = {}
    member_of, errors = _resolve_members(items, idx, actor=actor, via=via)
    results.update(errors)

    # Lock every member once, in id order, then the vouchers, in code order: concurrent batches
    # (and single orders, which lock their member before its vouchers) wait, never deadlock.
    states = {
        m.pk: _MemberState(member=m)
        for m in Member.objects.select_for_update()
        .filter(pk__any=set(member_of.values()))
        .order_by("pk")
    }
    codes = sorted({c.strip().upper() for i in member_of for c in items[i][0].vouchers})
    vouchers = (
        {
            v.code: v
            for v in Voucher.objects.select_for_update()
            .select_related("template")
            .filter(code__any=codes)
            .order_by("code")
        }
        if codes
        else {}
    )
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
    now = timezone.now()
    for i in member_of:
        data, hash_ = items[i]
        prior = existing.get((data.source, data.external_id))
        if prior is not None:
            results[i] = (
                _error(mismatch_error()) if prior.request_hash != hash_ else (200, prior.result)
            )
            continue
        if data.vouchers:
            wanted_codes = [c.strip().upper() for c in data.vouchers]
            error = vouchers_check_for_order(
                [vouchers.get(c) for c in wanted_codes],
                codes=wanted_codes,
                member_id=member_of[i],
                paid=data.total,
                before_vouchers=data.before_vouchers,
                now=now,
            )
            if error is not None:
                results[i] = _error(error)
                continue
            taken = vouchers_taken(
                [vouchers[c] for c in wanted_codes],
                paid=data.total,
                before_vouchers=data.before_vouchers,
            )
            for c, value in zip(wanted_codes, taken, strict=True):
                vouchers[c].status = Voucher.Status.REDEEMED  # a later order sees it redeemed
                vouchers[c].redeemed_at = now
                vouchers[c].redeemed_value = value
        new.append(i)
    if not new:
        return results

    involved = {member_of[i] for i in new}
    window = timedelta(days=rules.spend_window_days)
    _load_states(
        involved,
        states,
        window_start=min(items[i][0].placed_at for i in new) - window,
        rules=rules,
        milestones=bool(ctx.milestones),
    )

    postgres = connection.vendor == "postgresql"
    created_by_id = actor.pk if actor and actor.pk else None
    order_ids = _order_ids(items, new, member_of, created_by_id=created_by_id, postgres=postgres)
    ladder = card_ladder(tiers) if card else {}
    ids = product_ids_for(line for i in new for line in items[i][0].lines)

    # Rows as plain tuples (ENTRY_COLUMNS, ORDER_COLUMNS, LINE_COLUMNS): no model instances.
    entries: list[tuple] = []
    order_rows: list[tuple] = []
    changes: list[TierChange] = []
    reached_rows: list[MilestoneReached] = []
    log: list[tuple] = []
    redeemed: list[tuple[str, int, int | None]] = []

    for order_id, i in zip(order_ids, new, strict=True):
        data, hash_ = items[i]
        state = states[member_of[i]]
        m = state.member
        if m.tier_id is None:
            m.tier_id = tiers[0].pk
        day = loyalty.local_day(data.placed_at, rules) if rules.one_purchase_per_day else None
        count = loyalty.purchase_count_with(
            m.purchase_count, day=day or date.min, counted_days=state.days, rules=rules
        )
        state.add(data.placed_at, data.total, day)
        s = state.standing(data.placed_at, window, rules.one_purchase_per_day)
        outcome = loyalty.order_outcome(
            member=member_state(m, state.reached),
            order_id=order_id,
            total=data.total,
            placed_at=data.placed_at,
            standing=s,
            purchase_count=count,
            rules=rules,
            tiers=ctx.tier_rules,
            milestones=ctx.milestone_rules,
        )
        if not loyalty.outcome_within_limits(outcome):
            raise points_limit_error()  # the whole batch goes one by one: that order is refused
        entries += ledger_rows(
            outcome,
            member_id=m.pk,
            order_id=order_id,
            external_id=data.external_id,
            at=data.placed_at,
            ctx=ctx,
        )
        m.points_balance, m.points_debt = outcome.points_balance, outcome.points_debt
        m.purchase_count, m.lifetime_spend = outcome.purchase_count, outcome.lifetime_spend
        m.last_purchase_at = outcome.last_purchase_at
        if outcome.tier_raised:
            changes.append(
                TierChange(
                    member=m,
                    from_tier=ctx.tier(outcome.tier_before.id),
                    to_tier=ctx.tier(outcome.tier_after.id),
                    cause=TierChange.Cause.ORDER,
                    order_id=order_id,
                    created_at=data.placed_at,
                )
            )
            m.tier_id, m.tier_since = outcome.tier_after.id, data.placed_at
        if outcome.clear_downgrade:
            m.downgrade_due_at = None
        gifts: dict[str, GiftGrant] = {}
        for rule in outcome.milestones:
            milestone = ctx.milestone(rule.id)
            state.reached.add(rule.id)
            reached_rows.append(MilestoneReached(member=m, milestone=milestone, order_id=order_id))
            if milestone.reward == Milestone.Reward.GIFT:
                # Saved at once (gifts are rare): its id goes into the result and the events.
                gift = gifts[milestone.code] = gift_for_milestone(m.pk, milestone, order_id)
                gift.save()
                state.gifts.append(gift)
        codes_used = [c.strip().upper() for c in data.vouchers]
        redeemed += [(c, order_id, data.store.pk if data.store else None) for c in codes_used]
        state.vouchers = [v for v in state.vouchers if v.code not in codes_used]
        caused = [{"type": "voucher_redeemed", "voucher": c} for c in codes_used]
        caused += outcome_events(outcome, gifts)
        result: dict[str, Any] = {"id": order_id, "points_earned": outcome.points_earned}
        if card:
            m.tier = ctx.tier(m.tier_id)
            result["member"] = member_card(
                m,
                tiers=tiers,
                current_standing=s,
                gifts=list(state.gifts),
                vouchers=state.vouchers,
                ladder=ladder,
            )
        result["events"] = caused
        results[i] = (201, result)
        log += log_rows(
            outcome,
            member_id=m.pk,
            order_id=order_id,
            total=data.total,
            caused=caused,
            vouchers=codes_used,
            gifts=gifts,
            at=data.placed_at,
        )
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
                bool(data.vouchers),
                outcome.tier_before.code,
                outcome.points_earned,
                0,
                hash_,
                json.dumps(result) if postgres else result,  # COPY takes a jsonb column's text
                created_by_id,
                now,
            )
        )

    line_rows = [
        (order_id, ids[line.sku], line.quantity, line.amount, 0, Decimal("0.00"))
        for order_id, i in zip(order_ids, new, strict=True)
        for line in items[i][0].lines
    ]
    if postgres:
        # COPY: several times faster than INSERT ... VALUES for thousands of rows, and no SQL.
        copy_rows(Order, ORDER_COLUMNS, order_rows)
        copy_rows(OrderLine, LINE_COLUMNS, line_rows)
        copy_rows(PointsEntry, ENTRY_COLUMNS, entries)
    else:
        Order.objects.bulk_update(
            [
                Order(pk=r[0], discounted=r[9], tier_code=r[10], points_earned=r[11], result=r[14])
                for r in order_rows
            ],
            ["discounted", "tier_code", "points_earned", "result"],
            batch_size=500,
        )
        OrderLine.objects.bulk_create(rows_to_instances(OrderLine, LINE_COLUMNS, line_rows))
        PointsEntry.objects.bulk_create(rows_to_instances(PointsEntry, ENTRY_COLUMNS, entries))
    for code, order_id, store_id in redeemed:
        Voucher.objects.filter(pk=vouchers[code].pk).update(
            status=Voucher.Status.REDEEMED,
            redeemed_at=now,
            redeemed_store_id=store_id,
            redeemed_order_id=order_id,
            redeemed_value=vouchers[code].redeemed_value,
        )
    TierChange.objects.bulk_create(changes)
    MilestoneReached.objects.bulk_create(reached_rows)
    _save_members([states[pk].member for pk in involved], postgres=postgres)
    events.event_record_many(log)
    if defer_lifecycle is None:
        lifecycle_refresh(member_ids=involved)
    else:
        defer_lifecycle.update(involved)
    return results


def _order_ids(
    items: list[tuple[OrderIn, str]],
    new: list[int],
    member_of: dict[int, int],
    *,
    created_by_id: int | None,
    postgres: bool,
) -> list[int]:
    """Ids for the new orders: drawn up front on PostgreSQL (each order is then written once, with
    its points and result, by COPY); elsewhere the orders are inserted now and completed later."""
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('members_order', 'id'))"
                " FROM generate_series(1, %s)",
                [len(new)],
            )
            return [pk for (pk,) in cursor.fetchall()]
    return [
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
