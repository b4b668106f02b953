"""Dates survive the Chinese interface: a date input gets an ISO value in every language (Django's
Chinese formats start with 2030/01/01, which <input type="date"> cannot read, so saving another
field erased the birthday). In zh and en: the console edits a member's email and the portal saves
a name; the birthday is still there, in the input and in the database."""

from __future__ import annotations

import re
from datetime import date

import pytest

from accounts import roles, sms
from members.models import Member
from tests.e2e.test_journeys import staff_sign_in
from tests.factories import MemberFactory, StoreFactory, make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
LANGS = ["zh-hans", "en"]
BIRTHDAY = date(1990, 5, 20)


@pytest.fixture
def world(db):
    sh = StoreFactory(code="SH01", name="上海静安嘉里店", city="上海")
    make_staff(roles.OPERATOR, email="operator@example.com", name="周敏")
    member = MemberFactory(
        store=sh, phone="+8613800138000", name="林晓雨", code="MDEMO23", birthday=BIRTHDAY
    )
    from members.services import member_portal_user

    member_portal_user(member.phone)
    return member


@pytest.mark.parametrize("lang", LANGS)
def test_saving_the_email_in_the_console_keeps_the_birthday(world, open_page, lang):
    page = open_page(lang=lang)
    staff_sign_in(page, "operator@example.com")
    page.goto(f"/console/members/{world.code}/")
    birthday = page.locator("form:has(input[value=details]) input[name=birthday]")
    assert birthday.input_value() == "1990-05-20"  # the browser read the value
    page.fill("form:has(input[value=details]) input[name=email]", f"lin-{lang}@example.com")
    page.click("form:has(input[value=details]) button[type=submit]")
    page.wait_for_load_state("networkidle")
    member = Member.objects.get(pk=world.pk)
    assert member.email == f"lin-{lang}@example.com" and member.birthday == BIRTHDAY
    page.reload()
    assert page.locator("form:has(input[value=details]) input[name=birthday]").input_value() == (
        "1990-05-20"
    )


@pytest.mark.parametrize("lang", LANGS)
def test_saving_the_name_in_the_portal_keeps_the_birthday(world, open_page, lang):
    page = open_page(lang=lang, width=375, height=812)
    page.goto("/accounts/login/code/")
    page.fill("#code-request-form input[name=phone]", "13800138000")
    page.click("#code-request-form button[type=submit]")
    page.locator("#code-confirm-form").wait_for()
    page.fill("#id_code", re.search(r"\b(\d{6})\b", sms.outbox[-1].text).group(1))
    page.click("#code-confirm-form button[type=submit]")
    page.locator("[data-member-card]").wait_for()
    page.goto("/portal/profile/")
    form = "form:has(input[value=details])"
    assert page.locator(f"{form} input[name=birthday]").input_value() == "1990-05-20"
    page.fill(f"{form} input[name=name]", "林晓")
    page.click(f"{form} button")
    page.wait_for_load_state("networkidle")
    member = Member.objects.get(pk=world.pk)
    assert member.name == "林晓" and member.birthday == BIRTHDAY
    page.reload()
    assert page.locator(f"{form} input[name=birthday]").input_value() == "1990-05-20"
