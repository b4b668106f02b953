"""An operator builds the segment "toddler-stage children, dormant, opted in to SMS" and sees the
count change as conditions are added, saves and exports it; the Member 360 page on both screens."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from accounts import roles
from members.models import Child, Segment
from tests.e2e.test_journeys import staff_sign_in
from tests.factories import MemberFactory, StoreFactory, make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(db):
    sh = StoreFactory(code="SH01", name="上海静安嘉里店", city="上海")
    make_staff(roles.OPERATOR, email="operator@example.com", name="周敏")
    today = date.today()
    toddler = today - timedelta(days=500)
    baby = today - timedelta(days=60)
    people = [
        # (stage, sms, child birth) -> only the first two match all three conditions
        ("dormant", True, toddler),
        ("dormant", True, toddler),
        ("dormant", False, toddler),
        ("dormant", True, baby),
        ("repeat", True, toddler),
        ("dormant", True, None),
        ("lapsed", True, toddler),
    ]
    members = []
    for i, (stage, sms, birth) in enumerate(people):
        m = MemberFactory(
            store=sh, name=f"妈妈{i}", lifecycle_stage=stage, consent_sms=sms, purchase_count=2
        )
        if birth:
            Child.objects.create(member=m, name="宝宝", birth_date=birth)
        members.append(m)
    return {"members": members}


def _count(page) -> int:
    return int(page.locator("#segment-count [data-count]").get_attribute("data-count"))


def _wait_count(page, n: int) -> None:
    page.wait_for_function(
        f"() => document.querySelector('#segment-count [data-count]')?.dataset.count === '{n}'"
    )


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_operator_builds_saves_and_exports_a_segment(world, open_page, shoot, lang):
    page = open_page(lang=lang)
    staff_sign_in(page, "operator@example.com")
    page.goto("/console/members/segments/")
    shoot(page, f"segments-empty-{lang}-1280")
    page.click("a[href$='/segments/new/']")
    assert _count(page) == 7

    # 1. Child's stage: toddler
    page.select_option("select[name=g0_c0_field]", "child_stage")
    page.wait_for_selector("input[name=g0_c0_value][value=toddler]")
    page.check("input[name=g0_c0_value][value=toddler]")
    _wait_count(page, 5)

    # 2. Lifecycle stage: dormant
    page.click("button[value='add:0']")
    page.wait_for_selector("select[name=g0_c1_field]")
    page.select_option("select[name=g0_c1_field]", "lifecycle_stage")
    page.wait_for_selector("input[name=g0_c1_value][value=dormant]")
    page.check("input[name=g0_c1_value][value=dormant]")
    _wait_count(page, 3)

    # 3. Reachable on SMS
    page.click("button[value='add:0']")
    page.wait_for_selector("select[name=g0_c2_field]")
    page.select_option("select[name=g0_c2_field]", "consent")
    page.wait_for_selector("input[name=g0_c2_value][value=sms]")
    page.check("input[name=g0_c2_value][value=sms]")
    _wait_count(page, 2)
    shoot(page, f"segment-builder-{lang}-1280")

    page.fill("#seg-name", "幼儿 · 沉睡 · 短信" if lang == "zh-hans" else "Toddlers, dormant, SMS")
    page.click("button[value=save]")
    page.wait_for_url("**/segments/*/")
    segment = Segment.objects.get()
    assert segment.last_count == 2
    assert [c["field"] for c in segment.definition["groups"][0]["conditions"]] == [
        "child_stage",
        "lifecycle_stage",
        "consent",
    ]
    shoot(page, f"segment-detail-{lang}-1280")

    with page.expect_download() as download:
        page.click("a[data-export]")
    with open(download.value.path(), encoding="utf-8-sig") as f:
        body = f.read()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert {r["code"] for r in rows} == {m.code for m in world["members"][:2]}

    # The 360 page of one of them, on a desktop and on a phone.
    page.goto(f"/console/members/{world['members'][0].code}/")
    assert "宝宝" in page.content()
    shoot(page, f"member-360-{lang}-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    shoot(page, f"member-360-{lang}-390")
