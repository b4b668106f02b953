"""Each kind of user signs in and does their first thing, in Chinese and in English."""

from __future__ import annotations

import re

import pytest

from accounts import roles, sms
from tests.factories import PASSWORD, MemberFactory, StoreFactory, make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LANGS = ["zh-hans", "en"]
TEXT = {
    "zh-hans": {
        "members": "会员",
        "counter": "门店收银台",
        "none": "本店未找到该会员",
        "portal": "会员俱乐部",
        "code": "会员码",
    },
    "en": {
        "members": "Members",
        "counter": "Counter",
        "none": "No member found in this store",
        "portal": "Member club",
        "code": "Member code",
    },
}


@pytest.fixture
def world(db):
    sh = StoreFactory(code="SH01", name="上海静安嘉里店", city="上海")
    bj = StoreFactory(code="BJ01", name="北京三里屯店", city="北京")
    make_staff(roles.OPERATOR, email="operator@example.com", name="周敏")
    make_staff(roles.CLERK, stores=[sh], email="clerk@example.com", name="王芳")
    MemberFactory(phone="+8613800138000", name="林晓雨", store=sh, code="MDEMO23")
    MemberFactory(phone="+8613700008000", name="张伟", store=bj)
    for i in range(6):
        MemberFactory(phone=f"+8615000000{i:03d}", name=f"会员{i}", store=sh)
    return {"sh": sh, "bj": bj}


def staff_sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#login-form input[name=login]", email)
    page.fill("#login-form input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("lang", LANGS)
def test_operator_signs_in_to_the_console_and_searches_members(world, open_page, shoot, lang):
    page = open_page(lang=lang)
    page.goto("/console/")
    assert "/accounts/login/" in page.url
    shoot(page, f"login-{lang}-1280")
    staff_sign_in(page, "operator@example.com")
    assert page.url.endswith("/console/")
    assert page.locator("[data-stat=members]").inner_text() == "8"
    nav = page.locator(".nav").inner_text()
    assert TEXT[lang]["members"] in nav and TEXT[lang]["counter"] in nav
    shoot(page, f"operator-home-{lang}-1280")

    page.click(f".nav a:has-text('{TEXT[lang]['members']}')")
    page.fill("#q", "林晓")
    page.wait_for_function("() => document.querySelectorAll('#member-table tbody tr').length === 1")
    assert "林晓雨" in page.locator("#member-table").inner_text()
    assert "q=%E6%9E%97%E6%99%93" in page.url  # htmx pushed the search into the address
    shoot(page, f"operator-members-{lang}-1280")


@pytest.mark.parametrize("lang", LANGS)
def test_clerk_finds_a_member_by_last_four_digits_on_a_phone(world, open_page, shoot, lang):
    page = open_page(lang=lang, width=390)
    staff_sign_in(page, "clerk@example.com")
    assert page.url.endswith("/counter/SH01/")
    page.fill("#counter-q", "8000")
    page.press("#counter-q", "Enter")
    hit = page.locator("[data-member=MDEMO23]")
    hit.wait_for()
    assert "138****8000" in hit.inner_text()
    assert page.locator(".hit").count() == 1  # the BJ01 member with the same last four is not shown
    shoot(page, f"clerk-counter-{lang}-390")

    page.fill("#counter-q", "13999999999")
    page.press("#counter-q", "Enter")
    page.get_by_text(TEXT[lang]["none"]).wait_for()

    page.goto("/counter/BJ01/")
    assert "403" in page.content()


@pytest.mark.parametrize("lang", LANGS)
def test_member_signs_in_with_an_sms_code_and_sees_their_card(world, open_page, shoot, lang):
    page = open_page(lang=lang, width=375, height=812)
    page.goto("/portal/")
    assert "/accounts/login/code/" in page.url
    shoot(page, f"member-sign-in-{lang}-375")
    page.fill("#code-request-form input[name=phone]", "138 0013 8000")
    page.click("#code-request-form button[type=submit]")
    page.locator("#code-confirm-form").wait_for()
    code = re.search(r"\b(\d{6})\b", sms.outbox[-1].text).group(1)
    assert sms.outbox[-1].to == "+8613800138000"
    page.fill("#id_code", code)
    page.click("#code-confirm-form button[type=submit]")
    page.locator("[data-member-card]").wait_for()
    assert page.url.endswith("/portal/")
    card = page.locator("[data-member-card]").inner_text()
    assert "林晓雨" in card and "MDEMO23" in card
    assert page.locator("[data-member-card] svg").count() == 1  # the QR code
    assert TEXT[lang]["portal"] in page.locator(".portal-top").inner_text()
    shoot(page, f"member-portal-{lang}-375")
    page.click(f".tabbar a:has-text('{TEXT[lang]['code']}')")
    page.locator("[data-qr] svg").wait_for()
    shoot(page, f"member-card-{lang}-375")


def test_language_switcher_and_phone_menu_work_in_the_browser(world, open_page):
    page = open_page(lang="zh-hans", width=390)
    staff_sign_in(page, "operator@example.com")
    assert "会员" in page.locator(".stat-title").first.inner_text()
    page.click(".topbar .lang-form button[value=en]")
    page.wait_for_load_state("networkidle")
    assert page.locator(".stat-title").first.inner_text() == "Members"
    assert (
        not page.locator("#sidebar").is_visible()
        or page.locator("#sidebar").bounding_box()["x"] < 0
    )
    page.click("[data-toggle-sidebar]")
    page.wait_for_timeout(300)
    assert page.locator("#sidebar").bounding_box()["x"] >= 0
