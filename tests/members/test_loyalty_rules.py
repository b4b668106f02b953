"""The shipped growth system, exactly: VIP at the 3rd purchase, a gift at the 5th, Gold at CNY 3000
in 365 days, points at the multiplier of the tier held before the order."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from members import loyalty
from members.models import GiftGrant, Member, PointsEntry, TierChange
from members.services import gift_fulfil
from tests.factories import MemberFactory
from tests.members.helpers import buy, days_ago, refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def m(store_sh):
    return MemberFactory(store=store_sh)


def test_third_paid_order_makes_a_vip_with_ten_percent_off(m):
    buy(m, 100)
    second = buy(m, 100)
    assert second["member"]["tier"]["code"] == "member"
    assert second["member"]["next_tier"]["missing"]["purchases"] == 1
    third = buy(m, 100)
    assert m.tier.code == "vip"
    assert {"type": "tier_changed", "from": "member", "to": "vip"} in third["events"]
    assert {"code": "vip_discount", "name": "10% off", "kind": "discount", "percent": 10} in [
        {**b, "name": "10% off"} if b["code"] == "vip_discount" else b
        for b in third["member"]["benefits"]
    ]
    assert TierChange.objects.get(member=m).cause == "order"


def test_points_earn_at_the_multiplier_of_the_tier_held_before_the_order(m):
    r1, r2, r3 = buy(m, 100), buy(m, 100), buy(m, 100)
    assert [r["points_earned"] for r in (r1, r2, r3)] == [
        100,
        100,
        100,
    ]  # 3rd made VIP, earned as Member
    r4 = buy(m, 100)
    assert r4["points_earned"] == 120  # VIP x1.2
    assert m.points_balance == 420


def test_fifth_purchase_grants_a_gift_that_waits_until_fulfilled(m, clerk_sh, store_sh):
    for _ in range(4):
        buy(m, 50)
    assert not GiftGrant.objects.exists()
    fifth = buy(m, 50)
    assert any(e["type"] == "gift_granted" for e in fifth["events"])
    assert any(
        e == {"type": "milestone_reached", "milestone": "gift_5th_purchase"}
        for e in fifth["events"]
    )
    gift = GiftGrant.objects.get(member=m)
    assert gift.status == "pending"
    assert [g["id"] for g in fifth["member"]["pending_gifts"]] == [gift.pk]
    buy(m, 50)  # the 6th grants nothing more
    assert GiftGrant.objects.count() == 1
    gift_fulfil(gift=gift, actor=clerk_sh, store=store_sh)
    gift.refresh_from_db()
    assert gift.status == "fulfilled" and gift.fulfilled_by == clerk_sh
    from scrm.exceptions import ApplicationError

    with pytest.raises(ApplicationError):
        gift_fulfil(gift=gift, actor=clerk_sh)


def test_3000_within_365_days_makes_gold_even_with_one_order(m):
    result = buy(m, "3000.00")
    assert m.tier.code == "gold"
    assert result["member"]["next_tier"] is None
    codes = {b["code"] for b in result["member"]["benefits"]}
    assert {
        "gold_discount",
        "named_advisor",
        "new_product_trials",
        "priority_service",
        "price_protection",
    } <= codes


def test_spend_outside_the_window_does_not_count(m):
    buy(m, "2000.00", at=days_ago(400))
    result = buy(m, "1500.00")
    assert m.tier.code == "member"
    assert result["member"]["annual_spend"] == "1500.00"
    assert result["member"]["next_tier"] == {
        "code": "vip",
        "name": "VIP",
        "missing": {"purchases": 1},
    }


def test_refunds_that_bring_the_count_back_to_two_take_vip_away(m):
    buy(m, 100)
    buy(m, 100)
    third = buy(m, 100)
    assert m.tier.code == "vip"
    result = refund(m, third["id"], "100.00")
    assert m.tier.code == "member" and m.purchase_count == 2
    assert {"type": "tier_changed", "from": "vip", "to": "member"} in result["events"]
    assert TierChange.objects.filter(member=m, cause="refund").count() == 1


def test_partial_refund_keeps_the_purchase_but_reverses_points_in_proportion(m):
    order = buy(m, "200.00")
    result = refund(m, order["id"], "50.00")
    assert result["points_reversed"] == 50
    assert m.purchase_count == 1 and m.points_balance == 150
    refund(m, order["id"], "150.00")
    assert m.purchase_count == 0 and m.points_balance == 0


def test_earn_spend_then_refund_cannot_create_points_and_debt_comes_from_next_earnings(m):
    from members.services import points_redeem

    order = buy(m, "100.00")
    points_redeem(member=m, points=100, key="k1", reason="coffee")
    result = refund(m, order["id"], "100.00")
    m.refresh_from_db()
    assert result["points_reversed"] == 0 and result["points_debt"] == 100
    assert m.points_balance == 0 and m.points_debt == 100
    buy(m, "60.00")
    assert m.points_balance == 0 and m.points_debt == 40
    buy(m, "100.00")
    assert m.points_balance == 60 and m.points_debt == 0
    # Everything ever paid and kept: 160 CNY -> 160 points; 100 were spent; 60 remain. No points made.
    assert (
        sum(PointsEntry.objects.filter(member=m).values_list("points", flat=True))
        == m.points_balance
    )


def test_refund_of_the_fifth_order_cancels_its_waiting_gift(m):
    orders = [buy(m, 50) for _ in range(5)]
    result = refund(m, orders[-1]["id"], "50.00")
    assert GiftGrant.objects.get(member=m).status == "cancelled"
    assert any(e["type"] == "milestone_undone" for e in result["events"])
    buy(m, 50)  # the new 5th purchase earns the gift again
    assert GiftGrant.objects.filter(member=m, status="pending").count() == 1


def test_refund_by_lines_and_bad_refunds_are_refused(m):
    from members.services import LineIn
    from scrm.exceptions import ApplicationError

    order = buy(m, "120.00")
    with pytest.raises(ApplicationError) as exc:
        refund(m, order["id"], "500.00")
    assert exc.value.code == "refund_exceeds_order"
    with pytest.raises(ApplicationError) as exc:
        refund(m, order["id"], lines=[LineIn(sku="NOPE", quantity=1, amount=Decimal("1"))])
    assert "lines[0].sku" in exc.value.fields
    result = refund(
        m, order["id"], lines=[LineIn(sku="MASK-10", quantity=1, amount=Decimal("120.00"))]
    )
    assert result["amount"] == "120.00" and m.purchase_count == 0


def test_ledger_rows_cannot_be_changed_or_deleted(m):
    assert connection.vendor == "postgresql"
    buy(m, 100)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        PointsEntry.objects.update(points=1_000_000)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        PointsEntry.objects.all().delete()


def test_the_database_refuses_a_negative_balance(m):
    with pytest.raises(DatabaseError), transaction.atomic():
        Member.objects.filter(pk=m.pk).update(points_balance=-1)


def test_ledger_verify_passes_and_catches_a_mismatch(m, capsys):
    from django.core.management.base import CommandError

    buy(m, 100)
    call_command("ledger_verify")
    Member.objects.filter(pk=m.pk).update(points_balance=99)
    with pytest.raises(CommandError):
        call_command("ledger_verify")


def test_portal_home_says_what_is_missing_for_the_next_tier(m, client):
    from members.services import member_portal_user

    buy(m, 100)
    user = member_portal_user(m.phone)
    client.force_login(user)
    client.cookies["django_language"] = "en"
    html = client.get("/portal/").content.decode()
    assert "2 more purchases to VIP" in html
    assert "data-points>100<" in html
    client.cookies["django_language"] = "zh-hans"
    assert "再消费 2 次即可升级 VIP" in client.get("/portal/").content.decode()


# --- Keeping a tier: members.loyalty.tier_hold, exactly --------------------------------------

HOLD_AT = datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
GOLD = loyalty.TierRule(id=3, code="gold", rank=2, min_annual_spend=Decimal("3000.00"))
VIP = loyalty.TierRule(id=2, code="vip", rank=1, min_purchases=3)
RULES = loyalty.Rules()  # 365-day window, Asia/Shanghai


def _ago(days: int, hours: int = 0) -> datetime:
    return HOLD_AT - timedelta(days=days, hours=hours)


def test_gold_holds_until_the_oldest_order_it_needs_leaves_the_window():
    # Newest first: 800 + 1,000 = 1,800 < 3,000; the 1,500 of 300 days ago makes 3,300.
    orders = [
        (_ago(300), Decimal("1500.00")),
        (_ago(100), Decimal("1000")),
        (_ago(10), Decimal("800")),
    ]
    hold = loyalty.tier_hold(GOLD, purchase_count=3, window_orders=orders, at=HOLD_AT, rules=RULES)
    assert hold.basis == loyalty.HOLD_SPEND
    assert hold.until == _ago(300) + timedelta(days=365)  # 2027-02-05 10:00
    assert hold.last_day == date(2027, 2, 5)
    assert hold.spend_to_keep == Decimal("1200.00")  # 3,000 less the 1,800 that stays
    assert hold.purchases_to_keep is None


def test_orders_older_than_the_one_needed_do_not_move_the_date():
    orders = [
        (_ago(360), Decimal("5000")),  # not needed: the later ones reach 3,000 already
        (_ago(200), Decimal("2000")),
        (_ago(20), Decimal("1000")),
    ]
    hold = loyalty.tier_hold(GOLD, purchase_count=9, window_orders=orders, at=HOLD_AT, rules=RULES)
    assert hold.until == _ago(200) + timedelta(days=365)
    assert hold.spend_to_keep == Decimal("2000")


def test_exactly_the_threshold_counts_and_orders_of_one_moment_leave_together():
    same = _ago(50)
    orders = [(same, Decimal("1000")), (same, Decimal("1000")), (_ago(5), Decimal("1000"))]
    hold = loyalty.tier_hold(GOLD, purchase_count=3, window_orders=orders, at=HOLD_AT, rules=RULES)
    assert hold.until == same + timedelta(days=365)
    # Both orders of that moment leave at once: only the latest 1,000 stays.
    assert hold.spend_to_keep == Decimal("2000")


def test_orders_outside_the_window_are_ignored_and_the_last_day_is_local():
    # Placed at 00:00 Shanghai 364 days ago: it leaves at midnight, so the last whole day is the
    # day before; an order of 366 days ago is out of the window already; a future one too.
    midnight = datetime(2025, 12, 3, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    orders = [
        (_ago(366), Decimal("9000")),
        (midnight, Decimal("3000")),
        (HOLD_AT + timedelta(days=1), Decimal("9000")),
    ]
    hold = loyalty.tier_hold(GOLD, purchase_count=2, window_orders=orders, at=HOLD_AT, rules=RULES)
    assert hold.until == midnight + timedelta(days=365)
    assert hold.last_day == date(2026, 12, 2)
    assert hold.spend_to_keep == Decimal("3000")


def test_a_window_already_below_the_threshold_says_what_keeps_the_tier():
    due = HOLD_AT + timedelta(days=30)
    orders = [(_ago(40), Decimal("2500.50"))]
    hold = loyalty.tier_hold(
        GOLD,
        purchase_count=1,
        window_orders=orders,
        at=HOLD_AT,
        rules=RULES,
        downgrade_due_at=due,
    )
    assert hold == loyalty.TierHold(
        loyalty.HOLD_BELOW, until=due, last_day=date(2027, 1, 1), spend_to_keep=Decimal("499.50")
    )
    no_notice = loyalty.tier_hold(GOLD, purchase_count=1, window_orders=[], at=HOLD_AT, rules=RULES)
    assert no_notice == loyalty.TierHold(loyalty.HOLD_BELOW, spend_to_keep=Decimal("3000.00"))


def test_a_purchase_count_tier_is_kept_and_the_entry_tier_has_nothing_to_keep():
    kept = loyalty.tier_hold(VIP, purchase_count=3, window_orders=[], at=HOLD_AT, rules=RULES)
    assert kept == loyalty.TierHold(loyalty.HOLD_PURCHASES)
    both = loyalty.TierRule(
        id=4, code="both", rank=3, min_purchases=10, min_annual_spend=Decimal("3000")
    )
    # The count condition is met: kept, whatever the window spend.
    assert (
        loyalty.tier_hold(both, purchase_count=10, window_orders=[], at=HOLD_AT, rules=RULES).basis
        == loyalty.HOLD_PURCHASES
    )
    # Refunds took the count below: both conditions say what is missing.
    below = loyalty.tier_hold(VIP, purchase_count=2, window_orders=[], at=HOLD_AT, rules=RULES)
    assert below == loyalty.TierHold(loyalty.HOLD_BELOW, purchases_to_keep=1)
    entry = loyalty.TierRule(id=1, code="member", rank=0)
    assert loyalty.tier_hold(
        entry, purchase_count=0, window_orders=[], at=HOLD_AT, rules=RULES
    ) == loyalty.TierHold(loyalty.HOLD_ENTRY)


def test_a_shorter_window_moves_the_date():
    rules = loyalty.Rules(spend_window_days=180)
    orders = [(_ago(100), Decimal("3000"))]
    hold = loyalty.tier_hold(GOLD, purchase_count=1, window_orders=orders, at=HOLD_AT, rules=rules)
    assert hold.until == _ago(100) + timedelta(days=180)


def test_the_selector_feeds_the_rule_the_window_orders_less_refunds(m):
    from members.selectors.cards import tier_hold

    buy(m, "1500.00", at=days_ago(300))
    second = buy(m, "1200.00", at=days_ago(100))
    buy(m, "800.00", at=days_ago(10))
    assert m.tier.code == "gold"
    refund(m, second["id"], "200.00")  # 1,000 of it counts now
    m.refresh_from_db()
    hold = tier_hold(m)
    assert hold.basis == "spend"
    placed = m.orders.order_by("placed_at").first().placed_at
    assert hold.until == placed + timedelta(days=365)
    assert hold.spend_to_keep == Decimal("1200.00")
    # The card's one query gives the same standing as ``standing`` does.
    from members.selectors.cards import standing, standing_and_tier_hold

    current, same = standing_and_tier_hold(m)
    assert current == standing(m) == loyalty.Standing(3, Decimal("3300.00")) and same == hold


def test_the_selector_reads_no_orders_for_a_tier_kept_by_purchases(m, django_assert_num_queries):
    from members.selectors import loyalty_context
    from members.selectors.cards import tier_hold

    for _ in range(3):
        buy(m, 100)
    assert m.tier.code == "vip"
    ctx = loyalty_context()
    with django_assert_num_queries(0):
        hold = tier_hold(m, tiers=ctx.tiers, settings=ctx.settings)
    assert hold.basis == "purchases"
