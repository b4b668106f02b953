"""Exact under retries and concurrency, on PostgreSQL with real threads."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest
from django.db import connection
from django.test import Client

from accounts.services import apikey_create
from members.models import Member, Order, PointsEntry, Voucher, VoucherTemplate
from members.services import points_adjust, voucher_issue
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def run_threads(n: int, fn) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fn(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.fixture
def api(db):
    _key, plain = apikey_create(name="POS", actor=None)

    def client() -> Client:
        return Client(HTTP_AUTHORIZATION=f"Bearer {plain}")

    return client


def order_body(member, external_id="SH01-20261122-0042", total="299.00"):
    return {
        "source": "pos",
        "external_id": external_id,
        "member": member.code,
        "store": "SH01",
        "placed_at": "2026-11-22T10:31:00+08:00",
        "total": total,
        "lines": [
            {
                "sku": "MASK-10",
                "name": "Hydrating mask x10",
                "category": "skincare",
                "quantity": 2,
                "amount": total,
            }
        ],
    }


def test_the_same_order_sent_twice_makes_one_order_and_replays_the_first_result(api, store_sh):
    member = MemberFactory(store=store_sh)
    first = api().post("/api/v1/orders/", order_body(member), content_type="application/json")
    again = api().post("/api/v1/orders/", order_body(member), content_type="application/json")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()
    assert Order.objects.count() == 1
    assert PointsEntry.objects.filter(kind="earn").count() == 1
    changed = order_body(member, total="300.00")
    mismatch = api().post("/api/v1/orders/", changed, content_type="application/json")
    assert (
        mismatch.status_code == 409 and mismatch.json()["error"]["code"] == "idempotency_mismatch"
    )


def test_the_same_order_sent_20_times_concurrently_makes_one_order(api, store_sh):
    member = MemberFactory(store=store_sh)
    body = order_body(member)
    responses = run_threads(
        20, lambda i: api().post("/api/v1/orders/", body, content_type="application/json")
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 200: 19}
    first = next(r.json() for r in responses if r.status_code == 201)
    assert all(r.json() == first for r in responses)  # every replay got the first result
    assert Order.objects.count() == 1
    assert PointsEntry.objects.filter(kind="earn").count() == 1
    member.refresh_from_db()
    assert member.points_balance == 299 and member.purchase_count == 1


def test_concurrent_first_orders_by_phone_enrol_one_member(api, store_sh):
    def send(i):
        body = order_body(Member(code="x"), external_id=f"E-{i}", total="10.00")
        body["member"] = "13812345678"
        return api().post("/api/v1/orders/", body, content_type="application/json")

    responses = run_threads(10, send)
    assert all(r.status_code == 201 for r in responses)
    member = Member.objects.get(phone="+8613812345678")
    # 3 orders as a Member (10 points each), then VIP from the 3rd on: 7 x 12 points.
    assert member.purchase_count == 10 and member.points_balance == 3 * 10 + 7 * 12


def test_concurrent_batches_enrolling_the_same_new_phones_enrol_each_once(api, store_sh, caplog):
    """Four batches, each with the same 40 new phones in its own order, at once: the set-based
    enrolment itself (no fall-back to one by one) must give one member per phone, no deadlock."""
    phones = [f"139{n:08d}" for n in range(40)]

    def send(i):
        order = phones if i % 2 == 0 else list(reversed(phones))
        bodies = []
        for k, phone in enumerate(order):
            body = order_body(Member(code="x"), external_id=f"B{i}-{k}", total="10.00")
            body["member"] = phone
            bodies.append(body)
        return api().post(
            "/api/v1/orders/batch/", {"orders": bodies}, content_type="application/json"
        )

    responses = run_threads(4, send)
    assert [r.status_code for r in responses] == [200] * 4
    assert all(x["status"] == 201 for r in responses for x in r.json()["results"])
    assert Member.objects.count() == 40
    assert set(Member.objects.values_list("purchase_count", flat=True)) == {4}
    assert Order.objects.count() == 160
    assert not [r for r in caplog.records if "fell back" in r.getMessage()]


def test_50_concurrent_redemptions_against_a_balance_for_10(api, store_sh):
    member = MemberFactory(store=store_sh)
    points_adjust(member=member, points=1000, reason="opening balance", actor=None)

    def redeem(i):
        return api().post(
            f"/api/v1/members/{member.code}/points/redemptions/",
            {"points": 100, "reason": "coffee"},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )

    responses = run_threads(50, redeem)
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 10, 409: 40}
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "insufficient_points"
    }
    member.refresh_from_db()
    assert member.points_balance == 0
    assert sum(PointsEntry.objects.filter(member=member).values_list("points", flat=True)) == 0


def test_concurrent_replays_of_one_redemption_key_spend_once(api, store_sh):
    member = MemberFactory(store=store_sh)
    points_adjust(member=member, points=1000, reason="opening balance", actor=None)
    responses = run_threads(
        10,
        lambda i: api().post(
            f"/api/v1/members/{member.code}/points/redemptions/",
            {"points": 300, "reason": "gift"},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="same-key",
        ),
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 200: 9}
    member.refresh_from_db()
    assert member.points_balance == 700


def test_20_concurrent_redemptions_of_one_voucher(api, store_sh):
    member = MemberFactory(store=store_sh)
    voucher = voucher_issue(template=VoucherTemplate.objects.get(code="cny10"), member=member)
    responses = run_threads(
        20,
        lambda i: api().post(
            f"/api/v1/vouchers/{voucher.code}/redeem/",
            {"store": "SH01"},
            content_type="application/json",
        ),
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 409: 19}
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "voucher_already_redeemed"
    }
    assert Voucher.objects.get().status == "redeemed"
