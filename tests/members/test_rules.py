from __future__ import annotations

import pytest

from accounts.models import AuditEntry
from members.models import LoyaltySettings, Milestone, RulesVersion, Tier
from members.services.rules import rules_snapshot
from tests.factories import MemberFactory
from tests.members.helpers import buy

pytestmark = pytest.mark.django_db


def form_data(**over):
    snap = rules_snapshot()
    data = {}
    for t in snap["tiers"]:
        for f in (
            "name_zh",
            "name_en",
            "min_purchases",
            "min_annual_spend",
            "multiplier",
            "discount_percent",
            "rule_text_zh",
            "rule_text_en",
        ):
            value = t.get(f)
            data[f"tier-{t['code']}-{f}"] = "" if value is None else value
        data[f"tier-{t['code']}-perks"] = t["perks"]
    for m in snap["milestones"]:
        for f in (
            "name_zh",
            "name_en",
            "at_purchase",
            "at_spend",
            "reward",
            "gift_name_zh",
            "gift_name_en",
            "points",
        ):
            value = m.get(f)
            data[f"ms-{m['code']}-{f}"] = "" if value is None else value
        data[f"ms-{m['code']}-code"] = m["code"]
        data[f"ms-{m['code']}-is_active"] = "on"
    for f, value in snap["settings"].items():
        if isinstance(value, bool):
            if value:
                data[f] = "on"
        else:
            data[f] = value
    data.update(over)
    return data


@pytest.fixture
def members(store_sh):
    two = MemberFactory(store=store_sh)
    buy(two, 100)
    buy(two, 100)
    three = MemberFactory(store=store_sh)
    for _ in range(3):
        buy(three, 100)
    MemberFactory(store=store_sh)
    return two, three


def test_dry_run_counts_who_would_move_over_the_real_data(operator_client, members):
    operator_client.cookies["django_language"] = "en"
    r = operator_client.post(
        "/console/members/rules/",
        form_data(**{"tier-vip-min_purchases": "2", "action": "preview"}),
        HTTP_HX_REQUEST="true",
    )
    html = r.content.decode()
    assert "1 members would move up, 0 down, and 2 stay" in html
    r = operator_client.post(
        "/console/members/rules/",
        form_data(**{"tier-vip-min_purchases": "4", "action": "preview"}),
        HTTP_HX_REQUEST="true",
    )
    assert "0 members would move up, 1 down, and 2 stay" in r.content.decode()
    assert Tier.objects.get(code="vip").min_purchases == 3  # a preview changes nothing


def test_publish_versions_audits_and_reevaluates(
    operator_client, members, django_capture_on_commit_callbacks
):
    from scrm.celery import app

    two, _three = members
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            r = operator_client.post(
                "/console/members/rules/",
                form_data(
                    **{
                        "tier-vip-min_purchases": "2",
                        "tier-vip-discount_percent": "15",
                        "action": "publish",
                        "note": "VIP from 2",
                    }
                ),
            )
    finally:
        app.conf.task_always_eager = False
    assert r.status_code == 302
    assert Tier.objects.get(code="vip").min_purchases == 2
    two.refresh_from_db()
    assert two.tier.code == "vip"
    version = RulesVersion.objects.get()
    assert version.number == LoyaltySettings.current().version == 2 and version.note == "VIP from 2"
    entry = AuditEntry.objects.get(action="rules.published")
    assert (
        entry.before["tiers"][1]["min_purchases"] == 3
        and entry.after["tiers"][1]["min_purchases"] == 2
    )
    assert entry.after["tiers"][1]["discount_percent"] == 15
    card = buy(two, 100)["member"]
    assert {"percent": 15}.items() <= next(
        b for b in card["benefits"] if b["kind"] == "discount"
    ).items()


def test_operator_edits_the_other_benefits_of_each_tier(operator_client, members):
    gold = Tier.objects.get(code="gold")
    assert set(rules_snapshot()["tiers"][2]["perks"]) == {
        "advisor",
        "trial",
        "priority",
        "price_protection",
    }
    r = operator_client.post(
        "/console/members/rules/",
        form_data(
            **{
                "tier-vip-perks": ["advisor"],
                "tier-gold-perks": ["advisor", "trial", "priority"],
                "action": "publish",
            }
        ),
    )
    assert r.status_code == 302
    vip = Tier.objects.get(code="vip")
    assert {b.kind for b in vip.benefits.all()} == {"discount", "advisor"}
    assert {b.kind for b in gold.benefits.all()} == {"discount", "advisor", "trial", "priority"}
    # One named-advisor benefit, shared by the tiers that offer it.
    assert vip.benefits.get(kind="advisor") == gold.benefits.get(kind="advisor")
    entry = AuditEntry.objects.get(action="rules.published")
    assert "price_protection" in entry.before["tiers"][2]["perks"]
    assert "price_protection" not in entry.after["tiers"][2]["perks"]
    r = operator_client.post(
        "/console/members/rules/", form_data(**{"tier-vip-perks": ["nope"], "action": "publish"})
    )
    assert r.status_code == 200 and {b.kind for b in vip.benefits.all()} == {"discount", "advisor"}


def test_invalid_rules_are_named_and_nothing_is_published(operator_client, members):
    r = operator_client.post(
        "/console/members/rules/",
        form_data(
            **{
                "tier-vip-min_purchases": "",
                "tier-vip-min_annual_spend": "",
                "tier-gold-multiplier": "-1",
                "action": "publish",
            }
        ),
    )
    assert r.status_code == 200
    assert not RulesVersion.objects.exists()
    assert Tier.objects.get(code="vip").min_purchases == 3


def test_a_new_milestone_rule_grants_at_its_threshold(operator_client, store_sh):
    r = operator_client.post(
        "/console/members/rules/",
        form_data(
            **{
                "new-code": "points_2nd",
                "new-name_zh": "第二次购物奖励",
                "new-name_en": "Second purchase bonus",
                "new-at_purchase": "2",
                "new-reward": "points",
                "new-points": "200",
                "new-is_active": "on",
                "action": "publish",
            }
        ),
    )
    assert r.status_code == 302
    assert Milestone.objects.get(code="points_2nd").points == 200
    m = MemberFactory(store=store_sh)
    buy(m, 10)
    result = buy(m, 10)
    assert {"type": "points_bonus", "points": 200} in result["events"]
    assert m.points_balance == 220


def test_clerks_cannot_edit_rules(clerk_client):
    assert clerk_client.get("/console/members/rules/").status_code == 403


def test_operator_adjusts_points_with_a_reason_in_the_audit_log(
    operator_client, operator, store_sh
):
    m = MemberFactory(store=store_sh)
    r = operator_client.post(
        f"/console/members/{m.code}/points/",
        {"points": "300", "reason": "Goodwill for a late delivery"},
    )
    assert r.status_code == 302
    m.refresh_from_db()
    assert m.points_balance == 300
    entry = AuditEntry.objects.get(action="points.adjusted")
    assert entry.actor == operator and entry.after["reason"] == "Goodwill for a late delivery"
    too_much = operator_client.post(
        f"/console/members/{m.code}/points/", {"points": "-500", "reason": "x"}
    )
    assert too_much.status_code == 200
    m.refresh_from_db()
    assert m.points_balance == 300
    page = operator_client.get(f"/console/members/{m.code}/points/").content.decode()
    assert "Goodwill for a late delivery" in page
