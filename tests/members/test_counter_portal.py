"""The clerk's counter and the member portal: the card and its actions, the purchase preview and
the VIP celebration, the portal pages, and that nobody reaches another store's or member's data."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.models import AuditEntry
from members.models import (
    Child,
    ConsentRecord,
    GiftGrant,
    Member,
    Order,
    PointsEntry,
    Product,
    Profile,
    Reward,
    VoucherTemplate,
)
from members.services.vouchers import voucher_issue
from tests.factories import MemberFactory
from tests.members.helpers import buy

pytestmark = pytest.mark.django_db


@pytest.fixture
def products(db):
    return [
        Product.objects.create(
            sku="MASK-10", name="补水面膜 10 片", category="skincare", price=Decimal("129.00")
        ),
        Product.objects.create(
            sku="BREAD-1", name="全麦吐司", category="bakery", price=Decimal("18.50")
        ),
    ]


def _vip(member):
    for _ in range(3):
        buy(member, 100)
    member.refresh_from_db()
    assert member.tier.code == "vip"
    return member


# --- Finding a member ---------------------------------------------------------------------------


def test_last_four_plus_name_narrows_and_exact_phone_opens_the_card(clerk_client, store_sh):
    a = MemberFactory(store=store_sh, phone="+8613911118000", name="王小明")
    MemberFactory(store=store_sh, phone="+8613922228000", name="李雷")
    url = reverse("counter:store", args=["SH01"])
    r = clerk_client.get(url, {"q": "8000"})
    assert len(r.context["results"]) == 2
    r = clerk_client.get(url, {"q": "8000 王"})
    assert [m.code for m in r.context["results"]] == [a.code]
    r = clerk_client.get(url, {"q": "王 8000"})
    assert [m.code for m in r.context["results"]] == [a.code]
    # An exact number (typed, or a code scanned from the portal card) opens the card at once.
    r = clerk_client.get(url, {"q": "139 1111 8000"})
    card = reverse("counter:member", args=["SH01", a.code])
    assert r.status_code == 302 and r["Location"] == card + "?phone=139+1111+8000"
    assert "13911118000" in clerk_client.get(r["Location"]).content.decode()  # the number searched
    r = clerk_client.get(
        reverse("counter:search", args=["SH01"]), {"q": a.code}, HTTP_HX_REQUEST="true"
    )
    assert r["HX-Redirect"] == reverse("counter:member", args=["SH01", a.code])
    assert AuditEntry.objects.filter(action="counter.lookup").count() == 5


# --- The card ----------------------------------------------------------------------------------


def test_card_shows_what_to_apply_now_in_few_queries(clerk_client, member, operator, settings):
    _vip(member)
    Member.objects.filter(pk=member.pk).update(
        birthday=date.today().replace(year=1990, day=1), owner=operator
    )
    Child.objects.create(member=member, name="小宝", birth_date=date.today() - timedelta(days=500))
    Profile.objects.create(member=member, likes="抹茶", skin_type="dry", allergies="坚果")
    voucher_issue(template=VoucherTemplate.objects.get(code="cny10"), member=member)
    GiftGrant.objects.create(member=member, name_zh="试用装", name_en="Trial kit")
    from members.models import Note, Pet

    Pet.objects.create(member=member, name="豆豆", species="dog")
    Note.objects.create(member=member, author=operator, body="上次问过新款精华")
    Note.objects.create(member=member, author=operator, body="喜欢少糖", created_at=timezone.now())
    url = reverse("counter:member", args=["SH01", member.code])
    clerk_client.get(url)  # warm the per-process caches (rules, store codes)
    with CaptureQueriesContext(connection) as queries:
        r = clerk_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert r.status_code == 200
    assert len(queries) <= 10, "\n".join(q["sql"][:150] for q in queries.captured_queries)
    html = r.content.decode()
    assert "9折" in html  # VIP: 10% off, said the Chinese way
    assert 'data-tier="vip"' in html and "data-birthday" in html
    assert 'data-child-stage="toddler"' in html and "坚果" in html and "抹茶" in html
    assert "试用装" in html and "data-voucher=" in html
    assert "data-pet" in html and "豆豆" in html  # pets as chips
    assert "data-latest-note" in html and "喜欢少糖" in html and "上次问过" not in html
    assert "Operator Zhou" in html
    assert member.masked_phone in html and member.phone[3:] not in html
    assert (
        "2 more purchases" in r.context["gift_ahead"]["name"]
        or r.context["gift_ahead"]["missing"] == 2
    )
    assert AuditEntry.objects.filter(
        action="counter.card_opened", target_id=str(member.pk)
    ).exists()


def test_a_member_of_another_store_is_served_here_and_stays_theirs(
    clerk_client, clerk_sh, store_sh, store_bj, products, operator
):
    """The chain rule: a BJ01 member, found at the SH01 counter by the exact phone or code, is
    served at SH01 (purchase, voucher, gift booked there); their store and advisor stay; the
    profile and notes stay BJ01's to change; the BJ01 counter stays closed to the SH01 clerk."""
    from scrm.masking import mask_name

    other = MemberFactory(store=store_bj, phone="+8613700137000", owner=operator, name="王小明")
    gift = GiftGrant.objects.create(member=other, name_zh="礼盒", name_en="Gift box")
    template = VoucherTemplate.objects.get(code="cny10")
    voucher = voucher_issue(template=template, member=other)
    bj_order = Order.objects.get(pk=buy(other, 50, store=store_bj)["id"])
    url = reverse("counter:store", args=["SH01"])
    r = clerk_client.get(url, {"q": "137 0013 7000"})  # the full phone finds them
    card_url = reverse("counter:member", args=["SH01", other.code])
    assert r.status_code == 302 and r["Location"].startswith(card_url)
    r = clerk_client.get(url, {"q": other.code.lower()})  # so does the code (or its QR)
    assert r.status_code == 302 and r["Location"] == card_url
    assert not clerk_client.get(url, {"q": "7000"}).context["results"]  # last four: fenced
    card = clerk_client.get(card_url)
    html = card.content.decode()
    assert card.status_code == 200 and "data-cross-store" in html
    assert other.phone[3:] not in html  # masked as on any card
    assert other.name not in html and mask_name(other.name) in html  # outside one's stores
    # Re-pricing the basket is no service: one audit row for the sale, not one per change.
    purchase = reverse("counter:purchase", args=["SH01", other.code])
    for _ in range(3):
        clerk_client.post(purchase, {"sku": "MASK-10", "qty": "1"}, HTTP_HX_REQUEST="true")
    assert not AuditEntry.objects.filter(action="counter.cross_store_served").exists()
    assert reverse("counter:note", args=["SH01", other.code]) not in html
    r = clerk_client.post(
        reverse("counter:purchase", args=["SH01", other.code]),
        {"sku": "MASK-10", "qty": "1", "action": "confirm", "token": "t-1"},
    )
    assert r.status_code == 302
    sale = Order.objects.filter(member=other).exclude(pk=bj_order.pk).get()
    assert sale.store_id == store_sh.pk  # booked at the clerk's store
    clerk_client.post(reverse("counter:gift_fulfil", args=["SH01", other.code, gift.pk]))
    clerk_client.post(
        reverse("counter:voucher_redeem", args=["SH01", other.code]), {"voucher": voucher.code}
    )
    gift.refresh_from_db()
    voucher.refresh_from_db()
    assert gift.status == "fulfilled" and voucher.status == "redeemed"
    assert voucher.redeemed_store_id == store_sh.pk
    other.refresh_from_db()
    assert other.store_id == store_bj.pk and other.owner_id == operator.pk  # theirs still
    # Changes to the profile are the home store's.
    r = clerk_client.post(reverse("counter:note", args=["SH01", other.code]), {"body": "x"})
    assert r.status_code == 302 and other.notes.count() == 0
    r = clerk_client.get(reverse("counter:member_profile", args=["SH01", other.code]))
    assert r.status_code == 302 and r["Location"] == card_url
    # A receipt of the BJ01 sale is not shown at SH01; the SH01 one is.
    r = clerk_client.get(reverse("counter:receipt", args=["SH01", other.code, bj_order.pk]))
    assert r.status_code == 302
    r = clerk_client.get(reverse("counter:receipt", args=["SH01", other.code, sale.pk]))
    assert r.status_code == 200
    # The BJ01 counter itself stays closed to the SH01 clerk.
    assert clerk_client.get(reverse("counter:member", args=["BJ01", other.code])).status_code == 403
    actions = set(
        AuditEntry.objects.filter(target_id=str(other.pk)).values_list("action", flat=True)
    )
    assert {
        "counter.cross_store_lookup",
        "counter.cross_store_card",
        "counter.cross_store_served",
    } <= actions


def test_enrolling_a_number_of_another_store_opens_their_card(clerk_client, store_bj):
    other = MemberFactory(store=store_bj, phone="+8613700137001")
    r = clerk_client.post(reverse("counter:enrol", args=["SH01"]), {"phone": "13700137001"})
    assert r.status_code == 302
    assert r["Location"] == reverse("counter:member", args=["SH01", other.code])
    assert Member.objects.filter(phone=other.phone).count() == 1


# --- Enrol ---------------------------------------------------------------------------------------


def test_enrol_with_consent_then_the_same_number_finds_the_member(clerk_client, clerk_sh, store_bj):
    url = reverse("counter:enrol", args=["SH01"])
    r = clerk_client.post(url, {"phone": "12345", "name": "张三"})
    assert r.status_code == 200 and "phone" in r.context["form"].errors
    assert not Member.objects.exists()
    r = clerk_client.post(
        url, {"phone": "139 0000 1234", "name": "张三", "consent_sms": "on", "consent_portal": "on"}
    )
    m = Member.objects.get(phone="+8613900001234")
    assert r.status_code == 302 and r["Location"] == reverse(
        "counter:member", args=["SH01", m.code]
    )
    assert m.store.code == "SH01" and m.channel == "store"
    assert m.consent_sms and m.consent_portal and not m.consent_email
    assert set(
        ConsentRecord.objects.filter(member=m).values_list("channel", "source", "actor")
    ) == {
        ("sms", "store", clerk_sh.pk),
        ("portal", "store", clerk_sh.pk),
    }
    r = clerk_client.post(url, {"phone": "13900001234"})
    assert r.status_code == 302 and Member.objects.count() == 1
    MemberFactory(store=store_bj, phone="+8613900005678")
    r = clerk_client.post(url, {"phone": "13900005678"})  # a member of the brand: their card
    assert r.status_code == 302 and r["Location"].startswith("/counter/SH01/members/")


# --- Purchase ------------------------------------------------------------------------------------


def test_third_purchase_at_the_counter_makes_a_vip_with_a_celebration(
    clerk_client, member, products
):
    buy(member, 100)
    buy(member, 100)
    url = reverse("counter:purchase", args=["SH01", member.code])
    r = clerk_client.post(
        url,
        {"sku": ["MASK-10", "BREAD-1"], "qty": ["2", "1"], "price": ["", ""]},
        HTTP_HX_REQUEST="true",
    )
    quote = r.context["quote"]
    assert (
        quote.subtotal == Decimal("276.50") and quote.tier_percent == 0
    )  # still Member: no discount
    assert quote.points == 276 and b'data-total="276.50"' in r.content
    token = r.context["token"]
    form = {
        "sku": ["MASK-10", "BREAD-1"],
        "qty": ["2", "1"],
        "price": ["", ""],
        "token": token,
        "action": "confirm",
    }
    r = clerk_client.post(url, form)
    order = Order.objects.get(source="counter", member=member)
    assert r.status_code == 302 and r["Location"] == reverse(
        "counter:receipt", args=["SH01", member.code, order.pk]
    )
    assert order.total == Decimal("276.50") and order.points_earned == 276
    assert sum(ln.amount for ln in order.lines.all()) == order.total
    r = clerk_client.get(r["Location"])
    assert 'data-celebrate="vip"' in r.content.decode()
    assert r.context["gift_ahead"]["missing"] == 2
    # A double tap: the same token books nothing more.
    clerk_client.post(url, form)
    assert Order.objects.filter(source="counter").count() == 1
    member.refresh_from_db()
    assert member.tier.code == "vip" and member.purchase_count == 3


def test_vip_discount_and_voucher_are_priced_before_confirming(clerk_client, member, products):
    _vip(member)
    voucher = voucher_issue(template=VoucherTemplate.objects.get(code="cny10"), member=member)
    url = reverse("counter:purchase", args=["SH01", member.code])
    data = {"sku": ["MASK-10"], "qty": ["1"], "price": [""], "voucher": [voucher.code]}
    r = clerk_client.post(url, data, HTTP_HX_REQUEST="true")
    q = r.context["quote"]
    # 129.00, VIP 10% off = 12.90, then the 10 CNY voucher: 106.10 to pay.
    assert (q.subtotal, q.tier_discount, q.voucher_discount, q.total) == (
        Decimal("129.00"),
        Decimal("12.90"),
        Decimal("10.00"),
        Decimal("106.10"),
    )
    balance = member.points_balance
    r = clerk_client.post(url, data | {"token": r.context["token"], "action": "confirm"})
    assert r.status_code == 302
    voucher.refresh_from_db()
    member.refresh_from_db()
    assert voucher.status == "redeemed"
    order = Order.objects.get(source="counter")
    assert order.total == Decimal("106.10")
    # VIP earns at 1.2x? The tier's multiplier applies, whatever it is.
    assert member.points_balance - balance == order.points_earned == q.points


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"sku": ["NOPE"], "qty": ["1"]}, "lines[0].sku"),
        ({"sku": ["MASK-10"], "qty": ["0"]}, "lines[0].quantity"),
        ({"sku": ["MASK-10"], "qty": ["1"], "price": ["-3"]}, "lines[0].price"),
        ({"sku": ["MASK-10"], "qty": ["1"], "voucher": ["NOTMINE"]}, "vouchers"),
        ({}, "lines"),
    ],
)
def test_bad_baskets_are_refused_with_the_field_and_book_nothing(
    clerk_client, member, products, data, field
):
    url = reverse("counter:purchase", args=["SH01", member.code])
    r = clerk_client.post(url, data | {"action": "confirm"})
    assert r.status_code == 400 and field in r.context["quote"].errors
    assert not Order.objects.exists()


# --- Gifts, vouchers, notes ------------------------------------------------------------------------


def test_clerk_fulfils_a_gift_and_it_leaves_the_card(clerk_client, member):
    for _ in range(5):
        buy(member, 60)
    gift = GiftGrant.objects.get(member=member, status="pending")
    card = reverse("counter:member", args=["SH01", member.code])
    assert f'data-gift="{gift.pk}"' in clerk_client.get(card).content.decode()
    r = clerk_client.post(reverse("counter:gift_fulfil", args=["SH01", member.code, gift.pk]))
    assert r.status_code == 302
    gift.refresh_from_db()
    assert gift.status == "fulfilled" and gift.fulfilled_store.code == "SH01"
    assert f'data-gift="{gift.pk}"' not in clerk_client.get(card).content.decode()
    clerk_client.post(reverse("counter:gift_fulfil", args=["SH01", member.code, gift.pk]))
    assert GiftGrant.objects.get(pk=gift.pk).status == "fulfilled"  # once only


def test_redeem_a_voucher_and_add_a_note_from_the_card(clerk_client, member):
    voucher = voucher_issue(template=VoucherTemplate.objects.get(code="cny10"), member=member)
    url = reverse("counter:voucher_redeem", args=["SH01", member.code])
    clerk_client.post(url, {"voucher": voucher.code})
    voucher.refresh_from_db()
    assert voucher.status == "redeemed" and voucher.redeemed_store.code == "SH01"
    r = clerk_client.post(url, {"voucher": voucher.code}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "can&#x27;t be used again" in r.content.decode()
    clerk_client.post(reverse("counter:note", args=["SH01", member.code]), {"body": "喜欢少糖"})
    assert member.notes.get().body == "喜欢少糖"


# --- Portal -----------------------------------------------------------------------------------------


def test_portal_home_says_what_is_missing(member_client, member):
    for _ in range(3):
        buy(member, 100)
    html = member_client.get(reverse("portal:home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "2 more purchases to your gift" in html
    assert re.search(r"CNY 2,?700\.00 more this year to Gold", html), html[:2000]
    assert 'data-tier="vip"' in html


def test_portal_pages_render_for_the_member(member_client, member):
    buy(member, 100)
    voucher_issue(template=VoucherTemplate.objects.get(code="cny10"), member=member)
    for name in PORTAL_NAMES:
        for lang in ("zh-hans", "en"):
            r = member_client.get(reverse(f"portal:{name}"), HTTP_ACCEPT_LANGUAGE=lang)
            assert r.status_code == 200, (name, lang)
    html = member_client.get(reverse("portal:vouchers")).content.decode()
    assert "<svg" in html and "data-voucher=" in html


def test_rewards_redeem_once_including_a_donation(member_client, member):
    buy(member, 700)  # 700 points
    donation = Reward.objects.get(code="donate_children_books")  # 500 points
    token = "t-1"
    member_client.post(reverse("portal:rewards"), {"reward": donation.code, "token": token})
    member_client.post(
        reverse("portal:rewards"), {"reward": donation.code, "token": token}
    )  # replay
    member.refresh_from_db()
    assert member.points_balance == 200
    assert PointsEntry.objects.filter(member=member, kind="redeem").count() == 1
    r = member_client.post(
        reverse("portal:rewards"), {"reward": "voucher_cny10", "token": "t-2"}, follow=True
    )
    member.refresh_from_db()
    assert member.points_balance == 200  # 1000 needed: refused, nothing spent
    assert r.status_code == 200


def test_member_edits_profile_children_and_preferences(member_client, member, store_sh):
    r = member_client.post(
        reverse("portal:profile"), {"section": "profile", "likes": "芒果", "skin_type": "oily"}
    )
    assert r.status_code == 302 and Profile.objects.get(member=member).skin_type == "oily"
    member_client.post(
        reverse("portal:profile"),
        {
            "section": "child",
            "name": "乐乐",
            "due_date": (date.today() + timedelta(days=60)).isoformat(),
        },
    )
    assert member.children.get().stage() == "pregnancy"
    r = member_client.post(
        reverse("portal:profile"), {"section": "child", "birth_date": "2999-01-01"}
    )
    assert r.status_code == 400 and member.children.count() == 1
    # Another member's child: not found, not removed.
    other = MemberFactory(store=store_sh)
    theirs = Child.objects.create(member=other, birth_date=date(2024, 1, 1))
    r = member_client.post(reverse("portal:profile"), {"section": "child_delete", "id": theirs.pk})
    assert r.status_code == 404 and Child.objects.filter(pk=theirs.pk).exists()
    member_client.post(
        reverse("portal:preferences"), {"sms": "on", "frequency": "weekly", "action": "save"}
    )
    member.refresh_from_db()
    assert member.consent_sms and member.frequency == "weekly"
    assert ConsentRecord.objects.filter(member=member, source="portal", channel="sms").exists()
    member_client.post(reverse("portal:preferences"), {"action": "opt_out"})
    member.refresh_from_db()
    assert member.marketing_opt_out


def test_member_downloads_then_deletes_their_data(member_client, member):
    buy(member, 100)
    r = member_client.post(reverse("portal:privacy"), {"action": "export"})
    assert r["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert any(n.endswith(".json") for n in names)
    r = member_client.post(reverse("portal:privacy"), {"action": "delete", "confirm": "WRONG"})
    assert r.status_code == 400 and Member.objects.get(pk=member.pk).erased_at is None
    r = member_client.post(
        reverse("portal:privacy"), {"action": "delete", "confirm": member.code.lower()}
    )
    assert r.status_code == 302
    member.refresh_from_db()
    assert member.erased_at is not None and member.name == ""
    assert Order.objects.get(member=member).total == Decimal("100.00")  # amounts kept
    assert member_client.get(reverse("portal:home")).status_code == 302  # signed out


# --- Nobody reads another member's data -------------------------------------------------------------


def _portal_paths():
    out = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                out.append("/" + prefix + str(p.pattern))

    walk(get_resolver().url_patterns)
    return sorted(p for p in out if p.startswith("/portal/"))


# A portal URL with an id names one of the member's own things, looked up among theirs only
# (another member's id is a 404: tests/campaigns/test_portal_inbox.py); never a member.
OWN_THINGS = {"/portal/inbox/<int:pk>/"}
PORTAL_PATHS = [p for p in _portal_paths() if p not in OWN_THINGS]


def test_the_portal_urls_carry_no_member_id():
    assert "/portal/vouchers/" in PORTAL_PATHS and len(PORTAL_PATHS) >= 10
    assert not [p for p in PORTAL_PATHS if "<" in p]  # nothing to change in a URL
    assert set(_portal_paths()) >= OWN_THINGS


@pytest.mark.parametrize("path", PORTAL_PATHS)
def test_no_portal_page_shows_another_members_data(member_client, member, store_sh, path):
    other = MemberFactory(store=store_sh, name="隔壁老王", phone="+8613977776666", code="MOTHER9")
    buy(other, 300)
    voucher = voucher_issue(template=VoucherTemplate.objects.get(code="cny10"), member=other)
    for query in ("", f"?code={other.code}&member={other.code}&id={other.pk}"):
        r = member_client.get(path + query)
        body = r.content.decode(errors="ignore") if r.status_code == 200 else ""
        body = body.replace(query.replace("&", "&amp;"), "")  # the language switch echoes the URL
        assert other.code not in body and "隔壁老王" not in body and voucher.code not in body
        assert "7777" not in body


def _api_paths() -> list[str]:
    out = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                out.append("/" + prefix + str(p.pattern))

    walk(get_resolver().url_patterns)
    return sorted(
        {p for p in out if p.startswith("/api/v1/") and "schema" not in p and "docs" not in p}
    )


API_PATHS = _api_paths()


def test_the_api_walk_found_the_member_routes():
    assert any("members/<" in p for p in API_PATHS) and any("vouchers/<" in p for p in API_PATHS)


@pytest.mark.parametrize("path", API_PATHS)
def test_a_signed_in_member_gets_nothing_from_any_api_route(member_client, store_sh, path):
    other = MemberFactory(store=store_sh, code="MOTHER9")
    order_id = buy(other, 100)["id"]
    voucher = voucher_issue(template=VoucherTemplate.objects.get(code="cny10"), member=other)
    url = re.sub(
        r"<(?:\w+:)?(\w+)>",
        lambda m: {"code": other.code, "order_id": str(order_id), "pk": str(order_id)}.get(
            m[1], voucher.code
        ),
        path,
    )
    if "vouchers/<" in path:
        url = re.sub(r"<(?:\w+:)?\w+>", voucher.code, path)
    for method in ("get", "post", "patch"):
        r = getattr(member_client, method)(url, {}, content_type="application/json")
        assert r.status_code in (401, 403, 405), (method, url, r.status_code)
        assert other.code.encode() not in r.content and voucher.code.encode() not in r.content
    voucher.refresh_from_db()
    assert voucher.status == "available"


def test_members_get_nothing_from_staff_pages(member_client, store_sh):
    other = MemberFactory(store=store_sh)
    for path in [
        f"/console/members/{other.code}/",
        f"/counter/SH01/members/{other.code}/",
        f"/counter/SH01/members/{other.code}/profile/",
    ]:
        r = member_client.get(path)
        assert r.status_code == 403, (path, r.status_code)
        assert other.code.encode() not in r.content


def test_product_search_needs_the_member_and_never_fails(clerk_client, products, member):
    url = reverse("counter:products", args=["SH01"])
    assert clerk_client.get(url, {"q": "面膜"}).status_code == 200  # no member: nothing to add
    r = clerk_client.get(url, {"q": "面膜", "member": member.code})
    assert 'data-sku="MASK-10"' in r.content.decode()
    assert 'data-sku="BREAD-1"' not in r.content.decode()


def test_every_portal_and_counter_page_costs_at_most_10_queries(
    member_client, clerk_client, member, products
):
    for _ in range(3):
        buy(member, 100)
    voucher_issue(template=VoucherTemplate.objects.get(code="cny10"), member=member)
    GiftGrant.objects.create(member=member, name_zh="礼盒", name_en="Gift box")
    order_id = Order.objects.filter(member=member).latest("id").pk
    pages = [(member_client, reverse(f"portal:{name}")) for name in PORTAL_NAMES] + [
        (clerk_client, url)
        for url in [
            reverse("counter:store", args=["SH01"]),
            reverse("counter:store", args=["SH01"]) + "?q=8000",
            reverse("counter:member", args=["SH01", member.code]),
            reverse("counter:purchase", args=["SH01", member.code]),
            reverse("counter:receipt", args=["SH01", member.code, order_id]),
            reverse("counter:enrol", args=["SH01"]),
        ]
    ]
    for client, url in pages:
        client.get(url)  # warm the per-process caches
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200, url
        assert len(queries) <= 10, (url, [q["sql"][:120] for q in queries.captured_queries])


PORTAL_NAMES = [
    "home",
    "card",
    "account",
    "vouchers",
    "points",
    "rewards",
    "tiers",
    "profile",
    "preferences",
    "privacy",
]


# --- Full-width digits (Chinese input methods) ------------------------------------------------


def test_full_width_digits_find_the_member_at_the_counter(clerk_client, store_sh):
    a = MemberFactory(store=store_sh, phone="+8613911118000", name="王小明")
    url = reverse("counter:store", args=["SH01"])
    r = clerk_client.get(url, {"q": "１３９１１１１８０００"})
    assert r.status_code == 302 and a.code in r["Location"]  # opens the card, not "enrol"
    r = clerk_client.get(url, {"q": "８０００"})
    assert [m.code for m in r.context["results"]] == [a.code]
    r = clerk_client.get(url, {"q": "139111１8000x"})  # still not a number: no card, no enrol
    assert r.status_code == 200 and not r.context["results"]


def test_full_width_quantities_and_prices_are_read_at_the_counter(clerk_client, member, products):
    url = reverse("counter:purchase", args=["SH01", member.code])
    data = {"sku": ["MASK-10"], "qty": ["２"], "price": ["￥１，２８０．５０"]}
    q = clerk_client.post(url, data, HTTP_HX_REQUEST="true").context["quote"]
    assert not q.errors and q.subtotal == Decimal("2561.00")
    bad = clerk_client.post(url, data | {"price": ["12.345"]}, HTTP_HX_REQUEST="true")
    assert "lines[0].price" in bad.context["quote"].errors


def test_a_full_width_phone_signs_in_and_a_mixed_one_gets_no_code(client, member_user):
    from accounts import sms

    phone = member_user.phone.removeprefix("+86")
    wide = "".join(chr(ord(c) + 0xFEE0) for c in phone)
    r = client.post("/accounts/login/code/", {"phone": wide})
    assert r.status_code == 302 and len(sms.outbox) == 1
    assert sms.outbox[0].to == member_user.phone
    sms.outbox.clear()
    from django.test import Client

    r = Client().post("/accounts/login/code/", {"phone": wide[:-1] + "x"})
    assert r.status_code == 200 and not sms.outbox


def test_a_counter_sale_gets_a_short_readable_receipt_number(clerk_client, member, products):
    import re

    url = reverse("counter:purchase", args=["SH01", member.code])
    page = clerk_client.get(url)
    token = page.context["token"]
    assert re.fullmatch(r"SH01-\d{6}-[0-9A-HJKMNP-TV-Z]{8}", token)
    data = {"sku": ["MASK-10"], "qty": ["1"], "token": token, "action": "confirm"}
    clerk_client.post(url, data)
    clerk_client.post(url, data)  # a double tap
    order = Order.objects.get(source="counter")
    assert order.external_id == token
    assert (
        token
        in clerk_client.get(
            reverse("counter:receipt", args=["SH01", member.code, order.pk])
        ).content.decode()
    )


# --- Keeping the tier (members.loyalty.tier_hold) on the portal home and the counter card ------


def _gold(member):
    from tests.members.helpers import days_ago

    buy(member, "1500.00", at=days_ago(300))
    buy(member, "1000.00", at=days_ago(100))
    buy(member, "800.00", at=days_ago(10))
    member.refresh_from_db()
    assert member.tier.code == "gold"
    oldest = Order.objects.filter(member=member).order_by("placed_at").first().placed_at
    return timezone.localtime(oldest + timedelta(days=365)).date()


def test_a_gold_members_home_says_until_when_and_what_keeps_it(member_client, member):
    from django.utils.formats import date_format

    until = _gold(member)
    en = member_client.get(reverse("portal:home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    day = date_format(until, "j M Y")
    assert f'Gold until <span class="nowrap">{day}</span> · CNY 1,200.00 more to keep it' in en
    assert "our top tier" in en
    zh = member_client.get(reverse("portal:home"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert f'<span class="nowrap">{until.isoformat()}</span>' in zh and "¥1,200.00" in zh


def test_the_counter_card_says_it_too_within_10_queries(clerk_client, member):
    until = _gold(member)
    url = reverse("counter:member", args=["SH01", member.code])
    clerk_client.get(url)  # warm the per-process caches
    with CaptureQueriesContext(connection) as queries:
        r = clerk_client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert len(queries) <= 10, "\n".join(q["sql"][:300] for q in queries.captured_queries)
    html = r.content.decode()
    assert 'data-tier-hold="spend"' in html and "CNY 1,200.00 more to keep it" in html
    assert r.context["tier_hold"].last_day == until


def test_a_tier_by_purchases_is_said_to_be_kept(member_client, member):
    _vip(member)
    html = member_client.get(reverse("portal:home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-tier-hold="purchases"' in html and "VIP is yours to keep" in html


def test_the_gold_portal_home_costs_at_most_10_queries(member_client, member):
    _gold(member)
    member_client.get(reverse("portal:home"))
    with CaptureQueriesContext(connection) as queries:
        assert member_client.get(reverse("portal:home")).status_code == 200
    assert len(queries) <= 10, [q["sql"][:120] for q in queries.captured_queries]


def test_counts_points_and_money_have_thousands_separators_in_both_languages(
    member_client, member, operator_client
):
    from members.services.points import points_adjust

    _gold(member)
    points_adjust(member=member, points=15_208, reason="迁移", actor=None)
    Member.objects.filter(pk=member.pk).update(
        price_sensitivity=Decimal("0.125"), next_purchase_due=date.today() - timedelta(days=3)
    )
    for lang in ("zh-hans", "en"):
        home = member_client.get(reverse("portal:home"), HTTP_ACCEPT_LANGUAGE=lang)
        assert "data-points>18,508<" in home.content.decode()
        detail = operator_client.get(
            reverse("members:detail", args=[member.code]), HTTP_ACCEPT_LANGUAGE=lang
        ).content.decode()
        assert "18,508" in detail and "¥3,300.00" in detail and "13%" in detail
        assert "0.125" not in detail
    en = operator_client.get(
        reverse("members:detail", args=[member.code]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    from django.utils.formats import date_format

    due = date_format(date.today() - timedelta(days=3), "j M Y")
    assert f'overdue since <span class="nowrap">{due}</span>' in en


def test_a_full_width_member_code_opens_the_card(clerk_client, store_bj):
    other = MemberFactory(store=store_bj, code="MBJ0042")
    wide = "".join(chr(ord(c) + 0xFEE0) for c in "mbj0042")
    r = clerk_client.get(reverse("counter:store", args=["SH01"]), {"q": wide})
    assert r.status_code == 302 and r["Location"] == reverse(
        "counter:member", args=["SH01", other.code]
    )
