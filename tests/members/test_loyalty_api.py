"""The API of orders, refunds, points, vouchers and tiers: shapes, status codes and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import apikey_create
from members.models import Member, Order, TierChange, Voucher, VoucherTemplate
from members.services import points_adjust, tiers_evaluate_daily, voucher_issue, vouchers_expire_due
from tests.factories import MemberFactory
from tests.members.helpers import buy, days_ago, logged

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(db):
    _key, plain = apikey_create(name="POS", actor=None)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {plain}", HTTP_ACCEPT_LANGUAGE="en")
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def member(store_sh):
    return MemberFactory(store=store_sh, code="M7Q2K9X")


def body(member_ref="M7Q2K9X", **over):
    data = {
        "source": "pos",
        "external_id": "SH01-1",
        "member": member_ref,
        "store": "SH01",
        "placed_at": "2026-11-22T10:31:00+08:00",
        "total": "299.00",
        "lines": [
            {
                "sku": "MASK-10",
                "name": "Hydrating mask x10",
                "category": "skincare",
                "quantity": 2,
                "amount": "299.00",
            }
        ],
    }
    data.update(over)
    return data


def post(api, url, data, **kw):
    return api.post(url, data, content_type="application/json", **kw)


def test_order_ingest_answers_with_the_card_and_events(api, member):
    r = post(api, "/api/v1/orders/", body())
    assert r.status_code == 201
    data = r.json()
    assert data["points_earned"] == 299
    assert data["member"]["code"] == "M7Q2K9X" and data["member"]["points_balance"] == 299
    assert data["member"]["tier"] == {"code": "member", "name": "Member"}
    assert {"type": "points_earned", "points": 299, "debt_repaid": 0} in data["events"]
    order = Order.objects.get()
    assert order.store.code == "SH01" and order.lines.get().product.category == "skincare"


def test_an_order_by_phone_enrols_an_unknown_member(api, store_sh):
    r = post(api, "/api/v1/orders/", body(member_ref="+86 139 0000 1111"))
    assert r.status_code == 201
    assert Member.objects.get(phone="+8613900001111").purchase_count == 1


def test_batch_items_stand_alone(api, member):
    good = body(external_id="B-1")
    bad = body(external_id="B-2", total="1.00")
    unknown = body(external_id="B-3", member_ref="MNOPE12")
    r = post(api, "/api/v1/orders/batch/", {"orders": [good, bad, unknown, good, "nonsense"]})
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["status"] for x in results] == [201, 400, 400, 200, 400]
    assert results[1]["error"]["fields"]["total"] and results[1]["order"] is None
    assert "member" in results[2]["error"]["fields"]
    assert results[3]["order"] == results[0]["order"]
    assert Order.objects.count() == 1


def test_batch_of_more_than_1000_is_refused(api, member):
    r = post(
        api, "/api/v1/orders/batch/", {"orders": [body(external_id=str(i)) for i in range(1001)]}
    )
    assert r.status_code == 400 and "orders" in r.json()["error"]["fields"]


def test_refund_api_is_idempotent_on_external_id(api, member):
    order = post(api, "/api/v1/orders/", body()).json()
    url = f"/api/v1/orders/{order['id']}/refunds/"
    first = post(api, url, {"external_id": "R-1", "amount": "99.00"})
    again = post(api, url, {"external_id": "R-1", "amount": "99.00"})
    assert first.status_code == 201 and again.status_code == 200 and again.json() == first.json()
    assert first.json()["points_reversed"] == 99
    other = post(api, url, {"external_id": "R-1", "amount": "10.00"})
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_mismatch"
    too_much = post(api, url, {"external_id": "R-2", "amount": "500.00"})
    assert (
        too_much.status_code == 409 and too_much.json()["error"]["code"] == "refund_exceeds_order"
    )


def test_points_history_and_redemption_of_a_voucher_reward(api, member):
    points_adjust(member=member, points=1500, reason="opening balance", actor=None)
    r = post(
        api,
        f"/api/v1/members/{member.code}/points/redemptions/",
        {"points": 1000, "reward": "voucher_cny10"},
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert r.status_code == 201
    issued = r.json()["issued"]
    assert (
        issued["kind"] == "voucher" and Voucher.objects.get(code=issued["voucher"]).member == member
    )
    replay = post(
        api,
        f"/api/v1/members/{member.code}/points/redemptions/",
        {"points": 1000, "reward": "voucher_cny10"},
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert replay.status_code == 200 and replay.json() == r.json()
    mismatch = post(
        api,
        f"/api/v1/members/{member.code}/points/redemptions/",
        {"points": 1000, "reason": "x"},
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert (
        mismatch.status_code == 409 and mismatch.json()["error"]["code"] == "idempotency_mismatch"
    )
    history = api.get(f"/api/v1/members/{member.code}/points/").json()
    assert [e["kind"] for e in history["results"]] == ["redeem", "adjust"]
    assert history["results"][0]["balance_after"] == 500
    assert set(history["results"][0]) == {
        "id",
        "kind",
        "points",
        "balance_after",
        "reason",
        "order",
        "expires_at",
        "created_at",
    }


def test_redemption_needs_an_idempotency_key_and_a_known_reward(api, member):
    url = f"/api/v1/members/{member.code}/points/redemptions/"
    assert (
        post(api, url, {"points": 10, "reason": "x"}).json()["error"]["code"]
        == "idempotency_key_required"
    )
    r = post(api, url, {"points": 10, "reward": "nope"}, HTTP_IDEMPOTENCY_KEY="a")
    assert r.status_code == 400 and "reward" in r.json()["error"]["fields"]
    r = post(api, url, {"points": 10, "reason": "x"}, HTTP_IDEMPOTENCY_KEY="b")
    assert r.status_code == 409 and r.json()["error"]["code"] == "insufficient_points"


def test_a_reward_out_of_stock_is_a_409_and_takes_nothing(api, member):
    from members.models import Reward

    points_adjust(member=member, points=1500, reason="opening balance", actor=None)
    Reward.objects.filter(code="voucher_cny10").update(stock=0)
    url = f"/api/v1/members/{member.code}/points/redemptions/"
    r = post(api, url, {"points": 1000, "reward": "voucher_cny10"}, HTTP_IDEMPOTENCY_KEY="s-1")
    assert r.status_code == 409 and r.json()["error"]["code"] == "reward_unavailable"
    member.refresh_from_db()
    assert member.points_balance == 1500


def test_vouchers_validate_redeem_and_expire(api, member):
    template = VoucherTemplate.objects.get(code="cny50_over_300")
    voucher = voucher_issue(template=template, member=member)
    assert voucher.expires_at - timezone.now() > timedelta(days=59)
    info = api.get(f"/api/v1/vouchers/{voucher.code}/").json()
    assert (
        info["status"] == "available"
        and info["min_spend"] == "300.00"
        and info["member"] == member.code
    )
    assert info["value"]["amount"] == "50.00"
    listed = api.get(f"/api/v1/members/{member.code}/vouchers/").json()
    assert [v["code"] for v in listed["results"]] == [voucher.code]
    # "CNY 50 off 300" on an order that paid 249 (so cost 299 before it): refused, nothing kept
    paid_249 = [{"sku": "A", "quantity": 1, "amount": "249.00"}]
    r = post(api, "/api/v1/orders/", body(total="249.00", vouchers=[voucher.code], lines=paid_249))
    assert r.status_code == 409 and r.json()["error"]["code"] == "voucher_min_spend"
    assert not Order.objects.exists()
    r = post(
        api,
        "/api/v1/orders/",
        body(
            total="250.00",  # 300 before the voucher: exactly the minimum spend
            vouchers=[voucher.code],
            lines=[{"sku": "A", "quantity": 1, "amount": "250.00"}],
        ),
    )
    assert (
        r.status_code == 201
        and {"type": "voucher_redeemed", "voucher": voucher.code} in r.json()["events"]
    )
    again = post(api, f"/api/v1/vouchers/{voucher.code}/redeem/", {"store": "SH01"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "voucher_already_redeemed"
    old = voucher_issue(template=template, member=member, now=timezone.now() - timedelta(days=90))
    assert vouchers_expire_due() == 1
    expired = post(api, f"/api/v1/vouchers/{old.code}/redeem/", {})
    assert expired.status_code == 409 and expired.json()["error"]["code"] == "voucher_expired"


def test_a_voucher_of_another_member_cannot_be_used_in_an_order(api, member, store_sh):
    other = MemberFactory(store=store_sh)
    voucher = voucher_issue(template=VoucherTemplate.objects.get(code="cny10"), member=other)
    r = post(api, "/api/v1/orders/", body(vouchers=[voucher.code]))
    assert r.status_code == 409 and r.json()["error"]["code"] == "voucher_not_owned"


def test_per_member_limit_is_enforced(member):
    from scrm.exceptions import ApplicationError

    template = VoucherTemplate.objects.get(code="cny10")
    template.per_member_limit = 1
    template.save()
    voucher_issue(template=template, member=member)
    with pytest.raises(ApplicationError) as exc:
        voucher_issue(template=template, member=member)
    assert exc.value.code == "voucher_limit_reached"


def test_tiers_endpoint_lists_the_ladder_lowest_first(api):
    tiers = api.get("/api/v1/tiers/").json()
    assert [t["code"] for t in tiers] == ["member", "vip", "gold"]
    assert tiers[1]["thresholds"] == {"purchases": 3, "annual_spend": None}
    assert tiers[2]["thresholds"]["annual_spend"] == "3000.00" and tiers[2]["multiplier"] == "1.50"
    assert tiers[1]["benefits"][0] == {
        "code": "vip_discount",
        "name": "10% off",
        "kind": "discount",
        "percent": 10,
    }
    zh = api.get(
        "/api/v1/tiers/", HTTP_ACCEPT_LANGUAGE="zh-hans", HTTP_COOKIE="django_language=zh-hans"
    ).json()
    assert zh[1]["benefits"][0]["name"] == "9 折"


def test_gold_drops_only_after_the_grace_period_with_notice(member, time_machine):
    buy(member, "3000.00", at=days_ago(300))
    assert member.tier.code == "gold"
    time_machine.move_to(timezone.now() + timedelta(days=70))  # the order left the window
    tiers_evaluate_daily()
    member.refresh_from_db()
    assert member.tier.code == "gold" and member.downgrade_due_at is not None
    heard = logged("tier_downgrade_pending")
    assert [(e["member_id"], e["from_code"], e["to_code"]) for e in heard] == [
        (member.pk, "gold", "member")
    ]
    time_machine.move_to(timezone.now() + timedelta(days=31))
    tiers_evaluate_daily()
    member.refresh_from_db()
    assert member.tier.code == "member"
    assert TierChange.objects.filter(member=member, cause="daily").count() == 1
    assert [e["to_code"] for e in logged("tier_changed")][-1] == "member"


BAD_ORDERS = [
    ({"total": "abc"}, "total"),
    ({"total": "-5.00"}, "total"),
    ({"total": "1.005"}, "total"),
    ({"placed_at": "yesterday"}, "placed_at"),
    ({"lines": []}, "lines"),
    ({"lines": "nope"}, "lines"),
    ({"lines": [{"sku": "A", "quantity": 0, "amount": "299.00"}]}, "lines[0].quantity"),
    ({"lines": [{"sku": "A", "quantity": "two", "amount": "299.00"}]}, "lines[0].quantity"),
    ({"external_id": "x" * 101}, "external_id"),
    ({"source": "POS SYSTEM!"}, "source"),
    ({"member": ""}, "member"),
    ({"store": "NOPE"}, "store"),
    ({"vouchers": "V1"}, "vouchers"),
    ({"member": "not-a-phone"}, "member"),
    ({"member": "MUNKNOWN"}, "member"),
]


@pytest.mark.parametrize(("change", "field"), BAD_ORDERS)
def test_bad_orders_name_the_field(api, member, change, field):
    r = post(api, "/api/v1/orders/", body(**change))
    assert r.status_code == 400, r.content
    error = r.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"], error
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("method", "url", "payload"),
    [
        ("post", "/api/v1/orders/", "[1, 2"),
        ("post", "/api/v1/orders/batch/", '{"orders": 5}'),
        ("post", "/api/v1/orders/batch/", "[]"),
        ("post", "/api/v1/members/M7Q2K9X/points/redemptions/", '{"points": -1, "reason": "x"}'),
        ("post", "/api/v1/members/M7Q2K9X/points/redemptions/", '{"points": "many"}'),
        ("post", "/api/v1/vouchers/VNOPE/redeem/", "{}"),
        ("post", "/api/v1/orders/999999/refunds/", '{"external_id": "x", "amount": "1"}'),
        ("post", "/api/v1/members/", '{"phone": 13800138000.5}'),
        ("patch", "/api/v1/members/M7Q2K9X/", '{"email": "not-an-email"}'),
        ("patch", "/api/v1/members/M7Q2K9X/", '{"birthday": "31/02/2020"}'),
        ("get", "/api/v1/members/MNOPE/points/", None),
        ("get", "/api/v1/vouchers/VNOPE/", None),
    ],
)
def test_bad_input_to_every_endpoint_is_a_4xx_in_the_error_shape(api, member, method, url, payload):
    kwargs = {"content_type": "application/json"} if payload is not None else {}
    r = getattr(api, method)(url, payload, **kwargs) if payload is not None else api.get(url)
    assert 400 <= r.status_code < 500, (r.status_code, r.content)
    assert set(r.json()["error"]) >= {"code", "message", "fields"}


def test_oversized_body_is_413(api, member, settings):
    settings.SCRM_API_MAX_BODY_BYTES = 1000
    r = post(api, "/api/v1/orders/", body(external_id="x" * 2000))
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


def test_very_long_strings_are_refused_not_truncated(api, member):
    r = post(
        api,
        "/api/v1/orders/",
        body(lines=[{"sku": "S" * 10_000, "quantity": 1, "amount": "299.00"}]),
    )
    assert r.status_code == 400 and "lines[0].sku" in r.json()["error"]["fields"]


def test_member_card_and_patch(api, member):
    card = api.get(f"/api/v1/members/{member.code}/").json()
    for key in (
        "code",
        "phone",
        "name",
        "store",
        "tier",
        "points_balance",
        "purchase_count",
        "annual_spend",
        "lifecycle_stage",
        "next_tier",
        "benefits",
        "pending_gifts",
        "vouchers",
        "referral_code",
        "joined_at",
    ):
        assert key in card
    r = api.patch(
        f"/api/v1/members/{member.code}/",
        {"name": "林晓雨", "birthday": "1992-05-20"},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["name"] == "林晓雨"
    member.refresh_from_db()
    assert str(member.birthday) == "1992-05-20"


def test_a_failed_order_by_phone_enrols_nobody(api, store_sh):
    r = post(api, "/api/v1/orders/", body(member_ref="13911112222", vouchers=["VNOSUCH1234"]))
    assert r.status_code == 404
    assert not Member.objects.filter(phone="+8613911112222").exists()


def test_a_new_sku_from_a_rolled_back_order_is_made_again_not_reused(api, member):
    """The SKU -> product cache kept the id of a product whose transaction rolled back: the next
    order with that SKU failed on the missing product (an IntegrityError, a 500 on the API)."""
    from django.db import transaction

    from members.models import Product

    with pytest.raises(RuntimeError), transaction.atomic():
        r = post(api, "/api/v1/orders/", body(external_id="RB-1", lines=[_line("ROLLED-1")]))
        assert r.status_code == 201 and Product.objects.filter(sku="ROLLED-1").exists()
        raise RuntimeError("the surrounding transaction rolls back")
    assert not Product.objects.filter(sku="ROLLED-1").exists()
    again = post(api, "/api/v1/orders/", body(external_id="RB-2", lines=[_line("ROLLED-1")]))
    assert again.status_code == 201, again.content[:500]
    assert Product.objects.get(sku="ROLLED-1").order_lines.count() == 1
    batch = post(
        api,
        "/api/v1/orders/batch/",
        {"orders": [body(external_id="RB-3", lines=[_line("ROLLED-1")])]},
    )
    assert batch.json()["results"][0]["status"] == 201


def _line(sku: str) -> dict:
    return {"sku": sku, "name": "New", "category": "test", "quantity": 1, "amount": "299.00"}


def test_the_card_lists_only_vouchers_usable_now(api, member, time_machine):
    """The card listed every available voucher: one past its end (before the nightly job marks it)
    and one whose start date is still ahead were offered at the counter and in the API."""
    time_machine.move_to(timezone.now())
    template = VoucherTemplate.objects.get(code="cny50_over_300")
    usable = voucher_issue(template=template, member=member)
    ended = voucher_issue(template=template, member=member)
    ended.expires_at = timezone.now() - timedelta(minutes=1)
    ended.save(update_fields=["expires_at"])
    later = voucher_issue(template=template, member=member)
    later.valid_from = timezone.now() + timedelta(days=2)
    later.save(update_fields=["valid_from"])
    card = api.get(f"/api/v1/members/{member.code}/").json()
    assert [v["code"] for v in card["vouchers"]] == [usable.code]
    # The start date counts in an order too, not only at a redemption on its own.
    paid = [{"sku": "X", "quantity": 1, "amount": "250.00"}]
    r = post(api, "/api/v1/orders/", body(total="250.00", vouchers=[later.code], lines=paid))
    assert r.status_code == 409 and r.json()["error"]["code"] == "voucher_not_yet_valid"
