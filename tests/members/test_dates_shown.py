"""Dates shown to people are written the way their language writes them: 14 Apr 2026 (and
14 Apr 2026, 09:30) in English, 2026-04-14 in Chinese, on every console, counter and portal page
that shows one; the values of date inputs stay ISO (tests/e2e/test_dates.py)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.services import apikey_create, audit_record
from members.models import GiftGrant, Member, Reward, Voucher, VoucherTemplate
from members.services.profiles import child_save, note_add, pet_save
from members.services.segments import segment_save
from tests.members.helpers import buy

pytestmark = pytest.mark.django_db

ISO = re.compile(r"\b20\d\d-\d\d-\d\d\b")
SHANGHAI = ZoneInfo("Asia/Shanghai")
JOINED = datetime(2025, 5, 20, 10, 30, tzinfo=SHANGHAI)


class _Shown(HTMLParser):
    """The text a person reads: no script, style or code, and no attribute (an input's value is
    for the browser, in ISO). The audit log's change column is left out too: it shows the values
    as they were stored."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skipping: list[str] = []  # the tags of the elements being skipped, innermost last

    def handle_starttag(self, tag, attrs):
        hidden = tag in ("script", "style", "code", "svg")
        hidden = hidden or "diff" in (dict(attrs).get("class") or "").split()
        nested = bool(self._skipping) and tag == self._skipping[-1]  # counted to find its end
        if hidden or nested:
            self._skipping.append(tag)

    def handle_endtag(self, tag):
        if self._skipping and tag == self._skipping[-1]:
            self._skipping.pop()

    def handle_data(self, data):
        if not self._skipping and data.strip():
            self.parts.append(data.strip())


def _shown(client, url: str, lang: str) -> str:
    client.cookies["django_language"] = lang
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=lang)
    assert response.status_code == 200, (url, response.status_code)
    parser = _Shown()
    parser.feed(response.content.decode())
    return "\n".join(parser.parts)


@pytest.fixture
def dated(member, operator, admin_user, store_sh):
    """A member with a date on every part of their pages."""
    today = timezone.localdate()
    Member.objects.filter(pk=member.pk).update(
        joined_at=JOINED, birthday=date(1990, today.month, min(today.day, 28))
    )
    member.refresh_from_db()
    buy(member, 120)
    note_add(member=member, body="喜欢抹茶", actor=operator)
    child_save(member=member, name="乐乐", birth_date=date(2024, 3, 5), due_date=None, actor=None)
    pet_save(
        member=member,
        name="豆豆",
        species="dog",
        birthday=date(2021, 8, 9),
        vaccinations=[],
        actor=None,
    )
    template = VoucherTemplate.objects.create(
        code="TEN-OFF", name_zh="满百减十", name_en="10 off", kind="amount_off", amount=10
    )
    Voucher.objects.create(
        code="V1", template=template, member=member, expires_at=timezone.now() + timedelta(days=30)
    )
    GiftGrant.objects.create(member=member, name_zh="小样礼包", name_en="Sample kit")
    Reward.objects.create(
        code="mug",
        name_zh="马克杯",
        name_en="Mug",
        kind="gift",
        points_cost=100,
        available_until=timezone.now() + timedelta(days=60),
    )
    key, _plain = apikey_create(name="POS Shanghai", actor=admin_user)
    type(key).objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    definition = {"groups": [{"conditions": [{"field": "tier", "op": "in", "value": ["member"]}]}]}
    segment_save(name="全部会员", definition=definition, for_marketing=False, actor=operator)
    audit_record(actor=admin_user, action="store.updated", target=store_sh)
    return member


def _pages(member):
    code = member.code
    return [
        ("operator", reverse("console:home")),
        ("operator", reverse("members:list")),
        ("operator", reverse("members:detail", args=[code])),
        ("operator", reverse("members:points", args=[code])),
        ("operator", reverse("members:segment_list")),
        ("admin", reverse("members:event_log")),
        ("operator", reverse("offers:reward_list")),
        ("admin", reverse("accounts:audit_list")),
        ("admin", reverse("accounts:apikey_list")),
        ("admin", reverse("accounts:staff_list")),
        ("clerk", reverse("counter:member", args=["SH01", code])),
        ("member", reverse("portal:home")),
        ("member", reverse("portal:points")),
        ("member", reverse("portal:vouchers")),
    ]


def test_english_pages_write_dates_as_english_does(
    dated, operator_client, admin_client, clerk_client, member_client
):
    clients = {
        "operator": operator_client,
        "admin": admin_client,
        "clerk": clerk_client,
        "member": member_client,
    }
    iso = []
    for actor, url in _pages(dated):
        text = _shown(clients[actor], url, "en")
        iso += [f"{url} ({actor}): {m[0]}" for m in ISO.finditer(text)]
    assert not iso, "\n".join(iso)
    home = _shown(operator_client, reverse("console:home"), "en")
    assert "20 May 2025" in home
    page = _shown(operator_client, reverse("members:detail", args=[dated.code]), "en")
    assert "20 May 2025" in page and "5 Mar 2024" in page and "9 Aug" in page
    assert re.search(r"\b\d{1,2} [A-Z][a-z]{2} 20\d\d, \d\d:\d\d\b", page)  # the timeline
    card = _shown(clerk_client, reverse("counter:member", args=["SH01", dated.code]), "en")
    expires = timezone.localtime(Voucher.objects.get().expires_at)
    assert f"until {expires.day} {expires:%b} {expires.year}" in card
    assert f"({dated.birthday.day} {dated.birthday:%b})" in card  # birthday this month


def test_chinese_pages_write_dates_in_iso(dated, operator_client, clerk_client):
    page = _shown(operator_client, reverse("members:detail", args=[dated.code]), "zh-hans")
    assert "2025-05-20" in page and "2024-03-05" in page and "8月9日" in page
    assert not re.search(r"\b\d{1,2} [A-Z][a-z]{2} 20\d\d\b", page)
    card = _shown(clerk_client, reverse("counter:member", args=["SH01", dated.code]), "zh-hans")
    expires = timezone.localtime(Voucher.objects.get().expires_at).date()
    assert expires.isoformat() in card
    assert f"{dated.birthday.month}月{dated.birthday.day}日" in card


def test_a_voucher_not_valid_yet_names_its_day_in_the_readers_language(member):
    from django.utils import translation

    from members.services.vouchers import voucher_error

    template = VoucherTemplate.objects.create(
        code="LATER", name_zh="下月券", name_en="Next month", kind="amount_off", amount=Decimal(5)
    )
    voucher = Voucher.objects.create(
        code="V2",
        template=template,
        member=member,
        valid_from=datetime(2027, 2, 5, 0, 0, tzinfo=SHANGHAI),
    )
    with translation.override("en"):
        assert "5 Feb 2027" in voucher_error("voucher_not_yet_valid", voucher).message
    with translation.override("zh-hans"):
        assert "2027-02-05" in voucher_error("voucher_not_yet_valid", voucher).message
