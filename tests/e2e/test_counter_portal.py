"""The counter and the portal in the browser: a clerk records the third purchase and sees the VIP
celebration, the member sees it in the portal, a gift is handed over; screenshots at 375 and 1280
px in both languages."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import roles, sms
from members.models import GiftGrant, Product, VoucherTemplate
from members.services.vouchers import voucher_issue
from tests.e2e.test_journeys import staff_sign_in
from tests.factories import MemberFactory, StoreFactory, make_staff
from tests.members.helpers import buy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXT = {
    "zh-hans": {
        "celebrate": "欢迎成为",
        "gift": "再消费 2 次可得礼品",
        "vip": "VIP",
        "hand": "发放",
    },
    "en": {
        "celebrate": "Welcome to",
        "gift": "2 more purchases to your gift",
        "vip": "VIP",
        "hand": "Hand over",
    },
}


@pytest.fixture
def shop(db):
    sh = StoreFactory(code="SH01", name="上海静安嘉里店", city="上海")
    bj = StoreFactory(code="BJ01", name="北京三里屯店", city="北京")
    make_staff(roles.CLERK, stores=[sh], email="clerk@example.com", name="王芳")
    Product.objects.create(
        sku="MASK-10", name="补水面膜 10 片", category="skincare", price=Decimal("129.00")
    )
    Product.objects.create(
        sku="BREAD-1", name="全麦吐司", category="bakery", price=Decimal("18.50")
    )
    lin = MemberFactory(phone="+8613800138000", name="林晓雨", store=sh, code="MDEMO23")
    MemberFactory(phone="+8613911118000", name="王磊", store=sh)  # same last four, another name
    MemberFactory(phone="+8613700008000", name="张伟", store=bj)
    now = timezone.now()
    buy(lin, 199, at=now - timedelta(days=40))
    buy(lin, 89, at=now - timedelta(days=12))
    voucher_issue(template=VoucherTemplate.objects.get(code="cny10"), member=lin)
    return {"sh": sh, "lin": lin}


def _sign_in_member(page, phone: str) -> None:
    page.goto("/portal/")
    page.fill("#code-request-form input[name=phone]", phone)
    page.click("#code-request-form button[type=submit]")
    page.locator("#code-confirm-form").wait_for()
    code = re.search(r"\b(\d{6})\b", sms.outbox[-1].text).group(1)
    page.fill("#id_code", code)
    page.click("#code-confirm-form button[type=submit]")
    page.locator("[data-member-card]").wait_for()


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_third_purchase_at_the_counter_then_the_member_sees_vip(shop, open_page, shoot, lang):
    t = TEXT[lang]
    width = 390 if lang == "zh-hans" else 1280
    page = open_page(lang=lang, width=width, height=860)
    staff_sign_in(page, "clerk@example.com")
    page.fill("#counter-q", "8000 林")
    page.press("#counter-q", "Enter")
    hit = page.locator("[data-member=MDEMO23]")
    hit.wait_for()
    assert page.locator(".hit").count() == 1  # narrowed by the name
    hit.click()
    page.locator("[data-card=MDEMO23]").wait_for()
    assert "138****8000" in page.locator(".cc-head").inner_text()
    shoot(page, f"counter-card-{lang}-{width}")

    page.click("[data-action=purchase]")
    page.fill("#product-q", "面膜")
    page.locator("[data-sku=MASK-10]").click()
    page.locator("[data-line=MASK-10]").wait_for()
    page.fill("#product-q", "BREAD")
    page.locator("[data-sku=BREAD-1]").click()
    page.locator("[data-line=BREAD-1]").wait_for()
    total = page.locator(".cc-total")
    page.wait_for_function("() => document.querySelector('.cc-total').dataset.total === '147.50'")
    assert total.get_attribute("data-points") == "147"
    shoot(page, f"counter-purchase-{lang}-{width}")
    page.click("[data-confirm-purchase]")
    page.locator("[data-celebrate=vip]").wait_for()
    assert t["celebrate"] in page.locator(".celebrate").inner_text()
    assert page.locator("[data-earned]").inner_text() == "+147"
    shoot(page, f"counter-vip-celebration-{lang}-{width}")

    # The member signs in to the portal on their phone.
    phone = open_page(lang=lang, width=375, height=812)
    _sign_in_member(phone, "13800138000")
    card = phone.locator("[data-member-card]")
    assert card.locator("[data-tier=vip]").count() == 1
    assert phone.locator("[data-points]").first.inner_text() == str(199 + 89 + 147)
    assert t["gift"] in phone.locator("[data-gift-ahead]").inner_text()
    shoot(phone, f"portal-home-vip-{lang}-375")
    phone.goto("/portal/vouchers/")
    phone.locator("[data-voucher] summary").first.click()
    phone.locator("[data-voucher] [data-qr] svg").first.wait_for()
    shoot(phone, f"portal-wallet-{lang}-375")
    phone.goto("/portal/rewards/")
    shoot(phone, f"portal-rewards-{lang}-375")


def test_clerk_hands_over_a_pending_gift_and_it_leaves_the_card(shop, open_page, shoot):
    lin = shop["lin"]
    gift = GiftGrant.objects.create(
        member=lin, name_zh="五次消费礼：护手霜", name_en="5th purchase gift"
    )
    page = open_page(lang="zh-hans", width=1280)
    staff_sign_in(page, "clerk@example.com")
    page.fill("#counter-q", "MDEMO23")
    page.press("#counter-q", "Enter")
    page.locator("[data-card=MDEMO23]").wait_for()  # an exact code opens the card at once
    row = page.locator(f"[data-gift='{gift.pk}']")
    assert "护手霜" in row.inner_text()
    shoot(page, "counter-card-gift-zh-hans-1280")
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        row.locator("button").click()
    page.locator(".alert-success").wait_for()
    assert page.locator(f"[data-gift='{gift.pk}']").count() == 0
    gift.refresh_from_db()
    assert gift.status == "fulfilled"


@pytest.mark.parametrize(
    ("lang", "width"), [("zh-hans", 375), ("en", 375), ("zh-hans", 1280), ("en", 1280)]
)
def test_portal_and_counter_pages_at_both_sizes(shop, open_page, shoot, lang, width):
    phone = open_page(lang=lang, width=width, height=812)
    _sign_in_member(phone, "13800138000")
    for path, name in [
        ("/portal/", "home"),
        ("/portal/points/", "points"),
        ("/portal/tiers/", "tiers"),
        ("/portal/profile/", "profile"),
        ("/portal/preferences/", "preferences"),
        ("/portal/privacy/", "privacy"),
    ]:
        phone.goto(path)
        phone.wait_for_load_state("networkidle")
        # Nothing spills sideways on a phone.
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
        shoot(phone, f"portal-{name}-{lang}-{width}")
    clerk = open_page(lang=lang, width=width, height=812)
    staff_sign_in(clerk, "clerk@example.com")
    clerk.goto("/counter/SH01/members/MDEMO23/")
    assert clerk.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shoot(clerk, f"counter-card-{lang}-{width}")
    clerk.goto("/counter/SH01/enrol/?phone=13900001234")
    shoot(clerk, f"counter-enrol-{lang}-{width}")


def _qr_y4m(path, text: str, width: int = 640, height: int = 480) -> None:
    """A still video (Y4M, the format Chromium's fake camera reads) of the QR code for ``text``."""
    import segno

    matrix = [list(row) for row in segno.make(text, error="m").matrix]
    n = len(matrix) + 8  # quiet zone of 4 modules each side
    scale = min(width, height) * 3 // 4 // n
    left, top = (width - n * scale) // 2, (height - n * scale) // 2
    y_plane = bytearray([235]) * (width * height)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (top + (r + 4) * scale + dy) * width + left + (c + 4) * scale
                    y_plane[start : start + scale] = bytes([16]) * scale
    chroma = bytes([128]) * (width * height // 4)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(10):
            f.write(b"FRAME\n" + bytes(y_plane) + chroma + chroma)


def test_clerk_scans_the_portal_qr_code_with_the_camera(shop, live_server, tmp_path, playwright):
    """Chromium's fake camera shows the member's QR code; the scanner (the browser's detector, or
    the ZXing ponyfill served from this site) reads it and the card opens."""
    from tests.e2e.conftest import CHROMIUM_ARGS, _chromium

    video = tmp_path / "qr.y4m"
    _qr_y4m(video, "MDEMO23")
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    browser = playwright.chromium.launch(executable_path=_chromium(), args=args)
    try:
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, base_url=live_server.url
        )
        context.grant_permissions(["camera"], origin=live_server.url)
        context.set_default_timeout(20_000)
        page = context.new_page()
        served = []
        page.on("response", lambda r: served.append(r.url) if "/static/vendor/" in r.url else None)
        staff_sign_in(page, "clerk@example.com")
        page.locator("#scan-open").click()
        page.locator("[data-card=MDEMO23]").wait_for()
        assert page.url.endswith("/counter/SH01/members/MDEMO23/")
        native = page.evaluate("'BarcodeDetector' in window")
        # Without a native detector, the ponyfill and its WebAssembly came from this site.
        assert native or any(u.endswith("zxing_reader.wasm") for u in served), served
    finally:
        browser.close()


def test_operator_sees_each_tiers_benefits_on_the_rules_page(shop, open_page, shoot):
    make_staff(roles.OPERATOR, email="operator@example.com", name="周敏")
    page = open_page(lang="zh-hans", width=1280)
    staff_sign_in(page, "operator@example.com")
    page.goto("/console/members/rules/")
    gold = page.locator("input[name=tier-gold-perks]")
    assert gold.count() == 4 and all(gold.nth(i).is_checked() for i in range(4))
    assert page.locator("input[name=tier-vip-perks]:checked").count() == 0
    shoot(page, "console-rules-zh-hans-1280")
