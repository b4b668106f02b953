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
    assert "1 members would move up, 0 down, 0 enter the 30-day grace period" in html
    assert "and 2 stay" in html and "VIP: 2" in html  # tiers by name
    r = operator_client.post(
        "/console/members/rules/",
        form_data(**{"tier-vip-min_purchases": "4", "action": "preview"}),
        HTTP_HX_REQUEST="true",
    )
    # The engine lowers a tier only after the grace period: the VIP at 3 purchases is announced.
    html = r.content.decode()
    assert "0 members would move up, 0 down, 1 enter the 30-day grace period" in html
    assert "and 2 stay" in html
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


# --- The dry run is the engine's own evaluation ------------------------------------------------


def _unchanged() -> list[dict]:
    return [
        {
            k: t[k]
            for k in ("code", "rank", "min_purchases", "min_annual_spend", "name_zh", "name_en")
        }
        for t in rules_snapshot()["tiers"]
    ]


@pytest.fixture
def ladder_world(store_sh):
    """Members in every situation the grace period knows: a Gold whose year of spend lapsed
    (not yet announced), a Gold already announced and due later, one announced and due now,
    a VIP, a member, and a Gold still qualifying."""
    from datetime import timedelta

    from django.utils import timezone

    from members.services.tiers import tiers_evaluate_daily

    now = timezone.now()
    long_ago = now - timedelta(days=400)
    people = {}
    for name in ("lapsed", "pending_later", "pending_due", "gold"):
        m = MemberFactory(store=store_sh)
        buy(m, 3500, at=(long_ago if name != "gold" else now - timedelta(days=3)))
        people[name] = m
    vip = MemberFactory(store=store_sh)
    for _ in range(3):
        buy(vip, 100)
    people["vip"] = vip
    people["member"] = MemberFactory(store=store_sh, tier=Tier.objects.get(rank=0))
    tiers_evaluate_daily()  # announces the three lapsed Golds: due in 30 days
    from members.models import Member

    Member.objects.filter(pk=people["lapsed"].pk).update(downgrade_due_at=None)
    Member.objects.filter(pk=people["pending_due"].pk).update(
        downgrade_due_at=now - timedelta(minutes=1)
    )
    return people


def test_unchanged_rules_predict_no_move_and_publishing_them_moves_nobody(ladder_world):
    from members.models import Member
    from members.services.rules import rules_dry_run, tiers_reevaluate_all

    settings = LoyaltySettings.current()
    dry = rules_dry_run(
        tiers=_unchanged(),
        spend_window_days=settings.spend_window_days,
        one_purchase_per_day=settings.one_purchase_per_day,
    )
    # Unchanged rules: nobody up; the Gold due now goes down (as the daily job would lower her),
    # the lapsed one not yet announced enters the grace period; nobody else moves.
    assert (dry["up"], dry["down"], dry["grace"]) == (0, 1, 1)
    before = dict(Member.objects.values_list("pk", "tier__code"))
    assert tiers_reevaluate_all() == 1  # what the dry run said
    after = dict(Member.objects.values_list("pk", "tier__code"))
    moved = {pk for pk in before if before[pk] != after[pk]}
    assert moved == {ladder_world["pending_due"].pk}
    assert Member.objects.get(pk=ladder_world["lapsed"].pk).downgrade_due_at is not None
    counts = {}
    for code in after.values():
        counts[code] = counts.get(code, 0) + 1
    names = {t.code: t.name for t in Tier.objects.all()}
    assert dry["after"] == {names[c]: counts.get(c, 0) for c in names}  # by name, as published


def test_the_dry_run_agrees_with_the_engine_under_new_rules(ladder_world):
    from members.models import Member
    from members.services.rules import rules_dry_run, rules_publish, tiers_reevaluate_all

    tiers = _unchanged()
    for t in tiers:
        if t["code"] == "vip":
            t["min_purchases"] = 1  # the lapsed Golds still hold a purchase: VIP
        if t["code"] == "gold":
            t["name_en"] = "Black Gold"
    dry = rules_dry_run(tiers=tiers, spend_window_days=365)
    rules_publish(tiers=tiers, milestones=[], settings_data={}, actor=None)
    from members.selectors.rules import loyalty_context_clear

    loyalty_context_clear()
    changed = tiers_reevaluate_all()
    assert changed == dry["up"] + dry["down"]
    after = {}
    for code in Member.objects.values_list("tier__code", flat=True):
        after[code] = after.get(code, 0) + 1
    with __import__("django.utils.translation", fromlist=["override"]).override("en"):
        names = {t.code: t.name for t in Tier.objects.all()}
    assert "Black Gold" in names.values()
    assert sorted(dry["after"].values()) == sorted(after.get(c, 0) for c in names)


def test_unchanged_rules_on_settled_data_predict_no_move_at_all(members):
    """The demo's complaint: a label change on unchanged rules predicted '0 up, 181 down'."""
    from members.services.rules import rules_dry_run
    from members.services.tiers import tiers_evaluate_daily

    tiers_evaluate_daily()
    settings = LoyaltySettings.current()
    tiers = _unchanged()
    tiers[1]["name_en"] = "VIP member"  # a label change only
    dry = rules_dry_run(
        tiers=tiers,
        spend_window_days=settings.spend_window_days,
        one_purchase_per_day=settings.one_purchase_per_day,
    )
    assert (dry["up"], dry["down"], dry["grace"]) == (0, 0, 0)
    assert dry["same"] == dry["members"] == 3
