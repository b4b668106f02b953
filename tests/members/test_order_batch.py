"""The set-based batch path must give exactly what one-by-one ingest gives."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members.models import (
    GiftGrant,
    Member,
    Milestone,
    MilestoneReached,
    Order,
    PointsEntry,
    TierChange,
)
from members.services import LineIn, OrderIn, order_ingest, order_refund, points_redeem
from members.services.order_batch import order_ingest_many
from members.services.orders import RefundIn
from tests.factories import MemberFactory

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture(autouse=True)
def no_fallback(caplog):
    """The set-based path itself must give the results: falling back to one by one fails."""
    yield
    assert not [r for r in caplog.records if "fell back" in r.getMessage()]


def _orders(members, n, seed=3):
    rng = random.Random(seed)
    base = timezone.now() - timedelta(days=500)
    out = []
    for k in range(n):
        m = rng.choice(members)
        total = Decimal(rng.choice([35, 99, 180, 420, 950, 1600]))
        at = base + timedelta(days=rng.randint(0, 499), minutes=k)
        out.append(
            (
                m,
                OrderIn(
                    source="pos",
                    external_id=f"E-{k}",
                    member=m.code,
                    placed_at=at,
                    total=total,
                    lines=[LineIn(sku="SKU-A", quantity=1, amount=total)],
                ),
                f"h{k}",
            )
        )
    return out


def _state(member):
    member.refresh_from_db()
    entries = list(
        PointsEntry.objects.filter(member=member)
        .order_by("id")
        .values_list("kind", "points", "balance_after")
    )
    return {
        "balance": member.points_balance,
        "debt": member.points_debt,
        "count": member.purchase_count,
        "spend": member.lifetime_spend,
        "tier": member.tier_id,
        "last": member.last_purchase_at,
        "entries": entries,
        "changes": list(
            TierChange.objects.filter(member=member)
            .order_by("id")
            .values_list("from_tier", "to_tier", "cause")
        ),
        "milestones": sorted(
            MilestoneReached.objects.filter(member=member).values_list("milestone__code", flat=True)
        ),
        "gifts": GiftGrant.objects.filter(member=member).count(),
    }


def _strip(result):
    r = dict(result)
    r.pop("id")
    r["member"] = {
        k: v
        for k, v in r["member"].items()
        if k not in ("code", "phone", "name", "joined_at", "pending_gifts")
    }
    r["events"] = [{k: v for k, v in e.items() if k != "gift"} for e in r["events"]]
    return r


def test_set_based_and_one_by_one_agree(store_sh):
    Milestone.objects.create(
        code="bonus_3rd",
        name_zh="三单奖",
        name_en="Third order bonus",
        at_purchase=3,
        reward="points",
        points=150,
    )
    batch_members = [MemberFactory(store=store_sh) for _ in range(6)]
    twins = [MemberFactory(store=store_sh) for _ in range(6)]
    twin_of = dict(zip([m.pk for m in batch_members], twins, strict=True))
    # One member starts with points debt: an earlier order refunded after its points were spent.
    for m in (batch_members[0], twins[0]):
        r, _c = order_ingest(
            data=OrderIn(
                source="pre",
                external_id=f"pre-{m.pk}",
                member=m.code,
                placed_at=timezone.now() - timedelta(days=600),
                total=Decimal(300),
                lines=[LineIn(sku="X", quantity=1, amount=Decimal(300))],
            ),
            hash_="pre",
        )
        points_redeem(member=m, points=300, key="spend", reason="x")
        order_refund(
            order=Order.objects.get(pk=r["id"]),
            data=RefundIn(external_id=f"rf-{m.pk}", amount=Decimal(300)),
            hash_="r",
        )

    plan = _orders(batch_members, 60)
    with CaptureQueriesContext(connection) as q:
        results = order_ingest_many(items=[(data, h) for _m, data, h in plan])
    assert len(q.captured_queries) < 60 + 20  # a few per batch, plus gifts; not a dozen per order
    singles = []
    for m, data, h in plan:
        twin = twin_of[m.pk]
        twin_data = OrderIn(**{**data.__dict__, "member": twin.code, "source": "twin"})
        singles.append(order_ingest(data=twin_data, hash_=h)[0])

    assert [s for s, _b in results] == [201] * 60
    for (_s, body), single in zip(results, singles, strict=True):
        assert _strip(body) == _strip(single)
    for m in batch_members:
        a, b = _state(m), _state(twin_of[m.pk])
        assert a == b, m.code
    assert any(_state(m)["gifts"] for m in batch_members)
    assert any(len(_state(m)["changes"]) for m in batch_members)


def test_set_based_counts_orders_older_than_the_spend_window(store_sh):
    """The batch reads only orders inside its spend window one by one and counts the older ones:
    a member with old purchases becomes VIP at the 3rd purchase, exactly as one by one."""
    batch_members = [MemberFactory(store=store_sh) for _ in range(4)]
    twins = [MemberFactory(store=store_sh) for _ in range(4)]
    for n, m in enumerate(batch_members + twins):
        for k, days in enumerate((900, 800)[: n % 4 // 2 + 1]):  # one or two old orders
            order_ingest(
                data=OrderIn(
                    source="old",
                    external_id=f"old-{m.pk}-{k}",
                    member=m.code,
                    placed_at=timezone.now() - timedelta(days=days),
                    total=Decimal(2000),
                    lines=[LineIn(sku="X", quantity=1, amount=Decimal(2000))],
                ),
                hash_="old",
            )
    plan = []
    for k in range(12):
        m = batch_members[k % 4]
        total = Decimal(600 + 10 * k)
        plan.append(
            (
                m,
                OrderIn(
                    source="pos",
                    external_id=f"W-{k}",
                    member=m.code,
                    placed_at=timezone.now() - timedelta(days=100 - k),
                    total=total,
                    lines=[LineIn(sku="SKU-A", quantity=1, amount=total)],
                ),
                f"w{k}",
            )
        )
    results = order_ingest_many(items=[(data, h) for _m, data, h in plan])
    twin_of = dict(zip([m.pk for m in batch_members], twins, strict=True))
    singles = [
        order_ingest(
            data=OrderIn(**{**data.__dict__, "member": twin_of[m.pk].code, "source": "twin"}),
            hash_=h,
        )[0]
        for m, data, h in plan
    ]
    for (_s, body), single in zip(results, singles, strict=True):
        assert _strip(body) == _strip(single)
    for m in batch_members:
        assert _state(m) == _state(twin_of[m.pk])
    counts = sorted(_state(m)["count"] for m in batch_members)
    assert counts == [4, 4, 5, 5]  # the old orders are counted
    assert all(m.tier.code in ("vip", "gold") for m in batch_members if not m.refresh_from_db())


def test_set_based_replays_mismatches_unknown_members_and_repeated_keys(store_sh):
    m = MemberFactory(store=store_sh)
    data = OrderIn(
        source="pos",
        external_id="A",
        member=m.code,
        placed_at=timezone.now(),
        total=Decimal(10),
        lines=[LineIn(sku="S", quantity=1, amount=Decimal(10))],
    )
    first = order_ingest_many(items=[(data, "h")])
    unknown = OrderIn(**{**data.__dict__, "external_id": "B", "member": "MNOSUCH1"})
    bad_phone = OrderIn(**{**data.__dict__, "external_id": "C", "member": "12345"})
    new_phone = OrderIn(**{**data.__dict__, "external_id": "D", "member": "13812340000"})
    results = order_ingest_many(
        items=[
            (data, "h"),
            (data, "other"),
            (unknown, "u"),
            (bad_phone, "b"),
            (new_phone, "n"),
            (new_phone, "n"),
        ]
    )
    assert [s for s, _b in results] == [200, 409, 400, 400, 201, 200]
    assert results[0][1] == first[0][1]
    assert results[1][1]["error"]["code"] == "idempotency_mismatch"
    assert "member" in results[2][1]["error"]["fields"]
    assert Member.objects.get(phone="+8613812340000").purchase_count == 1
    assert Order.objects.count() == 2


def test_a_batch_enrols_its_new_phones_at_once_as_their_first_orders_would(
    store_sh, store_bj, django_capture_on_commit_callbacks, enrolled_ids
):
    from accounts.models import AuditEntry

    def order(ext: str, phone: str, store, minutes: int) -> tuple[OrderIn, str]:
        return (
            OrderIn(
                source="pos",
                external_id=ext,
                member=phone,
                placed_at=timezone.now() - timedelta(minutes=minutes),
                total=Decimal(20),
                lines=[LineIn(sku="S", quantity=1, amount=Decimal(20))],
                store=store,
            ),
            ext,
        )

    known = MemberFactory(phone="+8613700137000", store=store_bj)
    with django_capture_on_commit_callbacks(execute=True):
        results = order_ingest_many(
            items=[
                order("A", "13900139001", store_sh, 30),  # its first order decides its store
                order("B", "13900139001", store_bj, 20),
                order("C", "13900139002", None, 10),  # online
                order("D", "13700137000", store_sh, 5),  # known: found, not enrolled
            ],
            via="api",
        )
    assert [s for s, _b in results] == [201, 201, 201, 201]
    first = Member.objects.get(phone="+8613900139001")
    online = Member.objects.get(phone="+8613900139002")
    assert (first.store, first.channel, first.purchase_count) == (store_sh, "store", 2)
    assert (online.store, online.channel, online.purchase_count) == (None, "online", 1)
    assert first.phone_last4 == "9001" and first.tier.code == "member"
    assert results[0][1]["member"]["code"] == first.code == results[1][1]["member"]["code"]
    known.refresh_from_db()
    assert known.store == store_bj and known.purchase_count == 1
    assert Member.objects.count() == 3
    audit = AuditEntry.objects.filter(action="member.enrolled")
    assert sorted(audit.values_list("target_id", flat=True)) == sorted(
        [str(first.pk), str(online.pk)]
    )
    assert audit.get(target_id=str(first.pk)).via == "api"
    assert sorted(enrolled_ids) == sorted([first.pk, online.pk])
