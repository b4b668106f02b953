"""A Hypothesis state machine over earn, redeem, refund, expire and adjust: whatever the sequence,
the balance never goes negative, the ledger sums to the balance, and replays change nothing."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from members.models import Order, PointsEntry
from members.services import (
    LineIn,
    OrderIn,
    RefundIn,
    order_ingest,
    order_refund,
    points_adjust,
    points_redeem,
)
from members.services.idempotency import request_hash
from members.services.points import points_expire_member
from scrm.exceptions import ApplicationError
from tests.factories import MemberFactory

SEQ = itertools.count()


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.member = MemberFactory(phone=f"+86135{next(SEQ):08d}")
        self.clock = datetime(2023, 1, 1, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
        self.orders: list[tuple[OrderIn, str]] = []
        self.redemptions: list[tuple[str, int]] = []

    def _snapshot(self):
        self.member.refresh_from_db()
        return (
            self.member.points_balance,
            self.member.points_debt,
            PointsEntry.objects.filter(member=self.member).count(),
        )

    @rule(
        amount=st.integers(min_value=1, max_value=5000),
        days=st.integers(min_value=0, max_value=200),
    )
    def earn(self, amount, days):
        self.clock += timedelta(days=days)
        total = Decimal(amount)
        data = OrderIn(
            source="pos",
            external_id=f"H-{next(SEQ)}",
            member=self.member.code,
            placed_at=self.clock,
            total=total,
            lines=[LineIn(sku="H-SKU", quantity=1, amount=total)],
        )
        hash_ = request_hash(data.external_id)
        order_ingest(data=data, hash_=hash_)
        self.orders.append((data, hash_))

    @rule(points=st.integers(min_value=1, max_value=3000))
    def redeem(self, points):
        key = f"r-{next(SEQ)}"
        try:
            points_redeem(member=self.member, points=points, key=key, reason="test")
            self.redemptions.append((key, points))
        except ApplicationError as exc:
            assert exc.code == "insufficient_points"

    @rule(data=st.data())
    def refund(self, data):
        open_orders = list(Order.objects.filter(member=self.member).exclude(status="refunded"))
        if not open_orders:
            return
        order = data.draw(st.sampled_from(open_orders))
        left = order.total - order.refunded_amount
        amount = data.draw(st.integers(min_value=1, max_value=int(left))) if left >= 1 else None
        if amount is None:
            return
        order_refund(
            order=order,
            data=RefundIn(external_id=f"RF-{next(SEQ)}", amount=Decimal(amount)),
            hash_=str(amount),
        )

    @rule(points=st.integers(min_value=-2000, max_value=2000).filter(lambda p: p != 0))
    def adjust(self, points):
        try:
            points_adjust(
                member=self.member,
                points=points,
                reason="correction",
                actor=None,
                key=f"a-{next(SEQ)}",
            )
        except ApplicationError as exc:
            assert exc.code == "insufficient_points"

    @rule(days=st.integers(min_value=1, max_value=800))
    def expire(self, days):
        self.clock += timedelta(days=days)
        points_expire_member(member_id=self.member.pk, now=self.clock)

    @rule()
    def replay_an_order(self):
        if not self.orders:
            return
        before = self._snapshot()
        data, hash_ = self.orders[-1]
        _result, created = order_ingest(data=data, hash_=hash_)
        assert not created
        assert self._snapshot() == before

    @rule()
    def replay_a_redemption(self):
        if not self.redemptions:
            return
        before = self._snapshot()
        key, points = self.redemptions[-1]
        _entry, created = points_redeem(member=self.member, points=points, key=key, reason="test")
        assert not created
        assert self._snapshot() == before

    @invariant()
    def ledger_matches_balance(self):
        self.member.refresh_from_db()
        total = PointsEntry.objects.filter(member=self.member).aggregate(s=Sum("points"))["s"] or 0
        assert self.member.points_balance >= 0
        assert self.member.points_debt >= 0
        assert total == self.member.points_balance
        last = PointsEntry.objects.filter(member=self.member).order_by("-id").first()
        assert last is None or last.balance_after == self.member.points_balance


@pytest.mark.django_db
def test_ledger_state_machine():
    import time_machine

    # The machine's clock runs up to 33 years from 2023; orders dated after now are refused, so
    # now is moved past any date it can reach.
    with time_machine.travel(datetime(2060, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")), tick=True):
        _run_ledger_machine()


def _run_ledger_machine():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


@pytest.mark.django_db
@pytest.mark.sqlite
def test_points_earned_in_a_year_expire_at_the_end_of_the_next_year_oldest_first():
    from members.services.points import expirable_now

    member = MemberFactory()
    sh = ZoneInfo("Asia/Shanghai")
    for when, amount in (
        (datetime(2024, 3, 1, tzinfo=sh), 100),
        (datetime(2025, 6, 1, tzinfo=sh), 50),
    ):
        order_ingest(
            data=OrderIn(
                source="pos",
                external_id=f"X-{amount}",
                member=member.code,
                placed_at=when,
                total=Decimal(amount),
                lines=[LineIn(sku="S", quantity=1, amount=Decimal(amount))],
            ),
            hash_=str(amount),
        )
    entry = PointsEntry.objects.filter(member=member, kind="earn").order_by("id").first()
    assert entry.expires_at == datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=sh)
    points_redeem(member=member, points=30, key="spend", reason="x")  # spends the 2024 lot first
    assert expirable_now(member.pk, datetime(2025, 12, 31, 12, tzinfo=sh)) == 0
    assert (
        points_expire_member(member_id=member.pk, now=datetime(2026, 1, 1, 0, 1, tzinfo=sh)) == 70
    )
    member.refresh_from_db()
    assert member.points_balance == 50
    assert (
        points_expire_member(member_id=member.pk, now=datetime(2026, 1, 2, tzinfo=sh)) == 0
    )  # idempotent
    assert (
        points_expire_member(member_id=member.pk, now=datetime(2027, 1, 1, 0, 1, tzinfo=sh)) == 50
    )
    member.refresh_from_db()
    assert member.points_balance == 0


@pytest.mark.django_db
@pytest.mark.sqlite
def test_points_expiring_is_announced_once_30_days_ahead(time_machine):
    from members.services import points_notify_expiring
    from tests.members.helpers import logged

    sh = ZoneInfo("Asia/Shanghai")
    member = MemberFactory()
    order_ingest(
        data=OrderIn(
            source="pos",
            external_id="E-1",
            member=member.code,
            placed_at=datetime(2025, 5, 1, tzinfo=sh),
            total=Decimal(80),
            lines=[LineIn(sku="S", quantity=1, amount=Decimal(80))],
        ),
        hash_="e1",
    )
    time_machine.move_to(datetime(2026, 11, 15, tzinfo=sh))
    assert points_notify_expiring() == 0  # 46 days ahead: not yet
    time_machine.move_to(datetime(2026, 12, 5, tzinfo=sh))
    assert points_notify_expiring() == 1
    assert points_notify_expiring() == 0  # once
    heard = logged("points_expiring")
    assert len(heard) == 1
    assert heard[0]["member_id"] == member.pk and heard[0]["points"] == 80
    expires = datetime.fromisoformat(heard[0]["expires_at"]).astimezone(sh)
    assert (expires.year, expires.month, expires.day, expires.hour) == (2026, 12, 31, 23)


@pytest.mark.django_db
@pytest.mark.sqlite
def test_the_nightly_expiry_is_set_based_equal_to_member_by_member_and_idempotent(monkeypatch):
    """The nightly job (chunks of members, a few statements each) books what the one-member
    expiry books, for members with different histories; a rerun books nothing."""
    from django.core.management import call_command

    from members.services import points as points_mod
    from members.services import points_expire_due
    from members.services.points import expirable_now

    monkeypatch.setattr(points_mod, "EXPIRE_CHUNK", 3)  # several chunks even for a few members
    sh = ZoneInfo("Asia/Shanghai")
    plans = [
        [(2024, 100)],  # all expired
        [(2024, 100), (2025, 40)],  # 2024 lot expired, 2025 lot not yet
        [(2024, 80)],  # then spends 50 of it: 30 left to expire
        [(2025, 60)],  # nothing expired
        [(2024, 20), (2024, 30)],
        [],
        [(2024, 500)],  # then spends all: nothing left to expire
    ]
    members = []
    for n, plan in enumerate(plans):
        member = MemberFactory()
        for k, (year, amount) in enumerate(plan):
            order_ingest(
                data=OrderIn(
                    source="pos",
                    external_id=f"N{n}-{k}",
                    member=member.code,
                    placed_at=datetime(year, 5, 1 + k, tzinfo=sh),
                    total=Decimal(amount),
                    lines=[LineIn(sku="S", quantity=1, amount=Decimal(amount))],
                ),
                hash_=f"{n}-{k}",
            )
        members.append(member)
    points_redeem(member=members[2], points=50, key="spend2", reason="x")
    points_redeem(member=members[6], points=500, key="spend6", reason="x")
    now = datetime(2026, 1, 1, 0, 1, tzinfo=sh)
    expected = {m.pk: expirable_now(m.pk, now) for m in members}
    assert [expected[m.pk] for m in members] == [100, 100, 30, 0, 50, 0, 0]
    assert points_expire_due(now=now) == 280
    for m in members:
        m.refresh_from_db()
        booked = -sum(
            PointsEntry.objects.filter(member=m, kind="expire").values_list("points", flat=True)
        )
        assert booked == expected[m.pk]
        assert m.points_balance == sum(
            PointsEntry.objects.filter(member=m).values_list("points", flat=True)
        )
    assert points_expire_due(now=now) == 0  # the same run again
    assert points_expire_due(now=datetime(2026, 1, 2, tzinfo=sh)) == 0  # the next night
    call_command("ledger_verify")  # exits non-zero on any mismatch


@pytest.mark.django_db
def test_points_reasons_are_read_in_the_readers_language(member, operator):
    """A reason is stored as its parts and read in the reader's language: the Chinese console
    and the English portal read the same entry each in theirs; an operator's own text stays."""
    from django.utils import translation

    from members.services import points_adjust
    from tests.members.helpers import buy, refund

    result = buy(member, 300)
    refund(member, result["id"], 100)
    points_adjust(member=member, points=5, reason="生日礼", actor=operator)
    entries = list(PointsEntry.objects.filter(member=member).order_by("id"))
    with translation.override("en"):
        en = [e.reason_text for e in entries]
    with translation.override("zh-hans"):
        zh = [e.reason_text for e in entries]
    external = Order.objects.get(pk=result["id"]).external_id
    assert en[0] == f"Order {external}" and zh[0] == f"订单 {external}"
    assert en[1].startswith("Refund of order") and "退款" in zh[1]
    assert en[2] == zh[2] == "生日礼"
