"""Offers in the console: voucher templates (each kind, with errors named by field), issuing to one
member, a pasted list and a segment (preview then confirm, once per batch, within the per-member
limit, set-based), the list's counts and cost, rewards, products and their CSV import."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib import messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import AuditEntry
from members.models import Event, Member, Product, Reward, Segment, Voucher, VoucherTemplate
from members.services import voucher_issue
from members.services.offers import batch_key_new, vouchers_issue_many
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

BASE = "/console/offers"


def template_data(**over):
    data = {
        "code": "spring-50",
        "name_zh": "春季满减券",
        "name_en": "Spring voucher",
        "kind": "amount_off",
        "amount": "50",
        "percent": "",
        "gift_item": "",
        "buy_n": "",
        "get_m": "",
        "min_spend": "300",
        "valid_from": "",
        "valid_until": "",
        "valid_days": "30",
        "per_member_limit": "",
        "terms_zh": "",
        "terms_en": "",
        "is_active": "on",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def template(**over) -> VoucherTemplate:
    values = {
        "code": "t-amount",
        "name_zh": "券",
        "name_en": "Voucher",
        "kind": "amount_off",
        "amount": Decimal("20.00"),
        **over,
    }
    return VoucherTemplate.objects.create(**values)


def errors_of(response) -> dict:
    assert response.status_code == 200, response.status_code
    return response.context["form"].errors


# --- Templates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "values", "check"),
    [
        ("amount_off", {"amount": "50"}, lambda t: t.amount == Decimal("50.00")),
        ("percent_off", {"percent": "10", "amount": "99"}, lambda t: t.percent == 10),
        ("gift_item", {"gift_item": "小样礼包"}, lambda t: t.gift_item == "小样礼包"),
        ("buy_n_get_m", {"buy_n": "3", "get_m": "1"}, lambda t: (t.buy_n, t.get_m) == (3, 1)),
    ],
)
def test_operator_creates_a_template_of_each_kind(operator_client, kind, values, check):
    r = operator_client.post(f"{BASE}/vouchers/new/", template_data(kind=kind, **values))
    assert r.status_code == 302
    t = VoucherTemplate.objects.get(code="spring-50")
    assert t.kind == kind and check(t)
    # The values of other kinds are not kept (a percent voucher has no amount).
    if kind != "amount_off":
        assert t.amount is None
    entry = AuditEntry.objects.get(action="voucher_template.created", target_id=str(t.pk))
    assert entry.after["kind"] == kind and entry.before is None


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"amount": ""}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "10000000.01"}, "amount"),
        ({"kind": "percent_off", "percent": ""}, "percent"),
        ({"kind": "percent_off", "percent": "100"}, "percent"),
        ({"kind": "percent_off", "percent": "0"}, "percent"),
        ({"kind": "gift_item", "gift_item": "  "}, "gift_item"),
        ({"kind": "buy_n_get_m", "buy_n": "2", "get_m": ""}, "get_m"),
        ({"min_spend": "-1"}, "min_spend"),
        ({"valid_from": "2026-06-01T00:00", "valid_until": "2026-05-01T00:00"}, "valid_until"),
        ({"valid_days": "0"}, "valid_days"),
        ({"per_member_limit": "0"}, "per_member_limit"),
        ({"code": "has space"}, "code"),
        ({"kind": "free_lunch"}, "kind"),
    ],
)
def test_a_bad_template_is_refused_with_the_field_named(operator_client, over, field):
    errors = errors_of(operator_client.post(f"{BASE}/vouchers/new/", template_data(**over)))
    assert field in errors, errors
    assert not VoucherTemplate.objects.filter(code="spring-50").exists()


def test_a_taken_code_is_named_on_the_code_field(operator_client):
    template(code="spring-50")
    errors = errors_of(operator_client.post(f"{BASE}/vouchers/new/", template_data()))
    assert "code" in errors


def test_operator_edits_a_template_and_the_audit_shows_what_changed(operator_client):
    t = template(min_spend=Decimal("100.00"))
    r = operator_client.post(
        f"{BASE}/vouchers/{t.pk}/",
        template_data(code="ignored", amount="30", min_spend="100", per_member_limit="2"),
    )
    assert r.status_code == 302
    t.refresh_from_db()
    assert (t.code, t.amount, t.per_member_limit) == ("t-amount", Decimal("30.00"), 2)
    entry = AuditEntry.objects.get(action="voucher_template.updated")
    assert entry.before["amount"] == "20.00" and entry.after["amount"] == "30.00"
    assert entry.after["per_member_limit"] == 2 and "min_spend" not in entry.after


def test_the_stacking_setting_is_saved_on_and_off_through_the_console(operator_client):
    r = operator_client.post(f"{BASE}/vouchers/new/", template_data(stackable="on"))
    assert r.status_code == 302
    t = VoucherTemplate.objects.get(code="spring-50")
    assert t.stackable is True
    page = operator_client.get(f"{BASE}/vouchers/{t.pk}/").content.decode()
    assert re.search(r'<input type="checkbox" name="stackable"[^>]* checked', page)
    # Unticked: a checkbox left off sends nothing, and that means off.
    r = operator_client.post(f"{BASE}/vouchers/{t.pk}/", template_data())
    assert r.status_code == 302
    t.refresh_from_db()
    assert t.stackable is False
    entry = AuditEntry.objects.get(action="voucher_template.updated")
    assert entry.before["stackable"] is True and entry.after["stackable"] is False
    page = operator_client.get(f"{BASE}/vouchers/{t.pk}/").content.decode()
    assert not re.search(r'<input type="checkbox" name="stackable"[^>]* checked', page)
    r = operator_client.post(f"{BASE}/vouchers/{t.pk}/", template_data(stackable="on"))
    t.refresh_from_db()
    assert r.status_code == 302 and t.stackable is True


def test_the_kind_of_a_template_with_vouchers_stays(operator_client, member):
    t = template()
    voucher_issue(template=t, member=member)
    operator_client.post(
        f"{BASE}/vouchers/{t.pk}/", template_data(kind="percent_off", percent="10", amount="20")
    )
    t.refresh_from_db()
    assert t.kind == "amount_off" and t.amount == Decimal("20.00")


# --- The list: counts and cost -----------------------------------------------------------------


def test_the_list_shows_issued_redeemed_expired_available_and_cost_in_bounded_queries(
    operator_client, store_sh, django_assert_max_num_queries
):
    amount = template(code="cny20", amount=Decimal("20.00"))
    percent = template(code="pct10", kind="percent_off", amount=None, percent=10)
    members = [MemberFactory(store=store_sh) for _ in range(6)]
    vouchers = [voucher_issue(template=amount, member=m) for m in members]
    Voucher.objects.filter(pk__in=[vouchers[0].pk, vouchers[1].pk, vouchers[2].pk]).update(
        status="redeemed", redeemed_at=timezone.now()
    )
    Voucher.objects.filter(pk=vouchers[3].pk).update(status="expired")
    # Past its end but not yet marked by the nightly job: expired all the same.
    Voucher.objects.filter(pk=vouchers[4].pk).update(expires_at=timezone.now() - timedelta(days=1))
    p = voucher_issue(template=percent, member=members[0])
    Voucher.objects.filter(pk=p.pk).update(status="redeemed")
    for n in range(30):
        template(code=f"extra-{n}")
    with django_assert_max_num_queries(8):
        html = operator_client.get(f"{BASE}/vouchers/").content.decode()
    html = operator_client.get(f"{BASE}/vouchers/?q=cny20").content.decode()
    row = re.search(r'data-template="cny20">(.*?)</tr>', html, re.S)[1]
    assert re.search(r"data-issued>6<", row) and re.search(r"data-redeemed>3<", row)
    assert re.search(r"data-expired>2<", row) and re.search(r"data-available>1<", row)
    assert "¥60.00" in row
    html = operator_client.get(f"{BASE}/vouchers/?q=pct10").content.decode()
    row = re.search(r'data-template="pct10">(.*?)</tr>', html, re.S)[1]
    assert re.search(r"data-redeemed>1<", row) and re.search(r"data-cost>.*—", row, re.S)


def test_a_percent_off_voucher_redeemed_by_an_order_records_what_it_took(operator_client, store_sh):
    """Each voucher records what it took off its order's bill (one-by-one and batch ingest
    alike), so a percent-off template's cost is known."""
    from members.services.idempotency import request_hash
    from members.services.order_batch import order_ingest_many
    from tests.members.helpers import buy, order_in

    percent = template(code="pct15", kind="percent_off", amount=None, percent=15)
    a, b = MemberFactory(store=store_sh), MemberFactory(store=store_sh)
    va, vb = voucher_issue(template=percent, member=a), voucher_issue(template=percent, member=b)
    buy(a, Decimal("170.00"), vouchers=[va.code], before_vouchers=Decimal("200.00"))
    data = order_in(b, Decimal("85.00"), vouchers=[vb.code], before_vouchers=Decimal("100.00"))
    [(status, _body)] = order_ingest_many(items=[(data, request_hash(data.external_id))])
    assert status == 201
    va.refresh_from_db()
    vb.refresh_from_db()
    assert (va.redeemed_value, vb.redeemed_value) == (Decimal("30.00"), Decimal("15.00"))
    html = operator_client.get(f"{BASE}/vouchers/?q=pct15").content.decode()
    row = re.search(r'data-template="pct15">(.*?)</tr>', html, re.S)[1]
    assert "¥45.00" in row


def test_the_list_searches_and_pages_and_says_when_nothing_matches(operator_client):
    for n in range(30):
        template(code=f"bulk-{n:02d}", name_en=f"Bulk {n}")
    page1 = operator_client.get(f"{BASE}/vouchers/?q=bulk").content.decode()
    assert page1.count('data-template="bulk-') == 25 and "?q=bulk&amp;page=2" in page1
    page2 = operator_client.get(f"{BASE}/vouchers/?q=bulk&page=2").content.decode()
    assert page2.count('data-template="bulk-') == 5
    empty = operator_client.get(f"{BASE}/vouchers/?q=nothing-like-it")
    assert empty.context["rows"] == [] and 'class="empty"' in empty.content.decode()


# --- Issuing -----------------------------------------------------------------------------------


def preview(client, t, **data):
    r = client.post(f"{BASE}/vouchers/{t.pk}/issue/", {"action": "preview", **data})
    assert r.status_code == 200
    return r


def confirm(client, t, batch, **data):
    return client.post(
        f"{BASE}/vouchers/{t.pk}/issue/", {"action": "confirm", "batch": batch, **data}
    )


def test_issue_to_one_member_by_a_phone_typed_in_full_width_digits(operator_client, member):
    t = template()
    r = preview(operator_client, t, mode="one", member="１３８００１３８０００")
    assert r.context["plan"].will_receive == 1
    batch = r.context["batch"]
    r = confirm(operator_client, t, batch, mode="one", member="１３８００１３８０００")
    assert r.status_code == 302
    v = Voucher.objects.get(template=t)
    assert v.member == member and v.issue_key == f"batch:{batch}:{member.pk}"
    assert v.expires_at is None and v.status == "available"
    event = Event.objects.get(type="voucher_issued", member_id=member.pk)
    assert event.payload == {"voucher_code": v.code, "template": t.code, "source": "console"}
    entry = AuditEntry.objects.get(action="voucher.batch_issued")
    assert entry.after["issued"] == 1 and entry.after["recipients"] == 1


def test_an_unknown_single_member_is_a_field_error(operator_client, member):
    t = template()
    r = preview(operator_client, t, mode="one", member="M9999999")
    assert "member" in r.context["form"].errors and r.context["plan"] is None


def test_issue_to_a_pasted_list_lists_the_unknown_entries(operator_client, member, store_sh):
    t = template()
    other = MemberFactory(store=store_sh, code="MXYZ789", phone="+8613900001111")
    pasted = "mabc234\n13900001111，MNOPE99\n  \n12345"
    r = preview(operator_client, t, mode="list", members=pasted)
    assert r.context["plan"].will_receive == 2
    assert r.context["recipients"].unknown == ["MNOPE99", "12345"]
    html = r.content.decode()
    assert "MNOPE99" in html and "12345" in html and 'data-unknown="2"' in html
    confirm(operator_client, t, r.context["batch"], mode="list", members=pasted)
    assert set(Voucher.objects.filter(template=t).values_list("member_id", flat=True)) == {
        member.pk,
        other.pk,
    }


def test_issue_to_a_saved_segment(operator_client, member, store_sh, store_bj):
    t = template()
    bj = MemberFactory(store=store_bj)
    MemberFactory(store=store_sh)
    segment = Segment.objects.create(
        name="BJ",
        for_marketing=False,
        definition={
            "match": "all",
            "groups": [
                {"match": "all", "conditions": [{"field": "store", "op": "in", "value": ["BJ01"]}]}
            ],
        },
    )
    r = preview(operator_client, t, mode="segment", segment=segment.pk)
    assert r.context["plan"].will_receive == 1
    confirm(operator_client, t, r.context["batch"], mode="segment", segment=segment.pk)
    assert list(Voucher.objects.filter(template=t).values_list("member_id", flat=True)) == [bj.pk]


def test_the_same_batch_confirmed_twice_issues_once(operator_client, member, store_sh):
    t = template()
    MemberFactory(store=store_sh)
    segment = Segment.objects.create(
        name="all", definition={"match": "all", "groups": []}, for_marketing=False
    )
    r = preview(operator_client, t, mode="segment", segment=segment.pk)
    assert r.context["plan"].will_receive == 2
    batch = r.context["batch"]
    first = confirm(operator_client, t, batch, mode="segment", segment=segment.pk)
    second = confirm(operator_client, t, batch, mode="segment", segment=segment.pk)
    assert first.status_code == second.status_code == 302
    assert Voucher.objects.filter(template=t).count() == 2
    assert Event.objects.filter(type="voucher_issued").count() == 2
    shown = list(operator_client.get(second["Location"]).context["messages"])
    # The first confirm says how many were issued, the second that the batch was issued already.
    assert [m.level for m in shown] == [messages.SUCCESS, messages.INFO]
    # A new preview is a new batch: it issues again.
    r = preview(operator_client, t, mode="segment", segment=segment.pk)
    assert r.context["batch"] != batch
    confirm(operator_client, t, r.context["batch"], mode="segment", segment=segment.pk)
    assert Voucher.objects.filter(template=t).count() == 4


def test_the_per_member_limit_is_respected(operator_client, member, store_sh):
    t = template(per_member_limit=1)
    newcomer = MemberFactory(store=store_sh)
    voucher_issue(template=t, member=member)
    pasted = f"{member.code}\n{newcomer.code}"
    r = preview(operator_client, t, mode="list", members=pasted)
    plan = r.context["plan"]
    assert (plan.recipients, plan.will_receive, plan.at_limit) == (2, 1, 1)
    assert 'data-at-limit="1"' in r.content.decode()
    confirm(operator_client, t, r.context["batch"], mode="list", members=pasted)
    assert Voucher.objects.filter(template=t, member=member).count() == 1
    assert Voucher.objects.filter(template=t, member=newcomer).count() == 1
    entry = AuditEntry.objects.get(action="voucher.batch_issued")
    assert entry.after["skipped_at_limit"] == 1 and entry.after["issued"] == 1


def test_a_forged_or_missing_batch_key_issues_nothing(operator_client, member):
    t = template()
    r = confirm(operator_client, t, "x", mode="one", member=member.code)
    assert r.status_code == 200 and r.context["form"].non_field_errors()
    assert not Voucher.objects.exists()


def test_a_switched_off_template_is_not_issued(operator_client, member):
    t = template(is_active=False)
    r = confirm(operator_client, t, batch_key_new(), mode="one", member=member.code)
    assert r.status_code == 200 and r.context["problem"] and r.context["plan"] is None
    assert not Voucher.objects.exists()


def test_a_large_segment_is_issued_set_based_in_bounded_queries(
    operator_client, operator, store_sh, django_assert_max_num_queries
):
    Member.objects.bulk_create(
        [
            Member(code=f"MQ{n:05d}", phone=f"+86137{n:08d}", phone_last4=f"{n:04d}"[-4:])
            for n in range(3000)
        ]
    )
    t = template(per_member_limit=1, valid_days=30)
    segment = Segment.objects.create(
        name="all", definition={"match": "all", "groups": []}, for_marketing=False
    )
    r = preview(operator_client, t, mode="segment", segment=segment.pk)
    assert r.context["plan"].will_receive == 3000
    with django_assert_max_num_queries(15):
        r = confirm(operator_client, t, r.context["batch"], mode="segment", segment=segment.pk)
    assert r.status_code == 302
    assert Voucher.objects.filter(template=t).count() == 3000
    assert Voucher.objects.filter(template=t).values("code").distinct().count() == 3000
    assert Event.objects.filter(type="voucher_issued").count() == 3000
    v = Voucher.objects.filter(template=t).first()
    assert v.expires_at - v.issued_at == timedelta(days=30)
    # The service itself: a second batch finds everyone at the limit in a few queries.
    ids = list(Member.objects.values_list("pk", flat=True))
    with django_assert_max_num_queries(8):
        result = vouchers_issue_many(
            template=t, member_ids=ids, batch_key=batch_key_new(), actor=operator
        )
    assert (result.issued, result.at_limit) == (0, 3000)


# --- Rewards -----------------------------------------------------------------------------------


def test_operator_edits_a_reward_and_a_voucher_reward_needs_its_template(operator_client):
    reward = Reward.objects.get(code="voucher_cny10")
    data = {
        "name_zh": "10 元券",
        "name_en": "CNY 10 voucher",
        "kind": "voucher",
        "points_cost": "800",
        "voucher_template": "",
        "is_active": "on",
    }
    errors = errors_of(operator_client.post(f"{BASE}/rewards/{reward.pk}/", data))
    assert "voucher_template" in errors
    errors = errors_of(
        operator_client.post(f"{BASE}/rewards/{reward.pk}/", {**data, "points_cost": "0"})
    )
    assert "points_cost" in errors
    cny10 = VoucherTemplate.objects.get(code="cny10")
    r = operator_client.post(f"{BASE}/rewards/{reward.pk}/", {**data, "voucher_template": cny10.pk})
    assert r.status_code == 302
    reward.refresh_from_db()
    assert reward.points_cost == 800 and reward.voucher_template == cny10
    entry = AuditEntry.objects.get(action="reward.updated")
    assert entry.before == {"points_cost": 1000, "name_zh": "10 元无门槛券"}
    assert entry.after == {"points_cost": 800, "name_zh": "10 元券"}
    page = operator_client.get(f"{BASE}/rewards/").content.decode()
    assert 'data-reward="voucher_cny10"' in page and "800" in page


def test_operator_creates_a_gift_reward(operator_client):
    r = operator_client.post(
        f"{BASE}/rewards/new/",
        {
            "code": "tote-bag",
            "name_zh": "帆布袋",
            "name_en": "Tote bag",
            "kind": "gift",
            "points_cost": "1500",
            "voucher_template": VoucherTemplate.objects.get(code="cny10").pk,
        },
    )
    assert r.status_code == 302
    reward = Reward.objects.get(code="tote-bag")
    assert reward.voucher_template is None and not reward.is_active
    assert AuditEntry.objects.filter(action="reward.created", target_id=str(reward.pk)).exists()


# --- Products ----------------------------------------------------------------------------------


def test_operator_edits_a_products_cycle_and_kind(operator_client):
    p = Product.objects.create(sku="MASK-10", name="面膜", category="skincare")
    data = {"name": "面膜", "category": "skincare", "cycle_days": "0", "kind": "durable"}
    errors = errors_of(operator_client.post(f"{BASE}/products/{p.pk}/", data))
    assert "cycle_days" in errors
    r = operator_client.post(f"{BASE}/products/{p.pk}/", {**data, "cycle_days": "28"})
    assert r.status_code == 302
    p.refresh_from_db()
    assert (p.cycle_days, p.kind) == (28, "durable")
    entry = AuditEntry.objects.get(action="product.updated")
    assert entry.before == {"cycle_days": None, "kind": "consumable"}
    assert entry.after == {"cycle_days": 28, "kind": "durable"}


def test_products_are_searched_by_sku_or_name_and_paged(
    operator_client, django_assert_max_num_queries
):
    Product.objects.bulk_create(
        [Product(sku=f"SKU-{n:03d}", name=f"商品 {n}") for n in range(60)]
        + [Product(sku="TOAST", name="吐司")]
    )
    with django_assert_max_num_queries(8):
        page = operator_client.get(f"{BASE}/products/?q=sku-").content.decode()
    assert page.count('data-sku="SKU-') == 25 and "?q=sku-&amp;page=2" in page
    last = operator_client.get(f"{BASE}/products/?q=sku-&page=3").content.decode()
    assert last.count('data-sku="SKU-') == 10
    page = operator_client.get(f"{BASE}/products/?q=吐司").content.decode()
    assert 'data-sku="TOAST"' in page and 'data-sku="SKU-' not in page


def upload(client, text, action="import"):
    return client.post(
        f"{BASE}/products/import/",
        {"action": action, "file": SimpleUploadedFile("p.csv", text.encode("utf-8"), "text/csv")},
    )


def test_a_product_file_with_a_bad_row_changes_nothing_then_a_good_one_is_applied(operator_client):
    Product.objects.create(sku="MASK-10", name="面膜", category="skincare")
    bad = (
        "sku,name,category,cycle_days,kind,price\n"
        "MASK-10,,,30,consumable,199.00\n"
        "NEW-1,新品,baby,forever,durable,12.345\n"
        ",无 SKU,,,,\n"
        "NEW-2,,,,gadget,\n"
    )
    r = upload(operator_client, bad)
    assert r.status_code == 200
    errors = {(e["row"], e["column"]) for e in r.context["report"].errors}
    assert errors == {(3, "cycle_days"), (3, "price"), (4, "sku"), (5, "name"), (5, "kind")}
    html = r.content.decode()
    assert 'data-row="3" data-column="cycle_days"' in html
    assert Product.objects.count() == 1
    assert Product.objects.get(sku="MASK-10").cycle_days is None
    good = (
        "sku,name,category,cycle_days,kind,price\n"
        "MASK-10,,,30,consumable,199.00\n"
        "NEW-1,新品,baby,１４,耐用品,12.50\n"
    )
    checked = upload(operator_client, good, action="check")
    assert checked.status_code == 200 and not checked.context["report"].errors
    assert Product.objects.count() == 1  # a check changes nothing
    r = upload(operator_client, good)
    assert r.status_code == 302
    mask = Product.objects.get(sku="MASK-10")
    assert (mask.name, mask.cycle_days, mask.price) == ("面膜", 30, Decimal("199.00"))
    new = Product.objects.get(sku="NEW-1")
    assert (new.cycle_days, new.kind, new.price) == (14, "durable", Decimal("12.50"))
    assert AuditEntry.objects.filter(action="product.imported").count() == 2
    summary = AuditEntry.objects.get(action="products.import_applied")
    assert summary.after == {"rows": 2, "created": 1, "updated": 1}


def test_a_product_file_with_unknown_columns_or_not_csv_is_refused(operator_client):
    r = upload(operator_client, "sku,colour\nA,red\n")
    assert {(e["row"], e["column"]) for e in r.context["report"].errors} == {(1, "colour")}
    r = upload(operator_client, "a\x00b")
    assert r.context["report"].errors and not Product.objects.exists()


def test_the_sample_product_file_imports_cleanly(operator_client):
    sample = operator_client.get(f"{BASE}/products/sample.csv")
    assert sample["Content-Type"].startswith("text/csv")
    text = sample.content.decode("utf-8-sig")
    assert text.startswith("sku,name,category,cycle_days,kind,price")
    r = upload(operator_client, text)
    assert r.status_code == 302 and Product.objects.count() == 3


# --- Who may -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/vouchers/",
        "/vouchers/new/",
        "/vouchers/{t}/",
        "/vouchers/{t}/issue/",
        "/rewards/",
        "/rewards/new/",
        "/products/",
        "/products/import/",
        "/products/sample.csv",
    ],
)
def test_clerks_and_members_are_refused(clerk_client, member_client, member, path):
    t = template()
    url = BASE + path.format(t=t.pk)
    for client in (clerk_client, member_client):
        assert client.get(url).status_code == 403
        assert client.post(url, {"mode": "one", "member": member.code}).status_code == 403
    assert not Voucher.objects.exists()


def test_the_menu_offers_the_section_to_operators(operator_client):
    html = operator_client.get("/console/").content.decode()
    assert f'href="{BASE}/vouchers/"' in html
    assert operator_client.get(f"{BASE}/").status_code == 302


# --- Rewards: stock and the dates they are offered ---------------------------------------------


@pytest.mark.django_db
def test_a_reward_is_redeemed_only_while_offered_and_in_stock(member):
    from datetime import timedelta

    from django.utils import timezone

    from members.models import PointsEntry, Reward
    from members.services import points_adjust, points_redeem
    from scrm.exceptions import ApplicationError

    points_adjust(member=member, points=1000, reason="test", actor=None)
    reward = Reward.objects.create(
        code="tea", kind="gift", points_cost=100, name_zh="茶", name_en="Tea", stock=1
    )
    points_redeem(member=member, points=100, key="a", reward=reward)
    reward.refresh_from_db()
    assert reward.stock == 0 and not Reward.offered().filter(pk=reward.pk).exists()
    with pytest.raises(ApplicationError) as exc:
        points_redeem(member=member, points=100, key="b", reward=reward)
    assert exc.value.code == "reward_unavailable" and exc.value.status_code == 409
    now = timezone.now()
    Reward.objects.filter(pk=reward.pk).update(stock=None, available_from=now + timedelta(days=1))
    with pytest.raises(ApplicationError):
        points_redeem(member=member, points=100, key="c", reward=reward)
    Reward.objects.filter(pk=reward.pk).update(
        available_from=now - timedelta(days=2), available_until=now - timedelta(days=1)
    )
    with pytest.raises(ApplicationError):
        points_redeem(member=member, points=100, key="d", reward=reward)
    assert PointsEntry.objects.filter(member=member, kind="redeem").count() == 1
    member.refresh_from_db()
    assert member.points_balance == 900  # refused redemptions took nothing


@pytest.mark.django_db(transaction=True)
def test_two_members_racing_for_the_last_one_get_it_once(store_sh):
    import threading

    from django.db import connection

    from members.models import PointsEntry, Reward
    from members.services import points_adjust, points_redeem
    from scrm.exceptions import ApplicationError
    from tests.factories import MemberFactory

    reward = Reward.objects.create(
        code="last", kind="gift", points_cost=10, name_zh="礼", name_en="Gift", stock=1
    )
    people = [MemberFactory(store=store_sh) for _ in range(6)]
    for m in people:
        points_adjust(member=m, points=50, reason="test", actor=None)
    barrier = threading.Barrier(len(people))
    outcomes: list[str] = []

    def redeem(m):
        try:
            barrier.wait()
            points_redeem(member=m, points=10, key=f"race-{m.pk}", reward=reward)
            outcomes.append("ok")
        except ApplicationError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem, args=(m,)) for m in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] + ["reward_unavailable"] * 5
    assert PointsEntry.objects.filter(kind="redeem", reward=reward).count() == 1
    reward.refresh_from_db()
    assert reward.stock == 0


@pytest.mark.django_db
def test_the_console_edits_a_rewards_stock_and_dates(operator_client):
    from members.models import Reward

    reward = Reward.objects.create(
        code="mug", kind="gift", points_cost=300, name_zh="杯", name_en="Mug"
    )
    url = f"/console/offers/rewards/{reward.pk}/"
    data = {
        "name_zh": "杯",
        "name_en": "Mug",
        "kind": "gift",
        "points_cost": "300",
        "is_active": "on",
        "stock": "25",
        "available_from": "2026-12-01T10:00",
        "available_until": "2026-11-01T10:00",
    }
    r = operator_client.post(url, data)
    assert r.status_code == 200 and "available_until" in r.context["form"].errors
    r = operator_client.post(url, data | {"available_until": "2027-01-31T22:00"})
    assert r.status_code == 302
    reward.refresh_from_db()
    assert reward.stock == 25 and reward.available_until.year == 2027
