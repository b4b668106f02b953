"""Lifecycle stage, RFM, value class, price sensitivity and next purchase due: the nightly SQL and
the per-order update, with the boundaries of SPEC section 4."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connections

from members.models import Member, Product
from members.services import lifecycle
from members.services.lifecycle import (
    DEFAULT_CUTOFFS,
    _compute_python,
    lifecycle_recompute_all,
    lifecycle_refresh,
)
from tests.factories import MemberFactory
from tests.members.helpers import buy, logged, refund

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
DAY = date(2025, 6, 2)  # a Monday, like the first choice; +400 days is still in the past


def at(d: date, hour: int = 10) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=SH)


@pytest.fixture
def m(store_sh):
    return MemberFactory(store=store_sh)


@pytest.mark.parametrize(
    ("idle", "stage"),
    [
        (0, "first_purchase"),
        (89, "first_purchase"),
        (90, "dormant"),
        (179, "dormant"),
        (180, "lapsed"),
    ],
)
def test_stage_boundaries_day_89_90_180(m, idle, stage):
    # 23:30 local on DAY is 15:30 UTC: the local date, not the UTC one, counts.
    buy(m, 100, at=at(DAY, 23))
    lifecycle_recompute_all(today=DAY + timedelta(days=idle))
    m.refresh_from_db()
    assert m.lifecycle_stage == stage
    lifecycle_refresh(member_ids=[m.pk], today=DAY + timedelta(days=idle))
    m.refresh_from_db()
    assert m.lifecycle_stage == stage


@pytest.mark.sqlite
def test_stages_by_purchase_count_and_refund_back_to_prospect(m):
    assert m.lifecycle_stage == "prospect"
    seen = []
    orders = []
    for _ in range(5):
        orders.append(buy(m, 100))
        seen.append(m.lifecycle_stage)
    assert seen == ["first_purchase", "second_purchase", "repeat", "repeat", "loyal"]
    refund(m, orders[-1]["id"], 100)
    assert m.lifecycle_stage == "repeat"
    for o in orders[:-1]:
        refund(m, o["id"], 100)
    assert m.lifecycle_stage == "prospect"
    assert m.rfm_r == m.rfm_f == m.rfm_m == 0
    assert m.next_purchase_due is None and m.value_class == ""


@pytest.mark.sqlite
def test_stage_change_logs_lifecycle_changed(m):
    day = date.today()
    buy(m, 100, at=at(day, 0))
    lifecycle_recompute_all(today=day + timedelta(days=90))
    lifecycle_recompute_all(today=day + timedelta(days=91))  # no change, no event
    got = [(e["member_id"], e["from_stage"], e["to_stage"]) for e in logged("lifecycle_changed")]
    assert got == [(m.pk, "prospect", "first_purchase"), (m.pk, "first_purchase", "dormant")]


@pytest.mark.sqlite
def test_next_purchase_due_from_cycle_and_own_interval(m):
    Product.objects.update_or_create(
        sku="MASK-10", defaults={"name": "Mask", "cycle_days": 30, "kind": "consumable"}
    )
    buy(m, 100, at=at(DAY))
    m.refresh_from_db()
    assert m.next_purchase_due == DAY + timedelta(days=30)  # only the product's cycle
    buy(m, 100, at=at(DAY + timedelta(days=20)))
    m.refresh_from_db()
    assert m.purchase_interval_days == 20
    assert m.next_purchase_due == DAY + timedelta(days=20 + 25)  # mean of 20 and 30


def test_durable_products_and_unknown_cycles_give_no_due_date(m):
    Product.objects.update_or_create(
        sku="STROLLER", defaults={"name": "Stroller", "cycle_days": 365, "kind": "durable"}
    )
    buy(m, 100, at=at(DAY), sku="STROLLER")
    m.refresh_from_db()
    assert m.next_purchase_due is None


@pytest.mark.sqlite
def test_price_sensitivity_is_the_share_of_discounted_orders(m):
    buy(m, 100)
    buy(m, 100)
    buy(m, 100)
    # The flag comes from vouchers; set it as a voucher order would.
    m.orders.filter(pk=m.orders.order_by("id").first().pk).update(discounted=True)
    lifecycle_refresh(member_ids=[m.pk])
    m.refresh_from_db()
    assert m.price_sensitivity == Decimal("0.333")


@pytest.mark.sqlite
def test_rfm_and_value_class_against_the_nightly_cutoffs(store_sh):
    today = DAY + timedelta(days=200)
    members = []
    for i in range(10):  # i purchases... and i * 100 spend, i * 15 days idle
        mm = MemberFactory(store=store_sh)
        for k in range(i + 1):
            buy(mm, 100, at=at(today - timedelta(days=i * 15 + k)))
        members.append(mm)
    run = lifecycle_recompute_all(today=today)
    # percentile_disc over 10 buyers: the 2nd, 4th, 6th and 8th values.
    assert run.cutoffs["f"] == [2, 4, 6, 8]
    assert run.cutoffs["r"] == [15, 45, 75, 105]
    assert run.cutoffs["value"] == ["800.00", "500.00"]
    for mm in members:
        mm.refresh_from_db()
    best, worst = members[-1], members[0]
    assert (best.rfm_r, best.rfm_f, best.rfm_m, best.value_class) == (1, 5, 5, "A")
    assert (worst.rfm_r, worst.rfm_f, worst.rfm_m, worst.value_class) == (5, 1, 1, "C")
    assert [mm.value_class for mm in members] == list("CCCCBBBAAA")


def test_sql_and_python_give_the_same_readings(store_sh):
    rng = random.Random(7)
    Product.objects.update_or_create(
        sku="MASK-10", defaults={"name": "Mask", "cycle_days": 30, "kind": "consumable"}
    )
    Product.objects.update_or_create(
        sku="MILK", defaults={"name": "Milk", "cycle_days": 7, "kind": "consumable"}
    )
    today = DAY + timedelta(days=400)
    for _ in range(25):
        mm = MemberFactory(store=store_sh)
        for _k in range(rng.randint(0, 6)):
            day = at(today, 0) - timedelta(days=rng.randint(0, 400), hours=rng.randint(0, 23))
            total = rng.randint(1, 900)
            r = buy(mm, total, at=day, sku=rng.choice(["MASK-10", "MILK", "X"]))
            if rng.random() < 0.2:
                refund(mm, r["id"], total)
            elif rng.random() < 0.2:
                mm.orders.filter(pk=r["id"]).update(discounted=True)
    run = lifecycle_recompute_all(today=today)
    python = _compute_python(None, today=today, cutoffs=run.cutoffs)
    assert run.cutoffs == lifecycle._cutoffs_python(today)
    for member in Member.objects.all():
        stored = {f: getattr(member, f) for f in lifecycle.FIELDS}
        assert stored == python[member.pk].as_fields(), member.pk


def test_default_cutoffs_until_a_nightly_run(m):
    buy(m, 100)
    m.refresh_from_db()
    assert lifecycle.cutoffs_current() == DEFAULT_CUTOFFS
    assert (m.rfm_r, m.rfm_f, m.rfm_m, m.value_class) == (5, 2, 2, "C")


@pytest.mark.django_db(transaction=True)
def test_one_nightly_run_at_a_time(store_sh):
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [lifecycle.LOCK_KEY])
        assert lifecycle_recompute_all() is None
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [lifecycle.LOCK_KEY])
        assert lifecycle_recompute_all() is not None
    finally:
        other.close()
