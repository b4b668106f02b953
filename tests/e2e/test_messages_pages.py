"""The messages pages in the browser, in Chinese and English, on a phone (375 px) and a desk
(1280 px): the member's inbox from the portal home's unread tile, the console's message log with a
filter applied by htmx, and the template editor with its live preview on a typed member code (and
the problems of a bad variable). Nothing widens the page; screenshots go to tests/e2e/screenshots/."""

from __future__ import annotations

import pytest

from campaigns.models import Message
from campaigns.views import portal as portal_views
from campaigns.views.console import messages as message_views
from scrm import shells
from tests.e2e.test_phone_width import (
    LANGS,
    _check,
    _signed_in,
    _switch_language,
    world,  # noqa: F401  (the fixture)
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
WIDTHS = [375, 1280]


@pytest.fixture(autouse=True)
def _registered():
    """What campaigns.apps registers in the shells (registering twice adds nothing)."""
    shells.menu_register(*message_views.menu_entries())
    shells.portal_tiles_register(portal_views.portal_tiles)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_member_reads_a_message_from_the_portal_home(world, open_page, shoot, width):  # noqa: F811
    problems: list[str] = []
    page = _signed_in(open_page, "member", width)
    for lang in LANGS:
        Message.objects.filter(pk=int(world["inbox_pk"])).update(read_at=None)
        _switch_language(page, lang)
        page.goto("/portal/")
        tile = page.locator("[data-tile=inbox]")
        assert tile.locator("[data-tile-count]").inner_text().startswith("1")
        _check(page, shoot, f"messages-portal-home-{lang}-{width}", problems)
        tile.click()
        page.locator(f"[data-inbox-message='{world['inbox_pk']}'][data-unread-item]").wait_for()
        _check(page, shoot, f"messages-portal-inbox-{lang}-{width}", problems)
        page.click(f"[data-inbox-message='{world['inbox_pk']}']")
        page.locator(f"[data-inbox-read='{world['inbox_pk']}']").wait_for()
        _check(page, shoot, f"messages-portal-message-{lang}-{width}", problems)
        page.goto("/portal/")
        assert page.locator("[data-tile=inbox] [data-tile-count]").count() == 0
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_operator_filters_the_log_and_previews_a_template(world, open_page, shoot, width):  # noqa: F811
    problems: list[str] = []
    page = _signed_in(open_page, "operator", width)
    for lang in LANGS:
        _switch_language(page, lang)
        page.goto("/console/messages/")
        page.locator("[data-message]").first.wait_for()
        assert page.locator("[data-message]").count() >= 6
        _check(page, shoot, f"messages-console-log-{lang}-{width}", problems)
        page.select_option("#id_status", "deferred")  # htmx swaps the table
        page.wait_for_function("() => document.querySelectorAll('[data-message]').length === 1")
        assert "status=deferred" in page.url
        assert page.locator("[data-reason=quiet_hours]").count() == 1

        page.goto(f"/console/messages/templates/{world['message_template_pk']}/")
        assert page.locator("#id_subject").is_hidden()  # an SMS has no subject
        page.fill("#preview-member", "MDEMO23")
        page.locator("[data-preview-for=MDEMO23]").wait_for()
        text = page.locator("[data-preview-text]").inner_text()
        assert text.startswith("欧阳晓雨，春季新品") and "{" not in text
        assert page.locator("[data-problems-none]").count() == 1
        _check(page, shoot, f"messages-console-template-preview-{lang}-{width}", problems)

        body = page.locator("#id_body")
        body.fill(body.input_value().replace("拒收请回复R", "{nme}"))
        page.locator("[data-problems] [data-problem=body]").first.wait_for()
        problem_text = page.locator("[data-problems]").inner_text()
        assert "{nme}" in problem_text and "拒收请回复R" in problem_text
        page.click("[data-insert-var=points]")
        assert "{points}" in body.input_value()
        _check(page, shoot, f"messages-console-template-problems-{lang}-{width}", problems)
        page.select_option("#id_channel", "email")
        assert page.locator("#id_subject").is_visible()
        page.locator("[data-problem=subject]").wait_for()  # an email needs one
    assert problems == [], "\n".join(problems)
