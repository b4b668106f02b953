"""The Content-Security-Policy in the browser: the console, the counter, the portal, the API docs
and Django's admin load, and their htmx interactions work, without one refusal ("Refused to ...")
from Chromium. A refused script or style would leave htmx pages dead or unstyled."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from accounts import roles, sms
from members.models import Product, VoucherTemplate
from members.services.vouchers import voucher_issue
from tests.e2e.test_journeys import staff_sign_in
from tests.factories import MemberFactory, StoreFactory, make_staff
from tests.members.helpers import buy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Loaded before any page script (Playwright injects it; the policy does not apply to it): every
# violation the page reports, including those that would not reach the console.
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def shop(db):
    sh = StoreFactory(code="SH01", name="上海静安嘉里店", city="上海")
    make_staff(roles.ADMIN, email="admin@example.com", name="陈静")
    make_staff(roles.CLERK, stores=[sh], email="clerk@example.com", name="王芳")
    Product.objects.create(
        sku="MASK-10", name="补水面膜 10 片", category="skincare", price=Decimal("129.00")
    )
    lin = MemberFactory(phone="+8613800138000", name="林晓雨", store=sh, code="MDEMO23")
    MemberFactory(phone="+8613911118000", name="王磊", store=sh)
    buy(lin, Decimal("199.00"), store=sh)
    voucher_issue(template=VoucherTemplate.objects.get(code="cny10"), member=lin)
    return {"sh": sh, "lin": lin}


@pytest.fixture
def watched(open_page):
    """A page that records CSP refusals from the console and the violation events."""

    def _open(**kwargs):
        page = open_page(lang=kwargs.pop("lang", "en"), **kwargs)
        page.context.add_init_script(WATCH)
        page.refused = []
        page.on(
            "console",
            lambda m: (
                page.refused.append(m.text)
                if "Content Security Policy" in m.text or m.text.startswith("Refused to")
                else None
            ),
        )
        page.on("pageerror", lambda e: page.refused.append(f"page error: {e}"))
        return page

    return _open


def _visit(page, path: str) -> None:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    _assert_clean(page, path)


def _assert_clean(page, where: str) -> None:
    events = page.evaluate("window.__csp || []")
    refused = page.refused + events
    assert not refused, f"{where}: " + "\n".join(refused)
    if "/admin/" not in page.url:
        # htmx loaded (a refused htmx would leave the pages without their fragments).
        assert page.evaluate("typeof window.htmx === 'object'"), where


def test_the_console_and_the_admin_run_under_the_policy(shop, watched):
    page = watched()
    staff_sign_in(page, "admin@example.com")
    for path in (
        "/console/",
        "/console/members/",
        f"/console/members/{shop['lin'].code}/",
        f"/console/members/{shop['lin'].code}/points/",
        "/console/members/rules/",
        "/console/members/segments/new/",
        "/console/members/imports/",
        "/console/settings/",
    ):
        _visit(page, path)

    # htmx: the member search swaps the table in.
    page.goto("/console/members/")
    page.fill("#q", "林晓雨")
    page.locator("#member-table tbody tr").first.wait_for()
    page.wait_for_function("() => document.querySelectorAll('#member-table tbody tr').length === 1")
    # htmx: choosing a condition re-renders the segment builder (the field's own event, no eval).
    page.goto("/console/members/segments/new/")
    page.select_option("select[name=g0_c0_field]", "lifecycle_stage")
    page.wait_for_selector("input[name=g0_c0_value][value=dormant]")
    page.check("input[name=g0_c0_value][value=dormant]")
    page.wait_for_function(
        "() => document.querySelector('#segment-count [data-count]')?.dataset.count === '0'"
    )
    # A select that submits its form (formerly an onchange attribute).
    page.goto(f"/console/members/{shop['lin'].code}/")
    page.select_option("select[name=window]", "30")
    page.wait_for_url(re.compile(r"window=30"))
    _assert_clean(page, "member 360 after its filters")

    # Django's admin and its scripts.
    for path in (
        "/admin/",
        "/admin/members/member/",
        f"/admin/members/member/{shop['lin'].pk}/change/",
        "/admin/members/product/add/",
        "/admin/accounts/auditentry/",
    ):
        _visit(page, path)
    page.goto("/admin/members/member/")
    page.fill("#searchbar", "林")
    page.press("#searchbar", "Enter")
    page.wait_for_load_state("networkidle")
    _assert_clean(page, "admin search")


def test_the_api_docs_run_under_the_policy(shop, watched):
    page = watched()
    page.goto("/api/v1/docs/")
    page.locator(".swagger-ui .info .title").wait_for()
    page.locator(".opblock").first.wait_for()
    assert not page.refused + page.evaluate("window.__csp"), page.refused


def test_the_counter_runs_under_the_policy(shop, watched):
    page = watched(width=390, height=844)
    staff_sign_in(page, "clerk@example.com")
    _visit(page, "/counter/SH01/")
    page.fill("#counter-q", "8000")
    page.press("#counter-q", "Enter")
    page.locator("[data-member=MDEMO23]").wait_for()  # the htmx search results
    _assert_clean(page, "counter search")
    page.locator("[data-member=MDEMO23]").click()
    page.locator("[data-card=MDEMO23]").wait_for()
    _assert_clean(page, "counter card")
    assert page.locator("progress.bar").count() == 1  # the tier progress, without a style attribute
    _visit(page, "/counter/SH01/enrol/?phone=13900001234")


def test_the_portal_runs_under_the_policy(shop, watched):
    page = watched(width=390, height=844)
    _visit(page, "/portal/")  # the sign-in page
    page.fill("#code-request-form input[name=phone]", "13800138000")
    page.click("#code-request-form button[type=submit]")
    page.locator("#code-confirm-form").wait_for()
    code = re.search(r"\b(\d{6})\b", sms.outbox[-1].text).group(1)
    page.fill("#id_code", code)
    page.click("#code-confirm-form button[type=submit]")
    page.locator("[data-member-card]").wait_for()
    _assert_clean(page, "portal home")
    for path in (
        "/portal/card/",
        "/portal/vouchers/",
        "/portal/points/",
        "/portal/rewards/",
        "/portal/tiers/",
        "/portal/profile/",
        "/portal/preferences/",
        "/portal/privacy/",
        "/portal/account/",
    ):
        _visit(page, path)


def test_the_counter_scanner_runs_under_the_policy(shop, live_server, tmp_path, playwright):
    """The ZXing ponyfill compiles WebAssembly: 'wasm-unsafe-eval' (and nothing more) lets it."""
    from tests.e2e.conftest import CHROMIUM_ARGS, _chromium
    from tests.e2e.test_counter_portal import _qr_y4m

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
        context.add_init_script(WATCH)
        page = context.new_page()
        page.refused = []
        page.on(
            "console",
            lambda m: page.refused.append(m.text) if "Content Security Policy" in m.text else None,
        )
        staff_sign_in(page, "clerk@example.com")
        page.goto("/counter/SH01/")
        page.locator("#scan-open").click()
        page.locator("[data-card=MDEMO23]").wait_for()
        _assert_clean(page, "after the scan")
    finally:
        browser.close()
