"""The loyalty rules, once: pure functions over plain values (no ORM, no database, no clock).

The counter's price quote, one-by-one ingest (``services/orders.py``), set-based ingest
(``services/order_batch.py``), refunds and the rules dry run all call these, so a rule cannot say one
thing at the till and another when the order is booked. The database layers only load the inputs
(the member's counters, standing and vouchers, the rules) and store the outputs.

- tiers: ``tier_for`` a standing, ``progress`` to the next tier, ``tier_after_order``,
  ``tier_hold`` (what keeps the tier held, and until when);
- points: ``earn_points`` (earning repays a points debt first, in ``order_outcome``),
  ``points_expiry``, ``refund_reversal`` (proportional, cumulative, the rest as debt);
- milestones: ``milestone_hit``, ``next_gift``;
- vouchers: ``voucher_problem`` (status, dates, owner, minimum spend), ``voucher_value``,
  ``vouchers_stack``; baskets: ``basket_price`` (tier discount, then vouchers on what is left) and
  ``spend_before_vouchers`` (what an order paid before its vouchers, when the caller does not say);
- the whole order: ``order_outcome`` (points with debt, counters, tier, milestones, ledger lines and
  the events the order causes);
- lifecycle: ``stage_for``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

EXPIRY_END_OF_NEXT_YEAR = "end_of_next_year"
EXPIRY_ROLLING = "rolling"
EXPIRY_NEVER = "never"

REWARD_GIFT = "gift"
REWARD_POINTS = "points"

# What one order and one balance may hold: far above any real purchase, well inside what the
# database columns hold (a points balance is a 32-bit integer), so a typo or a hostile client
# gets a clear refusal instead of a database error.
MAX_ORDER_TOTAL = Decimal("10000000.00")  # CNY 10 million
POINTS_CEILING = 2_000_000_000
EARLIEST_ORDER_YEAR = 2000

# Lifecycle stages (the values of Member.Stage) and their thresholds.
DORMANT_DAYS = 90
LAPSED_DAYS = 180
LOYAL_PURCHASES = 5


# --- The inputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """Earning, expiry and counting rules (``LoyaltySettings``)."""

    points_per_cny: Decimal = Decimal("1.00")
    expiry_policy: str = EXPIRY_END_OF_NEXT_YEAR
    expiry_days: int = 730
    spend_window_days: int = 365
    grace_days: int = 30
    one_purchase_per_day: bool = False
    # The zone whose dates count: one purchase a day, end-of-year expiry.
    time_zone: str = "Asia/Shanghai"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True)
class TierRule:
    id: int
    code: str
    rank: int
    min_purchases: int | None = None
    min_annual_spend: Decimal | None = None
    multiplier: Decimal = Decimal("1.00")
    discount_percent: int = 0  # 10 for 9折


@dataclass(frozen=True)
class MilestoneRule:
    id: int
    code: str
    at_purchase: int | None = None
    at_spend: Decimal | None = None
    reward: str = REWARD_GIFT
    points: int = 0


@dataclass(frozen=True)
class Standing:
    """Purchases counted (paid, not fully refunded; days when one a day) and the spend in the
    window ending at some moment."""

    purchase_count: int
    window_spend: Decimal


@dataclass(frozen=True)
class VoucherTerms:
    code: str
    member_id: int
    status: str  # available, redeemed, expired, void
    kind: str  # amount_off, percent_off, gift_item, buy_n_get_m
    amount: Decimal | None = None
    percent: int | None = None
    min_spend: Decimal = ZERO
    stackable: bool = False
    valid_from: datetime | None = None
    expires_at: datetime | None = None


# --- Tiers -------------------------------------------------------------------------------------


def qualifies(tier: TierRule, s: Standing) -> bool:
    """A tier without conditions is everyone's; otherwise any one condition is enough."""
    if tier.min_purchases is None and tier.min_annual_spend is None:
        return True
    return bool(
        (tier.min_purchases is not None and s.purchase_count >= tier.min_purchases)
        or (tier.min_annual_spend is not None and s.window_spend >= tier.min_annual_spend)
    )


def tier_for(s: Standing, tiers: Sequence[TierRule]) -> TierRule:
    """The highest tier any of whose conditions the standing meets (``tiers`` lowest first)."""
    best = tiers[0]
    for tier in tiers:
        if qualifies(tier, s) and tier.rank > best.rank:
            best = tier
    return best


def tier_of(tier_id: int | None, tiers: Sequence[TierRule]) -> TierRule:
    """The tier a member holds; a member without one holds the entry tier."""
    return next((t for t in tiers if t.id == tier_id), tiers[0])


@dataclass(frozen=True)
class Progress:
    next_tier: TierRule | None
    purchases_missing: int | None
    spend_missing: Decimal | None
    percent: int  # 0-100, by the nearer of the next tier's conditions


def progress(current_rank: int, s: Standing, tiers: Sequence[TierRule]) -> Progress:
    """What the member still needs for the next tier up, and how far along they are."""
    for tier in tiers:
        if tier.rank <= current_rank:
            continue
        purchases = (
            max(0, tier.min_purchases - s.purchase_count)
            if tier.min_purchases is not None
            else None
        )
        spend = (
            max(ZERO, tier.min_annual_spend - s.window_spend)
            if tier.min_annual_spend is not None
            else None
        )
        best = Decimal(0)
        if tier.min_purchases:
            best = max(best, min(Decimal(1), Decimal(s.purchase_count) / tier.min_purchases))
        if tier.min_annual_spend:
            best = max(best, min(Decimal(1), s.window_spend / tier.min_annual_spend))
        percent = int((best * 100).quantize(Decimal(1), ROUND_HALF_UP))
        return Progress(tier, purchases, spend, percent)
    return Progress(None, None, None, 100)


@dataclass(frozen=True)
class TierDecision:
    target: TierRule
    change: bool  # move to ``target`` now
    clear_downgrade: bool  # a pending downgrade no longer applies
    start_grace: bool  # the daily job: announce a downgrade, due after the grace period


def tier_decision(
    *,
    current: TierRule | None,
    s: Standing,
    tiers: Sequence[TierRule],
    cause: str,
    downgrade_due_at: datetime | None,
    at: datetime,
) -> TierDecision:
    """How a member's tier moves. Orders and imports only raise; refunds apply at once both ways;
    the daily job and new rules lower only after the grace period (announced first), so
    publishing rules never drops a member at once (and unchanged rules move nobody)."""
    target = tier_for(s, tiers)
    if current is None or target.rank > current.rank:
        return TierDecision(target, True, False, False)
    if target.rank == current.rank:
        return TierDecision(target, False, downgrade_due_at is not None, False)
    if cause in ("order", "import"):
        return TierDecision(target, False, False, False)
    if cause in ("daily", "rules"):
        if downgrade_due_at is None:
            return TierDecision(target, False, False, True)
        if downgrade_due_at > at:
            return TierDecision(target, False, False, False)
    return TierDecision(target, True, False, False)


# What holds the tier a member has (``TierHold.basis``).
HOLD_ENTRY = "entry"  # the tier without conditions: nothing to keep
HOLD_PURCHASES = "purchases"  # the purchase count, which waiting never lowers: kept
HOLD_SPEND = "spend"  # the spend in the window: until its oldest order needed leaves it
HOLD_BELOW = "below"  # no condition met now: held until the announced downgrade, if any


@dataclass(frozen=True)
class TierHold:
    basis: str
    # spend: the moment the window spend falls below the tier's threshold if nothing more is
    # bought (the tier is held up to, not including, it); below: the announced downgrade, if any.
    until: datetime | None = None
    last_day: date | None = None  # the last local day ``until`` leaves whole: what the member reads
    spend_to_keep: Decimal | None = None  # spent before ``until``, keeps the tier past it
    purchases_to_keep: int | None = None  # below: purchases that would meet the count condition


def tier_hold(
    tier: TierRule,
    *,
    purchase_count: int,
    window_orders: Iterable[tuple[datetime, Decimal]],
    at: datetime,
    rules: Rules,
    downgrade_due_at: datetime | None = None,
) -> TierHold:
    """What keeps ``tier`` for a member who buys nothing more, and until when.

    A purchase-count condition is kept for good: counted purchases never drop by waiting. A spend
    condition holds while the spend of the last ``spend_window_days`` stays at the threshold (an
    order counts while ``placed_at > at - window``, as in ``Standing``). Taking the orders newest
    first, the one that brings the sum to the threshold is the oldest one needed: the tier holds
    until it leaves the window (``placed_at + window``), and keeping it past then takes the
    threshold less what the later orders add up to, spent before then (a purchase made by then
    counts for a whole window). ``window_orders`` are (placed_at, amount counted: total less
    refunds) of the counted orders; those outside the window at ``at`` are ignored."""
    if tier.min_purchases is None and tier.min_annual_spend is None:
        return TierHold(HOLD_ENTRY)
    if tier.min_purchases is not None and purchase_count >= tier.min_purchases:
        return TierHold(HOLD_PURCHASES)
    window = timedelta(days=rules.spend_window_days)
    orders = sorted(
        ((placed, amount) for placed, amount in window_orders if at - window < placed <= at),
        key=lambda o: o[0],
        reverse=True,
    )
    threshold = tier.min_annual_spend
    if threshold is not None:
        total = ZERO
        for placed, amount in orders:
            total += amount
            if total >= threshold:
                until = placed + window
                # Orders placed at the same moment leave the window together.
                later = sum((a for p, a in orders if p > placed), ZERO)
                last_day = (until - timedelta(microseconds=1)).astimezone(rules.zone).date()
                return TierHold(
                    HOLD_SPEND, until=until, last_day=last_day, spend_to_keep=threshold - later
                )
    purchases = tier.min_purchases - purchase_count if tier.min_purchases is not None else None
    spend = threshold - sum((a for _p, a in orders), ZERO) if threshold is not None else None
    last = (
        (downgrade_due_at - timedelta(microseconds=1)).astimezone(rules.zone).date()
        if downgrade_due_at is not None
        else None
    )
    return TierHold(
        HOLD_BELOW,
        until=downgrade_due_at,
        last_day=last,
        spend_to_keep=spend,
        purchases_to_keep=purchases,
    )


# --- Points ------------------------------------------------------------------------------------


def earn_points(amount: Decimal, rules: Rules, multiplier: Decimal) -> int:
    """Whole points for a paid amount: rate x multiplier, rounded down, never negative."""
    value = (amount * rules.points_per_cny * multiplier).quantize(Decimal("1"), rounding=ROUND_DOWN)
    return max(0, int(value))


def points_expiry(earned_at: datetime, rules: Rules) -> datetime | None:
    """When points earned at ``earned_at`` expire: never, N days later, or (the default) at the
    end of the year after the one they were earned in, in the brand's zone."""
    if rules.expiry_policy == EXPIRY_NEVER:
        return None
    if rules.expiry_policy == EXPIRY_ROLLING:
        return earned_at + timedelta(days=rules.expiry_days)
    zone = rules.zone
    local = earned_at.astimezone(zone)
    return datetime(local.year + 2, 1, 1, tzinfo=zone) - timedelta(microseconds=1)


@dataclass(frozen=True)
class LedgerLine:
    """One points entry an outcome books: ``kind`` earn, bonus or reverse; ``key`` its
    idempotency key; ``cause`` says which text the reason gets (order, debt or milestone)."""

    kind: str
    points: int
    balance_after: int
    key: str
    expires_at: datetime | None
    cause: str
    milestone_code: str | None = None


@dataclass
class _Purse:
    balance: int
    debt: int
    lines: list[LedgerLine] = field(default_factory=list)

    def credit(
        self,
        *,
        kind: str,
        points: int,
        key: str,
        at: datetime,
        rules: Rules,
        cause: str,
        milestone: str | None = None,
    ) -> tuple[int, int]:
        """Book earned points, then repay any points debt from them: (earned, repaid)."""
        if points <= 0:
            return 0, 0
        self.balance += points
        self.lines.append(
            LedgerLine(kind, points, self.balance, key, points_expiry(at, rules), cause, milestone)
        )
        repaid = min(points, self.debt)
        if repaid:
            self.balance -= repaid
            self.debt -= repaid
            self.lines.append(
                LedgerLine("reverse", -repaid, self.balance, f"{key}:debt", None, "debt", milestone)
            )
        return points, repaid


def proportional(points: int, part: Decimal, whole: Decimal) -> int:
    if whole <= 0:
        return 0
    return math.floor(Decimal(points) * part / whole)


@dataclass(frozen=True)
class Reversal:
    points: int  # to take back now
    taken: int  # from the balance
    debt: int  # owed, deducted from future earnings


def refund_reversal(
    *,
    points_earned: int,
    points_reversed: int,
    refunded_total: Decimal,
    order_total: Decimal,
    balance: int,
) -> Reversal:
    """Points a refund takes back: in proportion to everything refunded so far (so partial refunds
    never drift from a full one by rounding), less what earlier refunds took; what the balance
    cannot cover becomes points debt. Earning, spending and refunding never create points."""
    full = refunded_total >= order_total
    target = points_earned if full else proportional(points_earned, refunded_total, order_total)
    points = max(0, target - points_reversed)
    taken = min(points, balance)
    return Reversal(points=points, taken=taken, debt=points - taken)


# --- Milestones --------------------------------------------------------------------------------


def milestone_hit(milestone: MilestoneRule, purchase_count: int, lifetime_spend: Decimal) -> bool:
    """Whether the counters have reached the milestone's purchase or spend threshold."""
    return (milestone.at_purchase is not None and purchase_count >= milestone.at_purchase) or (
        milestone.at_spend is not None and lifetime_spend >= milestone.at_spend
    )


def milestone_bonus_key(member_id: int, code: str, order_id: int) -> str:
    return f"milestone:{member_id}:{code}:{order_id}"


def next_gift(purchase_count: int, milestones: Iterable[MilestoneRule]) -> MilestoneRule | None:
    """The nearest purchase milestone with a gift still ahead."""
    ahead = [
        m
        for m in milestones
        if m.at_purchase is not None and m.at_purchase > purchase_count and m.reward == REWARD_GIFT
    ]
    return min(ahead, key=lambda m: m.at_purchase or 0) if ahead else None


# --- Vouchers and baskets ----------------------------------------------------------------------


def voucher_problem(
    v: VoucherTerms, *, now: datetime, member_id: int | None = None, spend: Decimal | None = None
) -> str | None:
    """Why a voucher can't be used now (an error code), or None. ``spend`` is what the order
    costs before vouchers; ``member_id`` the member it must belong to."""
    if v.status == "redeemed":
        return "voucher_already_redeemed"
    if v.status == "expired" or (v.expires_at is not None and v.expires_at <= now):
        return "voucher_expired"
    if v.status == "void":
        return "voucher_void"
    if v.valid_from is not None and v.valid_from > now:
        return "voucher_not_yet_valid"
    if member_id is not None and v.member_id != member_id:
        return "voucher_not_owned"
    if spend is not None and spend < v.min_spend:
        return "voucher_min_spend"
    return None


def voucher_usable(v: VoucherTerms, now: datetime) -> bool:
    """Available, started and not expired: what a card and a wallet offer to use now."""
    return voucher_problem(v, now=now) is None


def voucher_value(v: VoucherTerms, spend: Decimal) -> Decimal:
    """The CNY a voucher takes off a spend (gift and buy-N vouchers: nothing off the bill)."""
    if v.kind == "amount_off" and v.amount:
        return min(v.amount, spend)
    if v.kind == "percent_off" and v.percent:
        return (spend * v.percent / 100).quantize(CENT, ROUND_HALF_UP)
    return ZERO


def voucher_takes(vouchers: Sequence[VoucherTerms], before: Decimal) -> list[Decimal]:
    """What each voucher, in order, takes off a bill of ``before``: its value on that amount,
    never more than what is still to pay (the rule ``basket_price`` prices by)."""
    left = before
    out = []
    for v in vouchers:
        off = min(voucher_value(v, before), left)
        left -= off
        out.append(off)
    return out


def vouchers_stack(vouchers: Sequence[VoucherTerms]) -> bool:
    """One voucher always; several only when every one of them is stackable."""
    return len(vouchers) <= 1 or all(v.stackable for v in vouchers)


@dataclass(frozen=True)
class Price:
    subtotal: Decimal
    tier_percent: int
    tier_discount: Decimal
    before_vouchers: Decimal
    discounts: tuple[tuple[VoucherTerms, Decimal], ...]
    total: Decimal
    problems: tuple[tuple[str, str], ...]  # (voucher code, error code) of refused vouchers
    stacking_refused: bool

    @property
    def voucher_discount(self) -> Decimal:
        return sum((off for _v, off in self.discounts), ZERO)


def basket_price(
    *,
    subtotal: Decimal,
    tier_percent: int,
    vouchers: Sequence[VoucherTerms],
    member_id: int | None,
    now: datetime,
) -> Price:
    """The tier discount first, then each usable voucher on what is left after the tier (each
    worth its value on that amount, never more than what is still to pay). A voucher that cannot be
    used is listed in ``problems`` and takes nothing off; non-stackable vouchers chosen together
    are refused as a whole (``stacking_refused``)."""
    discount = (subtotal * tier_percent / 100).quantize(CENT, ROUND_HALF_UP)
    before = subtotal - discount
    usable: list[VoucherTerms] = []
    problems: list[tuple[str, str]] = []
    for v in vouchers:
        problem = voucher_problem(v, now=now, member_id=member_id, spend=before)
        if problem is not None:
            problems.append((v.code, problem))
            continue
        usable.append(v)
    chosen = list(zip(usable, voucher_takes(usable, before), strict=True))
    refused = not vouchers_stack([v for v, _off in chosen])
    total = max(ZERO, before - sum((off for _v, off in chosen), ZERO))
    return Price(
        subtotal=subtotal,
        tier_percent=tier_percent,
        tier_discount=discount,
        before_vouchers=before,
        discounts=tuple(chosen),
        total=total,
        problems=tuple(problems),
        stacking_refused=refused,
    )


def spend_before_vouchers(paid: Decimal, vouchers: Sequence[VoucherTerms]) -> Decimal:
    """What an order cost before its vouchers, from what was paid, for a caller (a POS) that sends
    only the paid total: the smallest amount that ``basket_price`` with these vouchers brings down
    to ``paid``. A "CNY 50 off 300" voucher on CNY 250 paid: CNY 300."""
    amounts = sum((v.amount or ZERO for v in vouchers if v.kind == "amount_off"), ZERO)
    percent = sum((v.percent or 0 for v in vouchers if v.kind == "percent_off"), 0)
    if percent == 0:
        return paid + amounts
    percent = min(percent, 99)
    guess = ((paid + amounts) * 100 / (100 - percent)).quantize(CENT, ROUND_DOWN)

    def pays(before: Decimal) -> Decimal:
        left = before
        for v in vouchers:
            left -= min(voucher_value(v, before), left)
        return left

    # Each percent voucher rounds to the cent, so the exact answer lies within half a cent per
    # voucher, scaled by 100 / (100 - percent), of the guess: the smallest amount in that window
    # that pays ``paid`` (a few cents either way; 152 at three vouchers of 99 percent together).
    rounded = sum(1 for v in vouchers if v.kind == "percent_off")
    window = -(-rounded * 50 // (100 - percent)) + 2
    for cents in range(-window, window + 1):
        candidate = guess + CENT * cents
        if candidate >= 0 and pays(candidate) == paid:
            return candidate
    return guess


# --- The whole order ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberState:
    """The member's cached counters before the order (the member row, locked)."""

    id: int
    tier_id: int | None
    points_balance: int = 0
    points_debt: int = 0
    purchase_count: int = 0
    lifetime_spend: Decimal = ZERO
    last_purchase_at: datetime | None = None
    downgrade_due_at: datetime | None = None
    reached: frozenset[int] = frozenset()  # milestone ids already reached


@dataclass(frozen=True)
class OrderOutcome:
    tier_before: TierRule
    tier_after: TierRule
    tier_raised: bool
    clear_downgrade: bool
    points_earned: int
    debt_repaid: int
    ledger: tuple[LedgerLine, ...]
    points_balance: int
    points_debt: int
    purchase_count: int
    lifetime_spend: Decimal
    last_purchase_at: datetime
    milestones: tuple[MilestoneRule, ...]
    # What the order caused, in order, as the API's ``events``. A gift is listed by its milestone:
    # the caller that grants it replaces the entry with the gift's id and name.
    events: tuple[dict[str, Any], ...]


def purchase_count_with(
    count: int, *, day: date, counted_days: Iterable[date] | None, rules: Rules
) -> int:
    """The purchase count once an order of ``day`` counts: one more, or, when at most one purchase
    a day counts, the number of distinct days (``counted_days`` those of the orders counted so far)."""
    if not rules.one_purchase_per_day:
        return count + 1
    days = set(counted_days or ())
    days.add(day)
    return len(days)


def local_day(at: datetime, rules: Rules) -> date:
    return at.astimezone(rules.zone).date()


def order_outcome(
    *,
    member: MemberState,
    order_id: int,
    total: Decimal,
    placed_at: datetime,
    standing: Standing,
    purchase_count: int,
    rules: Rules,
    tiers: Sequence[TierRule],
    milestones: Sequence[MilestoneRule],
) -> OrderOutcome:
    """Everything a paid order of ``total`` does to ``member``: points at the multiplier of the tier
    held before it (repaying any debt first), the counters, the tier (orders only raise; the
    standing is the one as of the order, the order included), the milestones newly reached and
    their bonus points, with the ledger lines and events in the order they happen.
    ``purchase_count`` is the member's count with this order (see ``purchase_count_with``)."""
    tier_before = tier_of(member.tier_id, tiers)
    purse = _Purse(member.points_balance, member.points_debt)
    earned, repaid = purse.credit(
        kind="earn",
        points=earn_points(total, rules, tier_before.multiplier),
        key=f"order:{order_id}:earn",
        at=placed_at,
        rules=rules,
        cause="order",
    )
    events: list[dict[str, Any]] = []
    if earned:
        events.append({"type": "points_earned", "points": earned, "debt_repaid": repaid})
    lifetime = member.lifetime_spend + total
    last = member.last_purchase_at
    last = placed_at if last is None or placed_at > last else last

    # A member without a tier holds the entry tier: no change is recorded for reaching it.
    decision = tier_decision(
        current=tier_before,
        s=standing,
        tiers=tiers,
        cause="order",
        downgrade_due_at=member.downgrade_due_at,
        at=placed_at,
    )
    tier_after = decision.target if decision.change else tier_before
    if decision.change:
        events.append(
            {
                "type": "tier_changed",
                "from": tier_before.code,
                "to": decision.target.code,
            }
        )

    hits: list[MilestoneRule] = []
    for milestone in milestones:
        if milestone.id in member.reached or not milestone_hit(milestone, purchase_count, lifetime):
            continue
        hits.append(milestone)
        events.append({"type": "milestone_reached", "milestone": milestone.code})
        if milestone.reward == REWARD_GIFT:
            events.append({"type": "gift_granted", "milestone": milestone.code})
        elif milestone.reward == REWARD_POINTS and milestone.points:
            purse.credit(
                kind="bonus",
                points=milestone.points,
                # Per order: a milestone undone by a refund can be reached (and paid) again.
                key=milestone_bonus_key(member.id, milestone.code, order_id),
                at=placed_at,
                rules=rules,
                cause="milestone",
                milestone=milestone.code,
            )
            events.append({"type": "points_bonus", "points": milestone.points})
    return OrderOutcome(
        tier_before=tier_before,
        tier_after=tier_after,
        tier_raised=decision.change,
        clear_downgrade=decision.clear_downgrade or decision.change,
        points_earned=earned,
        debt_repaid=repaid,
        ledger=tuple(purse.lines),
        points_balance=purse.balance,
        points_debt=purse.debt,
        purchase_count=purchase_count,
        lifetime_spend=lifetime,
        last_purchase_at=last,
        milestones=tuple(hits),
        events=tuple(events),
    )


# --- Lifecycle ---------------------------------------------------------------------------------


def outcome_within_limits(outcome: OrderOutcome) -> bool:
    """Whether the balance an order leaves fits what a balance may hold."""
    return outcome.points_balance <= POINTS_CEILING and outcome.points_earned <= POINTS_CEILING


def stage_for(purchases: int, idle_days: int | None) -> str:
    """No purchase: prospect; 180+ days idle: lapsed; 90+: dormant; else by purchases: 1 first,
    2 second, 3-4 repeat, 5+ loyal."""
    if purchases <= 0 or idle_days is None:
        return "prospect"
    if idle_days >= LAPSED_DAYS:
        return "lapsed"
    if idle_days >= DORMANT_DAYS:
        return "dormant"
    if purchases >= LOYAL_PURCHASES:
        return "loyal"
    if purchases >= 3:
        return "repeat"
    return "second_purchase" if purchases == 2 else "first_purchase"
