"""Orders and refunds: the one path by which purchases reach points, tiers and milestones.

Every order and refund locks the member row first, then does all its work in one transaction:
order and lines, vouchers, points, purchase count and spend, tier, milestones, gifts, and the
events of the log. What the order does is ``loyalty.order_outcome`` (the same function the counter's
quote and the set-based path call); this module loads its inputs and stores its outputs. An order
is unique on (source, external_id): a replay returns the first result and changes nothing; the same
key with a different body is ``409 idempotency_mismatch``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Store, User
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
    Product,
    Refund,
    TierChange,
)
from members.selectors.cards import member_card, purchase_count, standing
from members.selectors.quotes import Quote
from members.selectors.rules import LoyaltyContext, loyalty_context
from members.services.idempotency import mismatch_error, request_hash
from members.services.lifecycle import lifecycle_refresh
from members.services.members import member_enrol
from members.services.points import member_lock, points_entry_append
from members.services.tiers import tier_evaluate
from members.services.vouchers import vouchers_redeem_for_order
from scrm.bulk import rows_to_instances
from scrm.exceptions import ApplicationError

CODE_RE = re.compile(r"^M[0-9A-Z]{4,11}$")


@dataclass
class LineIn:
    sku: str
    quantity: int
    amount: Decimal
    name: str = ""
    category: str = ""


@dataclass
class OrderIn:
    source: str
    external_id: str
    member: str
    placed_at: datetime
    total: Decimal
    lines: list[LineIn]
    store: Store | None = None
    vouchers: list[str] = field(default_factory=list)
    # What the order cost before its vouchers (the counter sends it; a POS may). Vouchers' minimum
    # spend is checked against it; without it, it is worked out from the total and the vouchers.
    before_vouchers: Decimal | None = None


def is_member_code(ref: str) -> bool:
    ref = ref.strip()
    return bool(CODE_RE.match(ref.upper())) and not ref.isdigit()


def _member_for(
    ref: str, *, store: Store | None, source: str, actor: User | None, via: str | None
) -> Member:
    ref = ref.strip()
    if is_member_code(ref):
        # Found and locked in one query; the caller is inside the order's transaction.
        member = Member.objects.select_for_update().filter(code=ref.upper()).first()
        if member is None:
            raise ApplicationError(
                _("No member has code %(code)s.") % {"code": ref},
                fields={"member": [_("No member has code %(code)s.") % {"code": ref}]},
            )
        return member
    try:
        normalize_phone(ref)
    except InvalidPhone as exc:
        raise ApplicationError(
            _("Give a member code or a mobile number."), fields={"member": [str(exc)]}
        ) from exc
    channel = Member.Channel.STORE if store else Member.Channel.ONLINE
    member, _created = member_enrol(phone=ref, store=store, channel=channel, actor=actor, via=via)
    return member_lock(member)


# SKU -> product id of committed products only: an id is added when the transaction that found or
# made it commits, so a rolled-back product never lingers here.
_product_ids: dict[str, int] = {}


def product_ids_for(lines: Iterable[LineIn]) -> dict[str, int]:
    """The product id of each line's SKU; a SKU not in the catalogue is added with the line's name
    and category (concurrent first uses of one SKU make one product)."""
    first: dict[str, LineIn] = {}
    for line in lines:
        first.setdefault(line.sku, line)
    ids = {sku: _product_ids[sku] for sku in first if sku in _product_ids}
    missing = [sku for sku in first if sku not in ids]
    if not missing:
        return ids
    looked_up = dict(Product.objects.filter(sku__in=missing).values_list("sku", "pk"))
    new = [sku for sku in missing if sku not in looked_up]
    if new:
        Product.objects.bulk_create(
            [
                Product(sku=sku, name=first[sku].name or sku, category=first[sku].category)
                for sku in new
            ],
            ignore_conflicts=True,
        )
        looked_up.update(Product.objects.filter(sku__in=new).values_list("sku", "pk"))
    transaction.on_commit(lambda: _product_ids.update(looked_up))
    return ids | looked_up


def order_validate(data: OrderIn, *, now: datetime | None = None) -> None:
    fields: dict[str, list[str]] = {}
    too_much = _("At most CNY %(max)s.") % {"max": f"{loyalty.MAX_ORDER_TOTAL:,.2f}"}
    if not data.lines:
        fields["lines"] = [_("An order needs at least one line.")]
    elif sum((line.amount for line in data.lines), Decimal("0")) != data.total:
        fields["total"] = [_("The total must equal the sum of the line amounts.")]
    for i, line in enumerate(data.lines):
        if line.amount > loyalty.MAX_ORDER_TOTAL:
            fields[f"lines[{i}].amount"] = [too_much]
    if data.total < 0:
        fields["total"] = [_("Must not be negative.")]
    elif data.total > loyalty.MAX_ORDER_TOTAL:
        fields["total"] = [too_much]
    now = now or timezone.now()
    if not (
        datetime(loyalty.EARLIEST_ORDER_YEAR, 1, 1, tzinfo=UTC)
        <= data.placed_at
        <= now + timedelta(days=1)
    ):
        fields["placed_at"] = [
            _("Give a time from %(year)s up to now.") % {"year": loyalty.EARLIEST_ORDER_YEAR}
        ]
    if len(set(v.strip().upper() for v in data.vouchers)) != len(data.vouchers):
        fields["vouchers"] = [_("A voucher is listed twice.")]
    if data.before_vouchers is not None and data.before_vouchers < data.total:
        fields["before_vouchers"] = [_("Must not be less than the total.")]
    if fields:
        raise ApplicationError(_("Some fields are not valid."), fields=fields)


def points_limit_error() -> ApplicationError:
    return ApplicationError(
        _("This order would take the member's points past what a balance may hold."),
        code="points_limit",
        status_code=409,
    )


def _replay(order: Order, hash_: str) -> dict[str, Any]:
    if order.request_hash != hash_:
        raise mismatch_error()
    return order.result


def order_ingest(
    *,
    data: OrderIn,
    hash_: str,
    actor: User | None = None,
    via: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Ingest one paid order. Returns (result, created)."""
    order_validate(data)
    try:
        with transaction.atomic():
            # Inside the transaction: an order that fails leaves no member enrolled behind it.
            member = _member_for(
                data.member, store=data.store, source=data.source, actor=actor, via=via
            )
            return _ingest_locked(data=data, hash_=hash_, member=member, actor=actor)
    except IntegrityError:
        # A concurrent attempt for another member ref with the same key won the unique constraint.
        existing = Order.objects.filter(source=data.source, external_id=data.external_id).first()
        if existing is None:
            raise
        return _replay(existing, hash_), False


def member_state(member: Member, reached: Iterable[int] = ()) -> loyalty.MemberState:
    return loyalty.MemberState(
        id=member.pk,
        tier_id=member.tier_id,
        points_balance=member.points_balance,
        points_debt=member.points_debt,
        purchase_count=member.purchase_count,
        lifetime_spend=member.lifetime_spend,
        last_purchase_at=member.last_purchase_at,
        downgrade_due_at=member.downgrade_due_at,
        reached=frozenset(reached),
    )


def ledger_reason(
    line: loyalty.LedgerLine, *, external_id: str, ctx: LoyaltyContext
) -> tuple[str, str, dict]:
    """Why an outcome's entry moves points: the text in the writer's language, and the code and
    arguments it is read by in the reader's (``PointsEntry.reason_text``)."""
    if line.cause == "debt":
        return _("Points debt from an earlier refund"), "debt", {}
    if line.cause == "milestone":
        m = next((m for m in ctx.milestones if m.code == line.milestone_code), None)
        if m is None:
            return "", "", {}
        return m.name, "milestone", {"name_zh": m.name_zh, "name_en": m.name_en}
    return _("Order %(order)s") % {"order": external_id}, "order", {"order": external_id}


# The columns of a points entry as the set-based path COPYs them (copy_rows checks every column).
ENTRY_COLUMNS = [
    "member_id",
    "kind",
    "points",
    "balance_after",
    "reason",
    "reason_code",
    "reason_args",
    "actor_id",
    "order_id",
    "refund_id",
    "reward_id",
    "idempotency_key",
    "expires_at",
    "created_at",
]


def ledger_rows(
    outcome: loyalty.OrderOutcome,
    *,
    member_id: int,
    order_id: int,
    external_id: str,
    at: datetime,
    ctx: LoyaltyContext,
) -> list[tuple]:
    """The points entries of an outcome as ENTRY_COLUMNS tuples (both ingest paths write these;
    the reason's arguments as JSON text, as COPY takes a JSON column)."""
    rows = []
    for line in outcome.ledger:
        text, code, args = ledger_reason(line, external_id=external_id, ctx=ctx)
        rows.append(
            (
                member_id,
                line.kind,
                line.points,
                line.balance_after,
                text[:200],
                code,
                json.dumps(args, ensure_ascii=False) if args else None,
                None,
                order_id,
                None,
                None,
                line.key,
                line.expires_at,
                at,
            )
        )
    return rows


def outcome_events(
    outcome: loyalty.OrderOutcome, gifts: dict[str, GiftGrant]
) -> list[dict[str, Any]]:
    """The outcome's events with each gift's id and name, as the API reports them."""
    caused = []
    for e in outcome.events:
        if e["type"] == "gift_granted":
            gift = gifts[e["milestone"]]
            caused.append({"type": "gift_granted", "gift": gift.pk, "name": gift.name})
        else:
            caused.append(dict(e))
    return caused


def log_rows(
    outcome: loyalty.OrderOutcome,
    *,
    member_id: int,
    order_id: int,
    total: Decimal,
    caused: list[dict[str, Any]],
    vouchers: Sequence[str],
    gifts: dict[str, GiftGrant],
    at: datetime,
) -> list[tuple]:
    """The order's events for the log, in the order they happened: the order, its vouchers,
    a tier raised, each milestone reached and its gift."""
    rows: list[tuple] = [
        (
            events.ORDER_INGESTED,
            member_id,
            {"order_id": order_id, "total": str(total), "events": caused},
            at,
        )
    ]
    rows += [
        (events.VOUCHER_REDEEMED, member_id, {"voucher_code": c, "order_id": order_id}, at)
        for c in vouchers
    ]
    if outcome.tier_raised:
        rows.append(
            (
                events.TIER_CHANGED,
                member_id,
                {
                    "from_code": outcome.tier_before.code,
                    "to_code": outcome.tier_after.code,
                    "cause": TierChange.Cause.ORDER.value,
                    "order_id": order_id,
                },
                at,
            )
        )
    for milestone in outcome.milestones:
        rows.append(
            (
                events.MILESTONE_REACHED,
                member_id,
                {"milestone_code": milestone.code, "order_id": order_id},
                at,
            )
        )
        if milestone.code in gifts:
            rows.append(
                (
                    events.GIFT_GRANTED,
                    member_id,
                    {"gift_id": gifts[milestone.code].pk, "milestone_code": milestone.code},
                    at,
                )
            )
    return rows


def gift_for_milestone(member_id: int, milestone: Milestone, order_id: int) -> GiftGrant:
    """The gift a milestone grants (not saved); it waits until a clerk hands it over."""
    return GiftGrant(
        member_id=member_id,
        milestone=milestone,
        order_id=order_id,
        name_zh=milestone.gift_name_zh or milestone.name_zh,
        name_en=milestone.gift_name_en or milestone.name_en,
    )


def _ingest_locked(
    *, data: OrderIn, hash_: str, member: Member, actor: User | None
) -> tuple[dict[str, Any], bool]:
    """``member`` is locked. Replays are found here, under the lock, so of concurrent first
    attempts exactly one books the order."""
    existing = Order.objects.filter(source=data.source, external_id=data.external_id).first()
    if existing is not None:
        return _replay(existing, hash_), False
    ctx = loyalty_context()
    settings, tiers, rules = ctx.settings, ctx.tiers, ctx.rules
    if member.tier_id is None:
        member.tier = tiers[0]
        Member.objects.filter(pk=member.pk).update(tier=tiers[0])
    # The cached ladder's own objects: no query, and benefits already loaded.
    tier_before = ctx.tier(member.tier_id)
    member.tier = tier_before
    order = Order.objects.create(
        source=data.source,
        external_id=data.external_id,
        member=member,
        store=data.store,
        placed_at=data.placed_at,
        total=data.total,
        tier_code=tier_before.code,
        discounted=bool(data.vouchers),
        request_hash=hash_,
        created_by=actor if actor and actor.pk else None,
    )
    ids = product_ids_for(data.lines)
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order, product_id=ids[line.sku], quantity=line.quantity, amount=line.amount
            )
            for line in data.lines
        ]
    )
    redeemed = []
    if data.vouchers:
        redeemed = vouchers_redeem_for_order(
            codes=data.vouchers,
            member=member,
            order=order,
            paid=data.total,
            before_vouchers=data.before_vouchers,
            store=data.store,
        )

    # The standing as of the order's own time, the order included: history imported in order
    # gets the tiers it had.
    s = standing(member, as_of=data.placed_at, settings=settings)
    count = (
        purchase_count(member, settings)
        if rules.one_purchase_per_day
        else member.purchase_count + 1
    )
    reached: set[int] = set()
    if any(
        loyalty.milestone_hit(m, count, member.lifetime_spend + data.total)
        for m in ctx.milestone_rules
    ):
        reached = set(
            MilestoneReached.objects.filter(member=member).values_list("milestone_id", flat=True)
        )
    outcome = loyalty.order_outcome(
        member=member_state(member, reached),
        order_id=order.pk,
        total=data.total,
        placed_at=data.placed_at,
        standing=s,
        purchase_count=count,
        rules=rules,
        tiers=ctx.tier_rules,
        milestones=ctx.milestone_rules,
    )
    if not loyalty.outcome_within_limits(outcome):
        raise points_limit_error()
    PointsEntry.objects.bulk_create(
        rows_to_instances(
            PointsEntry,
            ENTRY_COLUMNS,
            ledger_rows(
                outcome,
                member_id=member.pk,
                order_id=order.pk,
                external_id=data.external_id,
                at=data.placed_at,
                ctx=ctx,
            ),
        )
    )
    member.points_balance = outcome.points_balance
    member.points_debt = outcome.points_debt
    member.purchase_count = outcome.purchase_count
    member.lifetime_spend = outcome.lifetime_spend
    member.last_purchase_at = outcome.last_purchase_at
    fields = [
        "points_balance",
        "points_debt",
        "purchase_count",
        "lifetime_spend",
        "last_purchase_at",
    ]
    if outcome.tier_raised:
        to = ctx.tier(outcome.tier_after.id)
        TierChange.objects.create(
            member=member,
            from_tier=tier_before,
            to_tier=to,
            cause=TierChange.Cause.ORDER,
            order=order,
            created_at=data.placed_at,
        )
        member.tier, member.tier_since = to, data.placed_at
        fields += ["tier", "tier_since"]
    if outcome.clear_downgrade and member.downgrade_due_at is not None:
        member.downgrade_due_at = None
        fields.append("downgrade_due_at")
    member.save(update_fields=fields)

    gifts: dict[str, GiftGrant] = {}
    for rule in outcome.milestones:
        milestone = ctx.milestone(rule.id)
        MilestoneReached.objects.create(member=member, milestone=milestone, order=order)
        if milestone.reward == Milestone.Reward.GIFT:
            gift = gift_for_milestone(member.pk, milestone, order.pk)
            gift.save()
            gifts[milestone.code] = gift
    caused = [{"type": "voucher_redeemed", "voucher": v.code} for v in redeemed]
    caused += outcome_events(outcome, gifts)
    events.event_record_many(
        log_rows(
            outcome,
            member_id=member.pk,
            order_id=order.pk,
            total=data.total,
            caused=caused,
            vouchers=[v.code for v in redeemed],
            gifts=gifts,
            at=data.placed_at,
        )
    )
    result = {
        "id": order.pk,
        "points_earned": outcome.points_earned,
        "member": member_card(member, tiers=tiers, current_standing=s),
        "events": caused,
    }
    order.points_earned = outcome.points_earned
    order.result = result
    order.save(update_fields=["points_earned", "result"])
    lifecycle_refresh(member_ids=[member.pk])
    return result, True


def order_from_quote(
    *, quote: Quote, member: Member, store: Store, token: str, placed_at: datetime
) -> tuple[OrderIn, str]:
    """The order a confirmed counter quote books, and its fingerprint: the quote's total spread
    over its lines, its vouchers, and what it cost before them (so a "CNY 50 off 300" voucher
    on a CNY 300 basket is checked on 300, not on the 250 paid). The form's token is the external
    id, so a double tap books one order."""
    data = OrderIn(
        source="counter",
        external_id=token[:40],
        member=member.code,
        placed_at=placed_at,
        total=quote.total,
        store=store,
        vouchers=[v.code for v, _off in quote.vouchers],
        before_vouchers=quote.before_vouchers,
        lines=[
            LineIn(sku=ln.product.sku, quantity=ln.quantity, amount=amount)
            for ln, amount in zip(quote.lines, quote.line_amounts(), strict=True)
        ],
    )
    fingerprint = {
        "member": member.code,
        "total": str(quote.total),
        "lines": [(ln.sku, ln.quantity, str(ln.amount)) for ln in data.lines],
        "vouchers": data.vouchers,
    }
    return data, request_hash(fingerprint)


# --- Refunds ----------------------------------------------------------------------------------


@dataclass
class RefundIn:
    external_id: str
    amount: Decimal | None
    lines: list[LineIn] = field(default_factory=list)


def order_refund(
    *, order: Order, data: RefundIn, hash_: str, actor: User | None = None
) -> tuple[dict[str, Any], bool]:
    """Refund all or part of an order, by amount or by lines. Reverses points in proportion (the
    rest becomes points debt when already spent) and re-evaluates count, spend and tier."""
    existing = Refund.objects.filter(source=order.source, external_id=data.external_id).first()
    if existing is not None:
        return _refund_replay(existing, order, hash_), False
    try:
        with transaction.atomic():
            return _refund_locked(
                order_id=order.pk, member_id=order.member_id, data=data, hash_=hash_
            )
    except IntegrityError:
        existing = Refund.objects.filter(source=order.source, external_id=data.external_id).first()
        if existing is None:
            raise
        return _refund_replay(existing, order, hash_), False


def _refund_replay(refund: Refund, order: Order, hash_: str) -> dict[str, Any]:
    if refund.order_id != order.pk or refund.request_hash != hash_:
        raise mismatch_error()
    return refund.result


def _refund_amount(
    order: Order, data: RefundIn
) -> tuple[Decimal, list[tuple[OrderLine, int, Decimal]]]:
    """What the refund takes back, checked against what is left of the order and its lines."""
    remaining = order.total - order.refunded_amount
    line_changes: list[tuple[OrderLine, int, Decimal]] = []
    if data.lines:
        by_sku = {
            line.product.sku: line
            for line in order.lines.select_related("product").select_for_update()
        }
        for i, item in enumerate(data.lines):
            line = by_sku.get(item.sku)
            if line is None:
                raise ApplicationError(
                    _("Some fields are not valid."),
                    fields={f"lines[{i}].sku": [_("This SKU is not in the order.")]},
                )
            if item.quantity > line.quantity - line.refunded_quantity:
                raise ApplicationError(
                    _("Some fields are not valid."),
                    fields={
                        f"lines[{i}].quantity": [_("More than was bought and not yet refunded.")]
                    },
                )
            if item.amount > line.amount - line.refunded_amount:
                raise ApplicationError(
                    _("Some fields are not valid."),
                    fields={
                        f"lines[{i}].amount": [
                            _("More than was paid for this line and not yet refunded.")
                        ]
                    },
                )
            line_changes.append((line, item.quantity, item.amount))
        lines_total = sum((a for _l, _q, a in line_changes), Decimal("0"))
        if data.amount is not None and data.amount != lines_total:
            raise ApplicationError(
                _("Some fields are not valid."),
                fields={"amount": [_("Must equal the sum of the refunded lines.")]},
            )
        amount = lines_total
    else:
        if data.amount is None:
            raise ApplicationError(
                _("Some fields are not valid."), fields={"amount": [_("Give an amount or lines.")]}
            )
        amount = data.amount
    if amount <= 0:
        raise ApplicationError(
            _("Some fields are not valid."), fields={"amount": [_("Must be more than 0.")]}
        )
    if amount > remaining:
        raise ApplicationError(
            _("Refunds can't exceed what was paid: CNY %(left)s is left to refund.")
            % {"left": remaining},
            code="refund_exceeds_order",
            status_code=409,
            fields={"amount": [_("More than is left to refund.")]},
        )
    return amount, line_changes


def _refund_locked(
    *, order_id: int, member_id: int, data: RefundIn, hash_: str
) -> tuple[dict[str, Any], bool]:
    member = member_lock(member_id)
    order = Order.objects.select_for_update().get(pk=order_id)
    existing = Refund.objects.filter(source=order.source, external_id=data.external_id).first()
    if existing is not None:
        return _refund_replay(existing, order, hash_), False
    amount, line_changes = _refund_amount(order, data)
    refund = Refund.objects.create(
        order=order,
        source=order.source,
        external_id=data.external_id,
        amount=amount,
        lines=[
            {"sku": ln.product.sku, "quantity": q, "amount": str(a)} for ln, q, a in line_changes
        ],
        request_hash=hash_,
    )
    for line, qty, amt in line_changes:
        OrderLine.objects.filter(pk=line.pk).update(
            refunded_quantity=F("refunded_quantity") + qty,
            refunded_amount=F("refunded_amount") + amt,
        )
    order.refunded_amount += amount
    order.status = (
        Order.Status.REFUNDED
        if order.refunded_amount == order.total
        else Order.Status.PARTIALLY_REFUNDED
    )
    reversal = loyalty.refund_reversal(
        points_earned=order.points_earned,
        points_reversed=order.points_reversed,
        refunded_total=order.refunded_amount,
        order_total=order.total,
        balance=member.points_balance,
    )
    if reversal.taken:
        points_entry_append(
            member=member,
            kind=PointsEntry.Kind.REVERSE,
            points=-reversal.taken,
            key=f"refund:{refund.pk}:reverse",
            reason=_("Refund of order %(order)s") % {"order": order.external_id},
            reason_code="refund",
            reason_args={"order": order.external_id},
            order=order,
            refund=refund,
        )
    if reversal.debt:
        member.points_debt += reversal.debt
        Member.objects.filter(pk=member.pk).update(points_debt=member.points_debt)
    order.points_reversed += reversal.points
    order.save(update_fields=["refunded_amount", "status", "points_reversed"])

    settings = loyalty_context().settings
    member.purchase_count = purchase_count(member, settings)
    member.lifetime_spend -= amount
    member.save(update_fields=["purchase_count", "lifetime_spend"])
    caused: list[dict[str, Any]] = (
        [{"type": "points_reversed", "points": reversal.taken, "debt": reversal.debt}]
        if reversal.points
        else []
    )
    events.event_record(
        events.ORDER_REFUNDED,
        member_id=member.pk,
        order_id=order.pk,
        refund_id=refund.pk,
        amount=str(amount),
    )
    change = tier_evaluate(
        member=member, cause=TierChange.Cause.REFUND, order=order, settings=settings
    )
    if change is not None:
        caused.append(
            {
                "type": "tier_changed",
                "from": change.from_tier.code if change.from_tier else None,
                "to": change.to_tier.code,
            }
        )
    if order.status == Order.Status.REFUNDED:
        caused += _undo_milestones(member=member, order=order)

    result = {
        "id": refund.pk,
        "order": order.pk,
        "amount": str(amount),
        "points_reversed": reversal.taken,
        "points_debt": reversal.debt,
        "member": member_card(member),
        "events": caused,
    }
    refund.points_reversed, refund.points_debt_added, refund.result = (
        reversal.taken,
        reversal.debt,
        result,
    )
    refund.save(update_fields=["points_reversed", "points_debt_added", "result"])
    lifecycle_refresh(member_ids=[member.pk])
    return result, True


def _undo_milestones(*, member: Member, order: Order) -> list[dict[str, Any]]:
    """A fully refunded order's milestone no longer counts: a gift still waiting is cancelled, its
    bonus points are taken back (what the balance holds, the rest as points debt: a refund never
    leaves points behind), and the milestone can be reached again by the next qualifying
    purchase."""
    from members.selectors.rules import milestone_rule

    undone = []
    for reached in MilestoneReached.objects.filter(member=member, order=order).select_related(
        "milestone"
    ):
        if loyalty.milestone_hit(
            milestone_rule(reached.milestone), member.purchase_count, member.lifetime_spend
        ):
            continue
        cancelled = GiftGrant.objects.filter(
            member=member, order=order, milestone=reached.milestone, status=GiftGrant.Status.PENDING
        ).update(status=GiftGrant.Status.CANCELLED)
        key = loyalty.milestone_bonus_key(member.pk, reached.milestone.code, order.pk)
        bonus = PointsEntry.objects.filter(idempotency_key=key).values_list("points", flat=True)
        for points in bonus:
            taken = min(points, member.points_balance)
            if taken:
                points_entry_append(
                    member=member,
                    kind=PointsEntry.Kind.REVERSE,
                    points=-taken,
                    key=f"{key}:undone",
                    reason=_("Milestone undone by a refund: %(name)s")
                    % {"name": reached.milestone.name},
                    reason_code="milestone_undone",
                    reason_args={
                        "name_zh": reached.milestone.name_zh,
                        "name_en": reached.milestone.name_en,
                    },
                    order=order,
                )
            if points - taken:
                member.points_debt += points - taken
                Member.objects.filter(pk=member.pk).update(points_debt=member.points_debt)
        reached.delete()
        undone.append(
            {
                "type": "milestone_undone",
                "milestone": reached.milestone.code,
                "gifts_cancelled": cancelled,
            }
        )
    return undone


@transaction.atomic
def gift_fulfil(
    *, gift: GiftGrant, actor: User | None, store: Store | None = None, request=None
) -> GiftGrant:
    from accounts.services import audit_record

    gift = GiftGrant.objects.select_for_update().get(pk=gift.pk)
    if gift.status != GiftGrant.Status.PENDING:
        raise ApplicationError(
            _("This gift was already handed over or cancelled."),
            code="gift_not_pending",
            status_code=409,
        )
    gift.status = GiftGrant.Status.FULFILLED
    gift.fulfilled_at = timezone.now()
    gift.fulfilled_by = actor if actor and actor.pk else None
    gift.fulfilled_store = store
    gift.save(update_fields=["status", "fulfilled_at", "fulfilled_by", "fulfilled_store"])
    audit_record(
        actor=actor,
        action="gift.fulfilled",
        target=gift.member,
        request=request,
        after={"gift": gift.name},
    )
    return gift


__all__ = [
    "ENTRY_COLUMNS",
    "LineIn",
    "OrderIn",
    "RefundIn",
    "gift_fulfil",
    "order_from_quote",
    "order_ingest",
    "order_refund",
]
