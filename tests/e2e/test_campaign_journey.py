"""An operator plans a Mid-Autumn campaign from the calendar, builds it, reads the dry run and
launches it; the relay sends; orders arrive; the results page shows the lift — in Chinese and in
English, with screenshots at 1280 and 375 px."""

from __future__ import annotations

import random
from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import roles
from campaigns.models import Campaign, CampaignMember, Message, MessageSettings
from campaigns.services.outbox import outbox_relay_batch
from members.models import Member, Segment
from members.services.idempotency import request_hash
from members.services.orders import LineIn, OrderIn, order_ingest
from tests.e2e.test_journeys import staff_sign_in
from tests.factories import StoreFactory, make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXT = {
    "zh-hans": {"festival": "中秋节", "launched": "已发布", "lift": "相对对照组提升"},
    "en": {
        "festival": "Mid-Autumn Festival",
        "launched": "Launched",
        "lift": "Lift over the holdout",
    },
}


@pytest.fixture
def world(db):
    store = StoreFactory(code="SH01", name="上海静安嘉里店", city="上海")
    make_staff(roles.OPERATOR, email="operator@example.com", name="周敏")
    Member.objects.bulk_create(
        [
            Member(
                code=f"MZ{i:05d}",
                phone=f"+86133{i:08d}",
                phone_last4=f"{i:04d}",
                name=f"会员{i}",
                store=store,
                consent_portal=True,
            )
            for i in range(200)
        ]
    )
    Segment.objects.create(name="全部会员", definition={"match": "all", "groups": []})
    # The operator's guard rails for this test: no quiet hours (CI runs at any hour).
    s = MessageSettings.current()
    s.quiet_start = s.quiet_end = time(0, 0)
    s.save()
    return {"store": store}


def _orders(campaign: Campaign, store) -> None:
    """Orders arrive: 45% of the treatment buy mooncakes in the window, 10% of the holdout."""
    rng = random.Random(15)
    for row in CampaignMember.objects.filter(campaign=campaign).select_related("member"):
        if rng.random() >= (0.45 if row.group == "treatment" else 0.10):
            continue
        data = OrderIn(
            source="e2e",
            external_id=f"moon-{row.member_id}",
            member=row.member.code,
            placed_at=timezone.now(),
            total=Decimal("268.00"),
            lines=[
                LineIn(
                    sku="BK-MOONCAKE", name="流心奶黄月饼礼盒", quantity=1, amount=Decimal("268.00")
                )
            ],
            store=store,
        )
        order_ingest(data=data, hash_=request_hash(data.external_id))


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_an_operator_plans_builds_launches_and_reads_a_mid_autumn_campaign(
    world, open_page, shoot, lang
):
    t = TEXT[lang]
    page = open_page(lang=lang)
    page.on("dialog", lambda dialog: dialog.accept())
    staff_sign_in(page, "operator@example.com")
    page.goto("/console/campaigns/?year=2027&month=9")
    shoot(page, f"campaign-calendar-{lang}-1280")
    cell = page.locator('[data-month-grid] [data-plan-day="2027-09-15"]')
    assert t["festival"] in cell.inner_text()
    cell.click()
    page.wait_for_load_state("networkidle")
    assert page.input_value("#id_name") == t["festival"]
    assert page.input_value("#id_starts_at") == "2027-09-12T10:00"
    # Built to start now, so that the test sees it run.
    start = timezone.localtime(timezone.now() - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#id_name", f"{t['festival']} 2027 · 回购")
    page.select_option("#id_kind", "value")
    page.select_option("#id_segment", label="全部会员")
    page.check('input[name=channels][value="portal"]')
    page.fill("#id_portal_body", "{name}，中秋快乐！月饼礼盒已为您备好。")
    page.fill("#id_starts_at", start)
    page.fill("#id_holdout_percent", "10")
    shoot(page, f"campaign-form-{lang}-1280")
    page.click("#campaign-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    campaign = Campaign.objects.get()
    assert campaign.occasion_date.isoformat() == "2027-09-15"
    assert "会员0，中秋快乐！" in page.content()  # the preview on a member of the audience
    page.click("[data-dry-run]")
    page.wait_for_load_state("networkidle")
    assert page.inner_text('[data-dry="treatment"]') == "180"
    assert page.inner_text('[data-dry="holdout"]') == "20"
    assert page.inner_text('[data-dry-channel="portal"] [data-sent]') == "180"
    shoot(page, f"campaign-dry-run-{lang}-1280")
    page.click("[data-launch]")
    page.wait_for_load_state("networkidle")
    assert t["launched"] in page.content()
    campaign.refresh_from_db()
    assert campaign.status == "running" and campaign.treatment_count == 180

    while outbox_relay_batch(limit=100):
        pass
    rows = Message.objects.filter(source_type="campaign", source_id=f"{campaign.pk}:0")
    assert rows.filter(status="delivered").count() == 180
    _orders(campaign, world["store"])

    page.goto(f"/console/campaigns/{campaign.pk}/results/")
    page.click("text=" + ("刷新" if lang == "zh-hans" else "Refresh"))
    page.wait_for_load_state("networkidle")
    lift = page.inner_text("[data-lift]")
    assert t["lift"] in lift
    assert page.locator("[data-significant]").count() == 1
    page.wait_for_selector("#conversion-chart canvas")
    shoot(page, f"campaign-results-{lang}-1280")
    page.click('[data-group="treatment"] [data-converted]')
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-member]").count() > 0
    shoot(page, f"campaign-members-{lang}-1280")

    phone = open_page(lang=lang, width=375, height=800)
    staff_sign_in(phone, "operator@example.com")
    for name, url in (
        ("calendar", "/console/campaigns/?year=2027&month=9"),
        ("detail", f"/console/campaigns/{campaign.pk}/"),
        ("results", f"/console/campaigns/{campaign.pk}/results/"),
    ):
        phone.goto(url)
        phone.wait_for_load_state("networkidle")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (name, width)
        shoot(phone, f"campaign-{name}-{lang}-375")
        if name == "calendar":  # a phone gets the month as a list
            assert phone.locator("[data-month-list]").is_visible()
            assert not phone.locator("[data-month-grid]").is_visible()
