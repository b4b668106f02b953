"""Orders and refunds: the one path by which purchases reach points, tiers and milestones.

Every order and refund locks the member row first, then does all its work in one transaction:
order and lines, vouchers, points, purchase count and spend, tier, milestones, gifts. An order is
unique on (source, external_id): a replay returns the first result and changes nothing; the same
key with a different body is ``409 idempotency_mismatch``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Store, User
from accounts.phones import InvalidPhone, normalize_phone
from members import events
from members.models import (
    GiftGrant,
    LoyaltySettings,
    Member,
    Milestone,
    MilestoneReached,
    Order,
    OrderLine,
    Product,
    Refund,
    TierChange,
)
from members.services.context import loyalty_context
from members.services.idempotency import mismatch_error
from members.services.lifecycle import lifecycle_refresh
from members.services.members import member_enrol
from members.services.points import (
    append_entry,
    earn_points,
    earn_with_debt,
    lock_member,
    proportional,
    reverse_for_refund,
)
from members.services.tiers import purchase_count, standing, tier_evaluate
from members.services.vouchers import voucher_redeem
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


def _member_for(
    ref: str, *, store: Store | None, source: str, actor: User | None, via: str | None
) -> Member:
    ref = ref.strip()
    if CODE_RE.match(ref.upper()) and not ref.isdigit():
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
    return lock_member(member)


_product_ids: dict[str, int] = {}


def _product_id(line: LineIn) -> int:
    pk = _product_ids.get(line.sku)
    if pk is None:
        product, _created = Product.objects.get_or_create(
            sku=line.sku, defaults={"name": line.name or line.sku, "category": line.category}
        )
        pk = _product_ids.setdefault(line.sku, product.pk)
    return pk


def _validate(data: OrderIn) -> None:
    fields: dict[str, list[str]] = {}
    if not data.lines:
        fields["lines"] = [_("An order needs at least one line.")]
    elif sum((line.amount for line in data.lines), Decimal("0")) != data.total:
        fields["total"] = [_("The total must equal the sum of the line amounts.")]
    if data.total < 0:
        fields["total"] = [_("Must not be negative.")]
    if len(set(v.strip().upper() for v in data.vouchers)) != len(data.vouchers):
        fields["vouchers"] = [_("A voucher is listed twice.")]
    if fields:
        raise ApplicationError(_("Some fields are not valid."), fields=fields)


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
    _validate(data)
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


def _ingest_locked(
    *, data: OrderIn, hash_: str, member: Member, actor: User | None
) -> tuple[dict[str, Any], bool]:
    """``member`` is locked. Replays are found here, under the lock, so of concurrent first
    attempts exactly one books the order."""
    # Check under the lock: a concurrent first attempt has committed by now if it won.
    existing = Order.objects.filter(source=data.source, external_id=data.external_id).first()
    if existing is not None:
        return _replay(existing, hash_), False
    ctx = loyalty_context()
    settings, tiers = ctx.settings, ctx.tiers
    if member.tier_id is None:
        member.tier = tiers[0]
        Member.objects.filter(pk=member.pk).update(tier=tiers[0])
    # The cached ladder's own objects: no query, and benefits already loaded.
    tier_before = next((t for t in tiers if t.pk == member.tier_id), tiers[0])
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
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                product_id=_product_id(line),
                quantity=line.quantity,
                amount=line.amount,
            )
            for line in data.lines
        ]
    )
    found: list[dict[str, Any]] = []
    non_stackable = 0
    for code in data.vouchers:
        voucher = voucher_redeem(
            code=code, store=data.store, order=order, member=member, spend=data.total, actor=actor
        )
        non_stackable += 0 if voucher.template.stackable else 1
        found.append({"type": "voucher_redeemed", "voucher": voucher.code})
    if non_stackable and len(data.vouchers) > 1:
        raise ApplicationError(
            _("A voucher that cannot be combined was listed with others."),
            code="voucher_not_stackable",
            status_code=409,
            fields={"vouchers": [_("Use one voucher, or only stackable ones.")]},
        )

    # Points at the multiplier of the tier held before this order.
    points = earn_points(data.total, settings, tier_before.multiplier)
    earned, repaid = earn_with_debt(
        member=member,
        points=points,
        key=f"order:{order.pk}:earn",
        reason=_("Order %(order)s") % {"order": data.external_id},
        order=order,
        at=data.placed_at,
        settings=settings,
        save_member=False,  # saved below with the counters, in one UPDATE
    )
    if earned:
        found.append({"type": "points_earned", "points": earned, "debt_repaid": repaid})
    order.points_earned = earned

    # The member row is locked: counters can be moved in Python, saving a count and a re-read.
    if settings.one_purchase_per_day:
        member.purchase_count = purchase_count(member, settings)
    else:
        member.purchase_count += 1
    member.lifetime_spend += data.total
    last = member.last_purchase_at
    member.last_purchase_at = data.placed_at if last is None or data.placed_at > last else last
    member.save(
        update_fields=[
            "points_balance",
            "points_debt",
            "purchase_count",
            "lifetime_spend",
            "last_purchase_at",
        ]
    )

    # The window ends at the order's own time, so history imported in order gets the tiers it had.
    s = standing(member, as_of=data.placed_at, settings=settings)
    change = tier_evaluate(
        member=member,
        cause=TierChange.Cause.ORDER,
        order=order,
        as_of=data.placed_at,
        tiers=tiers,
        settings=settings,
        current_standing=s,
    )
    if change is not None:
        found.append(
            {
                "type": "tier_changed",
                "from": change.from_tier.code if change.from_tier else None,
                "to": change.to_tier.code,
            }
        )
    found += _milestones(member=member, order=order, settings=settings, milestones=ctx.milestones)

    from members.selectors import member_card

    result = {
        "id": order.pk,
        "points_earned": earned,
        "member": member_card(member, tiers=tiers, current_standing=s),
        "events": found,
    }
    order.result = result
    order.save(update_fields=["points_earned", "result"])
    lifecycle_refresh(member_ids=[member.pk])
    events.send_on_commit(
        events.order_ingested, member_id=member.pk, order_id=order.pk, events=found
    )
    return result, True


def milestone_hit(milestone: Milestone, member: Member) -> bool:
    """Whether the member's counters have reached the milestone's purchase or spend threshold."""
    return (
        milestone.at_purchase is not None and member.purchase_count >= milestone.at_purchase
    ) or (milestone.at_spend is not None and member.lifetime_spend >= milestone.at_spend)


def milestone_gift(*, member: Member, milestone: Milestone, order: Order) -> GiftGrant:
    """The gift a milestone grants; it waits (pending) until a clerk hands it over."""
    gift = GiftGrant.objects.create(
        member=member,
        milestone=milestone,
        order=order,
        name_zh=milestone.gift_name_zh or milestone.name_zh,
        name_en=milestone.gift_name_en or milestone.name_en,
    )
    events.send_on_commit(events.gift_granted, member_id=member.pk, gift_id=gift.pk)
    return gift


def _milestones(
    *, member: Member, order: Order, settings: LoyaltySettings, milestones: list[Milestone]
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    hits = [m for m in milestones if milestone_hit(m, member)]
    if not hits:  # the common case: no query at all
        return found
    reached = set(
        MilestoneReached.objects.filter(member=member).values_list("milestone_id", flat=True)
    )
    for milestone in hits:
        if milestone.pk in reached:
            continue
        MilestoneReached.objects.create(member=member, milestone=milestone, order=order)
        found.append({"type": "milestone_reached", "milestone": milestone.code})
        events.send_on_commit(
            events.milestone_reached,
            member_id=member.pk,
            milestone_code=milestone.code,
            order_id=order.pk,
        )
        if milestone.reward == Milestone.Reward.GIFT:
            gift = milestone_gift(member=member, milestone=milestone, order=order)
            found.append({"type": "gift_granted", "gift": gift.pk, "name": gift.name})
        elif milestone.reward == Milestone.Reward.POINTS and milestone.points:
            earn_with_debt(
                member=member,
                points=milestone.points,
                key=f"milestone:{member.pk}:{milestone.code}",
                reason=milestone.name,
                order=order,
                at=order.placed_at,
                settings=settings,
                kind="bonus",
            )
            found.append({"type": "points_bonus", "points": milestone.points})
    return found


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


def _refund_locked(
    *, order_id: int, member_id: int, data: RefundIn, hash_: str
) -> tuple[dict[str, Any], bool]:
    member = lock_member(member_id)
    order = Order.objects.select_for_update().get(pk=order_id)
    existing = Refund.objects.filter(source=order.source, external_id=data.external_id).first()
    if existing is not None:
        return _refund_replay(existing, order, hash_), False
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
    # Cumulative proportion, so partial refunds never drift from the full reversal by rounding.
    target = (
        order.points_earned
        if order.status == Order.Status.REFUNDED
        else proportional(order.points_earned, order.refunded_amount, order.total)
    )
    to_reverse = max(0, target - order.points_reversed)
    taken, debt = reverse_for_refund(member=member, points=to_reverse, refund=refund, order=order)
    order.points_reversed += to_reverse
    order.save(update_fields=["refunded_amount", "status", "points_reversed"])

    settings = LoyaltySettings.current()
    member.purchase_count = purchase_count(member, settings)
    member.lifetime_spend -= amount
    member.save(update_fields=["purchase_count", "lifetime_spend"])
    found: list[dict[str, Any]] = (
        [{"type": "points_reversed", "points": taken, "debt": debt}] if to_reverse else []
    )
    change = tier_evaluate(
        member=member, cause=TierChange.Cause.REFUND, order=order, settings=settings
    )
    if change is not None:
        found.append(
            {
                "type": "tier_changed",
                "from": change.from_tier.code if change.from_tier else None,
                "to": change.to_tier.code,
            }
        )
    if order.status == Order.Status.REFUNDED:
        found += _undo_milestones(member=member, order=order)

    from members.selectors import member_card

    result = {
        "id": refund.pk,
        "order": order.pk,
        "amount": str(amount),
        "points_reversed": taken,
        "points_debt": debt,
        "member": member_card(member),
        "events": found,
    }
    refund.points_reversed, refund.points_debt_added, refund.result = taken, debt, result
    refund.save(update_fields=["points_reversed", "points_debt_added", "result"])
    lifecycle_refresh(member_ids=[member.pk])
    events.send_on_commit(
        events.order_refunded, member_id=member.pk, order_id=order.pk, refund_id=refund.pk
    )
    return result, True


def _undo_milestones(*, member: Member, order: Order) -> list[dict[str, Any]]:
    """A fully refunded order's milestone no longer counts: a gift still waiting is cancelled and
    the milestone can be reached again by the next qualifying purchase."""
    found = []
    for reached in MilestoneReached.objects.filter(member=member, order=order).select_related(
        "milestone"
    ):
        if milestone_hit(reached.milestone, member):
            continue
        cancelled = GiftGrant.objects.filter(
            member=member, order=order, milestone=reached.milestone, status=GiftGrant.Status.PENDING
        ).update(status=GiftGrant.Status.CANCELLED)
        reached.delete()
        found.append(
            {
                "type": "milestone_undone",
                "milestone": reached.milestone.code,
                "gifts_cancelled": cancelled,
            }
        )
    return found


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
    "LineIn",
    "OrderIn",
    "RefundIn",
    "append_entry",
    "gift_fulfil",
    "order_ingest",
    "order_refund",
]
