"""Member 360: profiles and child stages, consent and opt-out, handover, segments, the 360 page,
privacy export and erasure."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, timedelta

import pytest
from django.urls import reverse

from accounts import roles
from accounts.models import AuditEntry
from members.models import (
    Child,
    ConsentRecord,
    Member,
    Order,
    OwnershipChange,
    PointsEntry,
    Segment,
)
from members.models.profiles import add_months, child_stage
from members.selectors import segment_counts, segment_members
from members.selectors.segments import segment_clean, segment_q
from members.selectors.timeline import member_timeline
from members.services.ownership import Mode, handover_plan, member_handover
from members.services.privacy import member_erase, member_export
from members.services.profiles import child_save, consent_set, marketing_opt_out, note_add
from scrm.exceptions import ApplicationError
from tests.factories import MemberFactory, make_staff
from tests.members.helpers import buy, logged

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 23)


# --- Child stages ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "due", "stage"),
    [
        (None, TODAY + timedelta(days=40), "pregnancy"),
        (None, TODAY - timedelta(days=3), "pregnancy"),  # overdue, not yet recorded as born
        (TODAY, None, "newborn"),
        (add_months(TODAY, -6) + timedelta(days=1), None, "newborn"),  # 5 months 30 days
        (add_months(TODAY, -6), None, "infant"),  # 6 months to the day
        (add_months(TODAY, -12) + timedelta(days=1), None, "infant"),
        (add_months(TODAY, -12), None, "toddler"),
        (add_months(TODAY, -36) + timedelta(days=1), None, "toddler"),
        (add_months(TODAY, -36), None, "preschool"),
        (add_months(TODAY, -72) + timedelta(days=1), None, "preschool"),
        (add_months(TODAY, -72), None, "older"),
        (add_months(TODAY, -5), TODAY + timedelta(days=10), "newborn"),  # born: the birth date wins
    ],
)
def test_child_stage_from_birth_and_due_dates(birth, due, stage):
    assert child_stage(birth, due, TODAY) == stage


def test_segment_child_stage_in_sql_matches_the_python_stage(store_sh):
    members = {}
    for offset in range(0, 2400, 29):  # birthdays across 0-6.5 years, and some due dates
        m = MemberFactory(store=store_sh)
        Child.objects.create(member=m, birth_date=TODAY - timedelta(days=offset))
        members[m.pk] = child_stage(TODAY - timedelta(days=offset), None, TODAY)
    pregnant = MemberFactory(store=store_sh)
    Child.objects.create(member=pregnant, due_date=TODAY + timedelta(days=60))
    members[pregnant.pk] = "pregnancy"
    for stage in Child.Stage.values:
        definition = segment_clean(
            {"groups": [{"conditions": [{"field": "child_stage", "op": "in", "value": [stage]}]}]}
        )
        got = set(
            Member.objects.filter(segment_q(definition, today=TODAY)).values_list("pk", flat=True)
        )
        assert got == {pk for pk, s in members.items() if s == stage}, stage


def test_a_birth_date_in_the_future_is_refused_with_the_field(member, operator):
    with pytest.raises(ApplicationError) as exc:
        child_save(
            member=member,
            name="",
            birth_date=date.today() + timedelta(days=5),
            due_date=None,
            actor=operator,
        )
    assert "birth_date" in exc.value.fields
    with pytest.raises(ApplicationError) as exc:
        child_save(member=member, name="", birth_date=None, due_date=None, actor=operator)
    assert "birth_date" in exc.value.fields


# --- Consent ---------------------------------------------------------------------------------


def test_consent_is_recorded_with_when_and_how(member, operator):
    consent_set(
        member=member, consent={"sms": True, "email": False}, source="store", actor=operator
    )
    member.refresh_from_db()
    assert member.consent_sms and not member.consent_email
    rec = ConsentRecord.objects.get(member=member)
    assert (rec.channel, rec.granted, rec.source, rec.actor) == ("sms", True, "store", operator)
    consent_set(member=member, consent={"sms": True}, source="portal", actor=None)
    assert (
        ConsentRecord.objects.filter(member=member).count() == 1
    )  # nothing changed, nothing recorded


def test_unknown_consent_channel_is_refused(member):
    with pytest.raises(ApplicationError) as exc:
        consent_set(member=member, consent={"fax": True}, source="api", actor=None)
    assert "consent.fax" in exc.value.fields


def test_opt_out_removes_the_member_from_every_marketing_audience_at_once(
    store_sh, admin_user, admin_client
):
    a, b = MemberFactory(store=store_sh), MemberFactory(store=store_sh)
    for m in (a, b):
        consent_set(member=m, consent={"sms": True}, source="store", actor=None)
    segment = Segment.objects.create(
        name="all sms",
        definition=segment_clean(
            {"groups": [{"conditions": [{"field": "consent", "op": "in", "value": ["sms"]}]}]}
        ),
        for_marketing=True,
    )
    service = Segment.objects.create(
        name="everyone",
        definition=segment_clean(
            {"groups": [{"conditions": [{"field": "purchase_count", "op": "gte", "value": 0}]}]}
        ),
        for_marketing=False,
    )

    def export(s):
        response = admin_client.get(reverse("members:segment_export", args=[s.pk]))
        assert response.status_code == 200
        body = b"".join(response.streaming_content).decode("utf-8-sig")
        return {row["code"] for row in csv.DictReader(io.StringIO(body))}

    assert export(segment) == {a.code, b.code}
    marketing_opt_out(member=a, source="portal", actor=None)
    assert export(segment) == {b.code}
    # Every marketing audience: even one whose own conditions don't mention consent.
    broad = segment_members(
        user=admin_user,
        definition=segment_clean(
            {"groups": [{"conditions": [{"field": "purchase_count", "op": "gte", "value": 0}]}]}
        ),
        for_marketing=True,
    )
    assert a not in broad and b in broad
    assert export(service) == {a.code, b.code}  # a service list still holds them
    assert segment_counts(user=admin_user, definition=segment.definition) == {
        "total": 1,
        "reachable": 1,
    }


def test_api_enrol_stores_consent_and_patch_changes_it():
    from rest_framework.test import APIClient

    from accounts.services import apikey_create

    _key, raw = apikey_create(name="pos", store=None, actor=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    r = client.post(
        "/api/v1/members/",
        {"phone": "13900001111", "consent": {"sms": True, "wecom": False}},
        format="json",
    )
    assert r.status_code == 201
    m = Member.objects.get(phone="+8613900001111")
    assert m.consent_sms and not m.consent_wecom
    assert ConsentRecord.objects.get(member=m).source == "api"
    r = client.patch(
        f"/api/v1/members/{m.code}/",
        {"consent": {"sms": False}, "frequency": "monthly"},
        format="json",
    )
    assert r.status_code == 200
    m.refresh_from_db()
    assert not m.consent_sms and m.frequency == "monthly"
    r = client.post(
        "/api/v1/members/", {"phone": "13900002222", "consent": {"fax": True}}, format="json"
    )
    assert r.status_code == 400 and "consent" in r.json()["error"]["fields"]
    assert not Member.objects.filter(phone="+8613900002222").exists()


# --- Handover --------------------------------------------------------------------------------


@pytest.fixture
def team(store_sh, store_bj):
    leaving = make_staff(roles.CLERK, stores=[store_sh, store_bj], name="Leaving")
    stay = make_staff(roles.CLERK, stores=[store_bj], name="Stays")
    sh1 = make_staff(roles.CLERK, stores=[store_sh], name="SH one")
    sh2 = make_staff(roles.CLERK, stores=[store_sh], name="SH two")
    bj = make_staff(roles.CLERK, stores=[store_bj], name="BJ")
    theirs = [MemberFactory(store=store_sh, owner=leaving) for _ in range(4)] + [
        MemberFactory(store=store_bj, owner=leaving) for _ in range(2)
    ]
    others = [MemberFactory(store=store_sh, owner=stay), MemberFactory(store=store_bj, owner=None)]
    return {
        "leaving": leaving,
        "stay": stay,
        "sh1": sh1,
        "sh2": sh2,
        "bj": bj,
        "theirs": theirs,
        "others": others,
    }


def test_handover_moves_exactly_the_departing_persons_members(
    team, operator, django_capture_on_commit_callbacks
):
    plan = member_handover(
        from_owner=team["leaving"],
        mode=Mode.ONE,
        to_owners=[team["sh1"]],
        actor=operator,
        expected=6,
    )
    got = logged("member_handed_over")
    assert plan.total == 6
    assert set(Member.objects.filter(owner=team["sh1"])) == set(team["theirs"])
    assert not Member.objects.filter(owner=team["leaving"]).exists()
    assert [
        m.owner for m in Member.objects.filter(pk__in=[o.pk for o in team["others"]]).order_by("pk")
    ] == [team["stay"], None]
    assert (
        OwnershipChange.objects.filter(from_owner=team["leaving"], to_owner=team["sh1"]).count()
        == 6
    )
    assert len({c.handover for c in OwnershipChange.objects.all()}) == 1
    assert sorted(e["member_id"] for e in got) == sorted(m.pk for m in team["theirs"])
    audit = AuditEntry.objects.get(action="member.handover")
    assert audit.after["moved"] == 6 and audit.actor == operator


def test_round_robin_and_by_store_handover(team, operator):
    plan = handover_plan(
        from_owner=team["leaving"], mode=Mode.ROUND_ROBIN, to_owners=[team["sh1"], team["sh2"]]
    )
    assert sorted(plan.per_owner.values()) == [3, 3]
    plan = handover_plan(
        from_owner=team["leaving"],
        mode=Mode.BY_STORE,
        to_owners=[team["sh1"], team["sh2"], team["bj"]],
    )
    member_handover(
        from_owner=team["leaving"],
        mode=Mode.BY_STORE,
        to_owners=[team["sh1"], team["sh2"], team["bj"]],
        actor=operator,
        expected=plan.total,
    )
    for m in team["theirs"]:
        m.refresh_from_db()
        assert m.owner in ({team["sh1"], team["sh2"]} if m.store.code == "SH01" else {team["bj"]})
    assert (
        Member.objects.filter(owner=team["sh1"]).count()
        == Member.objects.filter(owner=team["sh2"]).count()
        == 2
    )


def test_by_store_leaves_members_of_uncovered_stores_and_preview_mismatch_is_refused(
    team, operator
):
    plan = handover_plan(from_owner=team["leaving"], mode=Mode.BY_STORE, to_owners=[team["sh1"]])
    assert plan.total == 4 and len(plan.unplaced) == 2
    with pytest.raises(ApplicationError) as exc:
        member_handover(
            from_owner=team["leaving"],
            mode=Mode.BY_STORE,
            to_owners=[team["sh1"]],
            actor=operator,
            expected=6,
        )
    assert exc.value.code == "handover_changed"
    assert Member.objects.filter(owner=team["leaving"]).count() == 6  # nothing moved


def test_handover_page_previews_then_moves(team, operator_client):
    params = {"from_owner": team["leaving"].pk, "mode": "one", "to_owners": [team["bj"].pk]}
    r = operator_client.get(reverse("members:handover"), params)
    assert r.status_code == 200 and b'data-plan-total="6"' in r.content
    assert Member.objects.filter(owner=team["leaving"]).count() == 6
    r = operator_client.post(reverse("members:handover"), {**params, "expected": 6, "confirm": 1})
    assert r.status_code == 302
    assert Member.objects.filter(owner=team["bj"]).count() == 6


# --- Segments ----------------------------------------------------------------------------------


def test_segment_errors_name_the_condition():
    with pytest.raises(ApplicationError) as exc:
        segment_clean({"groups": [{"conditions": [{"field": "tier", "op": "in", "value": []}]}]})
    assert "groups[0].conditions[0].value" in exc.value.fields
    with pytest.raises(ApplicationError) as exc:
        segment_clean({"groups": [{"conditions": [{"field": "rfm_r", "op": "gte", "value": "x"}]}]})
    assert "groups[0].conditions[0].value" in exc.value.fields
    with pytest.raises(ApplicationError) as exc:
        segment_clean({"groups": [{"conditions": [{"field": "nope"}]}]})
    assert "groups[0].conditions[0].field" in exc.value.fields


def test_and_or_groups(store_sh):
    vip_dormant = MemberFactory(store=store_sh, lifecycle_stage="dormant", purchase_count=3)
    member_dormant = MemberFactory(store=store_sh, lifecycle_stage="dormant", purchase_count=1)
    loyal = MemberFactory(store=store_sh, lifecycle_stage="loyal", purchase_count=6)
    d = segment_clean(
        {
            "match": "any",
            "groups": [
                {
                    "match": "all",
                    "conditions": [
                        {"field": "lifecycle_stage", "op": "in", "value": ["dormant"]},
                        {"field": "purchase_count", "op": "gte", "value": 3},
                    ],
                },
                {
                    "match": "all",
                    "conditions": [{"field": "lifecycle_stage", "op": "in", "value": ["loyal"]}],
                },
            ],
        }
    )
    assert set(Member.objects.filter(segment_q(d))) == {vip_dormant, loyal}
    assert member_dormant not in Member.objects.filter(segment_q(d))


def _bought(value, op="in"):
    return segment_clean(
        {"groups": [{"conditions": [{"field": "bought_category", "op": op, "value": value}]}]}
    )


def test_purchase_conditions_product_period_count_and_spend(store_sh):
    from django.utils import timezone

    now = timezone.now()
    twice = MemberFactory(store=store_sh)  # two masks, 10 and 40 days ago, 300 CNY in all
    buy(twice, 100, sku="MASK-10", at=now - timedelta(days=10))
    buy(twice, 200, sku="MASK-10", at=now - timedelta(days=40))
    once = MemberFactory(store=store_sh)  # one mask of 500 CNY 20 days ago
    buy(once, 500, sku="MASK-10", at=now - timedelta(days=20))
    serum = MemberFactory(store=store_sh)  # another product of the same category
    buy(serum, 80, sku="SERUM-1", at=now - timedelta(days=5))
    never = MemberFactory(store=store_sh)

    def match(value, op="in"):
        return set(Member.objects.filter(segment_q(_bought(value, op))))

    assert match({"sku": "MASK-10"}) == {twice, once}
    assert match({"category": "skincare"}) == {twice, once, serum}
    assert match({"sku": "MASK-10", "days": 15}) == {twice}
    assert match({"sku": "MASK-10", "min_count": 2}) == {twice}
    assert match({"sku": "MASK-10", "min_count": 2, "days": 30}) == set()  # 1 in the period
    assert match({"min_amount": "300"}) == {twice, once}
    assert match({"min_amount": "300.01"}) == {once}
    assert match({"sku": "MASK-10", "days": 30, "min_amount": "300"}) == {once}
    start, end = (now - timedelta(days=25)).date(), (now - timedelta(days=15)).date()
    assert match({"from": start.isoformat(), "to": end.isoformat()}) == {once}
    assert match({"sku": "MASK-10"}, op="not_in") == {serum, never}


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"sku": "NOPE"}, "sku"),
        ({"category": "not-a-category"}, "category"),
        ({"days": 0}, "days"),
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-05-02", "to": "2026-05-01"}, "to"),
        ({"days": 30, "from": "2026-05-01"}, "days"),
        ({"min_count": "many"}, "min_count"),
        ({"min_amount": "-5"}, "min_amount"),
    ],
)
def test_purchase_condition_errors_name_the_part(value, field, store_sh):
    buy(MemberFactory(store=store_sh), 10, sku="MASK-10")
    with pytest.raises(ApplicationError) as exc:
        _bought(value)
    assert f"groups[0].conditions[0].value.{field}" in exc.value.fields


def test_builder_counts_live_saves_and_lists(operator_client, store_sh):
    MemberFactory(store=store_sh, lifecycle_stage="dormant", consent_sms=True)
    MemberFactory(store=store_sh, lifecycle_stage="dormant")
    MemberFactory(store=store_sh, lifecycle_stage="repeat", consent_sms=True)
    url = reverse("members:segment_count")
    r = operator_client.post(
        url,
        {
            "match": "all",
            "g0_match": "all",
            "g0_c0_field": "lifecycle_stage",
            "g0_c0_op": "in",
            "g0_c0_value": ["dormant"],
        },
        HTTP_HX_REQUEST="true",
    )
    assert b'data-count="2"' in r.content
    r = operator_client.post(
        url,
        {
            "match": "all",
            "g0_match": "all",
            "g0_c0_field": "lifecycle_stage",
            "g0_c0_op": "in",
            "g0_c0_value": ["dormant"],
            "g0_c1_field": "consent",
            "g0_c1_op": "in",
            "g0_c1_value": ["sms"],
        },
        HTTP_HX_REQUEST="true",
    )
    assert b'data-count="1"' in r.content
    # An unfinished condition is left out of the count, and said so.
    r = operator_client.post(
        url,
        {
            "match": "all",
            "g0_match": "all",
            "g0_c0_field": "lifecycle_stage",
            "g0_c0_op": "in",
            "g0_c0_value": ["dormant"],
            "g0_c1_field": "tier",
        },
        HTTP_HX_REQUEST="true",
    )
    assert b'data-count="2"' in r.content
    r = operator_client.post(
        reverse("members:segment_new"),
        {
            "action": "save",
            "name": "",
            "match": "all",
            "g0_match": "all",
            "g0_c0_field": "lifecycle_stage",
            "g0_c0_op": "in",
            "g0_c0_value": ["dormant"],
        },
    )
    assert r.status_code == 200 and Segment.objects.count() == 0
    r = operator_client.post(
        reverse("members:segment_new"),
        {
            "action": "save",
            "name": "Dormant",
            "for_marketing": "1",
            "match": "all",
            "g0_match": "all",
            "g0_c0_field": "lifecycle_stage",
            "g0_c0_op": "in",
            "g0_c0_value": ["dormant"],
        },
    )
    segment = Segment.objects.get()
    assert r.status_code == 302 and segment.last_count == 2
    r = operator_client.get(reverse("members:segment_detail", args=[segment.pk]))
    assert r.status_code == 200
    assert r.context["page"].paginator.count == 1  # marketing: only the one reachable
    assert AuditEntry.objects.filter(action="segment.created").exists()


def test_clerks_cannot_open_segments(clerk_client):
    assert clerk_client.get(reverse("members:segment_list")).status_code == 403
    assert clerk_client.post(reverse("members:segment_count"), {}).status_code == 403


# --- Member 360 page ---------------------------------------------------------------------------


def test_member_360_page_and_timeline(
    operator_client, operator, member, django_assert_max_num_queries
):
    buy(member, 120)
    note_add(member=member, body="喜欢抹茶", actor=operator)
    with django_assert_max_num_queries(40):
        r = operator_client.get(reverse("members:detail", args=[member.code]))
    assert r.status_code == 200
    html = r.content.decode()
    assert "喜欢抹茶" in html and member.code in html
    kinds = [e.kind for e in member_timeline(member)]
    assert "purchase" in kinds and "note" in kinds and "points" in kinds
    r = operator_client.get(reverse("members:detail", args=[member.code]), {"kind": "note"})
    assert all(e.kind == "note" for e in r.context["timeline"])


def test_clerk_sees_own_stores_members_only_and_edits_taste_and_notes(
    clerk_client, member, store_bj
):
    other = MemberFactory(store=store_bj)
    assert clerk_client.get(reverse("members:detail", args=[member.code])).status_code == 403
    # By changing the URL: another store's counter, or another store's member at this one.
    assert (
        clerk_client.get(reverse("counter:member_profile", args=["BJ01", other.code])).status_code
        == 403
    )
    # Another store's member is served at this counter (the chain rule), but their profile is
    # their home store's to change: back to the card.
    r = clerk_client.get(reverse("counter:member_profile", args=["SH01", other.code]))
    assert r.status_code == 302 and r["Location"] == reverse(
        "counter:member", args=["SH01", other.code]
    )
    url = reverse("counter:member_profile", args=["SH01", member.code])
    r = clerk_client.get(url)
    assert r.status_code == 200
    html = r.content.decode()
    assert member.masked_phone in html and member.phone[3:] not in html
    assert not r.context["reveal_phone"]
    r = clerk_client.post(url, {"section": "profile", "likes": "抹茶, 芒果", "skin_type": "dry"})
    assert r.status_code == 302
    member.profile.refresh_from_db()
    assert member.profile.likes == "抹茶\n芒果" and member.profile.skin_type == "dry"
    r = clerk_client.post(url, {"section": "tag", "tag": "VIP客户"})
    assert r.status_code == 403
    r = clerk_client.post(url, {"section": "note", "body": ""})
    assert r.status_code == 400
    assert clerk_client.post(url, {"section": "note", "body": "对芒果过敏"}).status_code == 302
    assert member.notes.get().body == "对芒果过敏"


# --- Privacy -----------------------------------------------------------------------------------


def test_export_zip_holds_the_members_data(member, admin_user):
    buy(member, 200)
    data = member_export(member=member, actor=admin_user)
    z = zipfile.ZipFile(io.BytesIO(data))
    assert set(z.namelist()) == {"member.json", "orders.csv", "points.csv", "vouchers.csv"}
    body = json.loads(z.read("member.json"))
    assert body["member"]["phone"] == member.phone
    assert "200.00" in z.read("orders.csv").decode("utf-8-sig")
    assert AuditEntry.objects.filter(action="member.exported", target_id=str(member.pk)).exists()


def test_erasure_anonymises_but_keeps_amounts(member, admin_user, admin_client):
    buy(member, 300)
    child_save(
        member=member, name="小宝", birth_date=date(2025, 1, 1), due_date=None, actor=admin_user
    )
    member.refresh_from_db()
    r = admin_client.post(
        reverse("members:privacy_erase", args=[member.code]), {"confirm_code": "wrong"}
    )
    member.refresh_from_db()
    assert member.erased_at is None
    admin_client.post(
        reverse("members:privacy_erase", args=[member.code]), {"confirm_code": member.code}
    )
    member.refresh_from_db()
    assert member.erased_at is not None and member.name == "" and member.phone.startswith("+999")
    assert member.points_balance == 0 and not member.children.exists()
    assert Order.objects.get(member=member).total == 300  # statistics keep the amount
    assert PointsEntry.objects.filter(member=member).order_by("-id").first().reason
    with pytest.raises(ApplicationError):
        member_erase(member=member, actor=admin_user)
    r = admin_client.get(reverse("members:detail", args=[member.code]))
    assert r.status_code == 200


def test_operators_cannot_erase(operator_client, member):
    r = operator_client.post(
        reverse("members:privacy_erase", args=[member.code]), {"confirm_code": member.code}
    )
    assert r.status_code == 403


def test_automatic_tags_follow_the_category_rule(store_sh):
    from members.models import MemberTag, Tag
    from members.services.profiles import tags_auto_apply

    tag = Tag.objects.create(name="母婴客户", kind=Tag.Kind.AUTO, rule_category="baby")
    baby, skin = MemberFactory(store=store_sh), MemberFactory(store=store_sh)
    from members.services import order_ingest
    from tests.members.helpers import order_in

    data = order_in(baby, 99, sku="DIAPER-S")
    data.lines[0].category = "baby"
    order_ingest(data=data, hash_="h-baby")
    buy(skin, 99)
    assert tags_auto_apply() == 1
    assert list(MemberTag.objects.filter(tag=tag).values_list("member", flat=True)) == [baby.pk]
    assert tags_auto_apply() == 0  # already tagged: nothing twice


# --- Custom attributes and tags in the console ----------------------------------------------------


def test_operator_defines_attributes_and_tags_in_the_console(operator_client, store_sh):
    from members.models import AttributeDefinition, MemberTag, Tag

    url = reverse("members:profile_fields")
    assert operator_client.get(url).status_code == 200
    r = operator_client.post(
        url,
        {
            "action": "add_attribute",
            "key": "shoe",
            "label": "Shoe size",
            "kind": "choice",
            "choices": "36\n37\n37\n",
        },
    )
    assert r.status_code == 302
    assert AttributeDefinition.objects.get(key="shoe").choices == ["36", "37"]
    # Bad input names the field and changes nothing.
    r = operator_client.post(
        url, {"action": "add_attribute", "key": "Bad Key", "label": "", "kind": "choice"}
    )
    assert r.status_code == 200
    assert b"has-error" in r.content and AttributeDefinition.objects.count() == 1
    buyer, other = MemberFactory(store=store_sh), MemberFactory(store=store_sh)
    buy(buyer, 50, sku="MASK-10")
    r = operator_client.post(
        url, {"action": "add_tag", "name": "护肤客", "rule_category": "skincare"}
    )
    assert r.status_code == 302
    tag = Tag.objects.get(name="护肤客")
    assert tag.kind == Tag.Kind.AUTO
    assert set(MemberTag.objects.filter(tag=tag).values_list("member_id", flat=True)) == {buyer.pk}
    r = operator_client.post(url, {"action": f"delete_tag:{tag.pk}"})
    assert r.status_code == 302 and not Tag.objects.exists() and not MemberTag.objects.exists()
    assert (
        AuditEntry.objects.filter(
            action__in=["tag.created", "tag.deleted", "attribute.created"]
        ).count()
        == 3
    )
    assert other.tags.count() == 0


def test_the_timeline_writes_money_and_points_with_thousands_separators(member):
    from decimal import Decimal

    from members.selectors.timeline import member_timeline
    from members.services import points_adjust

    buy(member, Decimal("15208.00"))
    points_adjust(member=member, points=12000, reason="opening", actor=None)
    titles = [e.title for e in member_timeline(member)]
    assert any("15,208.00" in t for t in titles) and any("+12,000" in t for t in titles)
