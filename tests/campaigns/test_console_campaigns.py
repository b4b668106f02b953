"""The campaign pages of the console: the calendar's views with campaigns and brand days, the
editor, the dry run, the launch, the results and the members behind them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from campaigns.models import BrandDay, Campaign, CampaignMember, Message
from campaigns.services import campaigns as svc
from members.models import Member, Order, Segment

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


def _members(n: int) -> None:
    Member.objects.bulk_create(
        [
            Member(
                code=f"MP{i:05d}",
                phone=f"+86135{i:08d}",
                phone_last4=f"{i:04d}",
                name=f"顾客{i}",
                consent_portal=True,
            )
            for i in range(n)
        ]
    )


def _form(segment: Segment, **kw) -> dict:
    data = {
        "name": "中秋回购",
        "kind": "value",
        "audience": "segment",
        "segment": str(segment.pk),
        "channels": ["portal"],
        "portal_body": "{name}，中秋快乐！",
        "starts_at": "2026-09-22T10:00",
        "repeat": "once",
        "conversion_window_days": "14",
        "holdout_percent": "10",
    }
    data.update(kw)
    return data


@pytest.fixture
def segment(db):
    return Segment.objects.create(name="全部会员", definition={"match": "all", "groups": []})


def test_an_operator_builds_dry_runs_launches_and_reads_a_campaign(operator_client, segment):
    _members(60)
    r = operator_client.post("/console/campaigns/new/", _form(segment, holdout_percent="70"))
    assert r.status_code == 200 and "holdout_percent" in r.context["form"].errors
    assert not Campaign.objects.exists()
    r = operator_client.post("/console/campaigns/new/", _form(segment))
    c = Campaign.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/console/campaigns/{c.pk}/"
    page = operator_client.get(r["Location"])
    assert "顾客0，中秋快乐！" in page.content.decode()  # previewed on a member of the audience
    with time_machine.travel(datetime(2026, 9, 21, 14, 0, tzinfo=SH), tick=False):
        operator_client.post(f"/console/campaigns/{c.pk}/dry-run/")
    c.refresh_from_db()
    assert c.dry_run["reachable_audience"] == 60 and c.dry_run["holdout"] == 6
    page = operator_client.get(f"/console/campaigns/{c.pk}/").content.decode()
    assert 'data-dry="treatment">54<' in page
    with time_machine.travel(datetime(2026, 9, 22, 14, 0, tzinfo=SH), tick=False):
        r = operator_client.post(f"/console/campaigns/{c.pk}/launch/")
        assert r.status_code == 302
        c.refresh_from_db()
        assert c.status == "running" and c.treatment_count == 54
        assert Message.objects.filter(source_id=f"{c.pk}:0").count() == 54
        treated = list(
            CampaignMember.objects.filter(campaign=c, group="treatment").values_list(
                "member_id", flat=True
            )[:27]
        )
        for i, m in enumerate(treated):
            Order.objects.create(
                source="t",
                external_id=f"c{i}",
                member_id=m,
                placed_at=timezone.now(),
                total=Decimal("120.00"),
                request_hash="x",
            )
    svc.campaign_results_refresh(c)  # now, after the window
    page = operator_client.get(f"/console/campaigns/{c.pk}/results/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "data-lift" in html and "50.0" in html  # 27 of 54 treated converted
    assert "Wald" in html
    drill = operator_client.get(
        f"/console/campaigns/{c.pk}/members/?group=treatment&which=converted"
    )
    assert len(drill.context["rows"]) == 27
    # A launched campaign is not edited; a second launch is refused with a message.
    assert operator_client.get(f"/console/campaigns/{c.pk}/edit/").status_code == 302
    r = operator_client.post(f"/console/campaigns/{c.pk}/launch/", follow=True)
    assert (
        "launched already" in r.content.decode()
        or "已经发布" in r.content.decode()
        or r.status_code == 200
    )


def test_the_calendar_shows_campaigns_brand_days_and_what_is_not_planned(operator_client, segment):
    with time_machine.travel(datetime(2026, 8, 20, 9, 0, tzinfo=SH), tick=False):
        BrandDay.objects.create(name="会员日", date=date(2026, 1, 18), repeat="monthly")
        page = operator_client.get("/console/campaigns/?year=2026&month=9").content.decode()
        assert 'data-date="2026-09-18"' in page and "会员日" in page
        assert 'data-plan="2026-09-25"' in page  # Mid-Autumn, nothing planned yet
        plan = operator_client.get("/console/campaigns/new/?occasion=中秋节&date=2026-09-25")
        initial = plan.context["form"].initial
        assert initial["occasion_date"] == date(2026, 9, 25) and initial["name"] == "中秋节"
        assert initial["starts_at"] == datetime(2026, 9, 22, 10, 0)
        svc.campaign_save(
            data={
                "name": "中秋回购",
                "kind": "promotion",
                "segment": segment,
                "channels": ["portal"],
                "messages": {"portal": {"body": "hi"}},
                "starts_at": datetime(2026, 9, 22, 10, 0, tzinfo=SH),
                "conversion_window_days": 14,
                "holdout_percent": 10,
                "occasion_date": date(2026, 9, 25),
            },
            actor=None,
        )
        page = operator_client.get("/console/campaigns/?year=2026&month=9").content.decode()
        assert 'data-planned="2026-09-25"' in page and 'data-plan="2026-09-25"' not in page
        assert "data-calendar-campaign" in page
        week = operator_client.get("/console/campaigns/?view=week&date=2026-09-23").content.decode()
        assert 'data-date="2026-09-21"' in week and "中秋回购" in week
        year = operator_client.get("/console/campaigns/?view=list&year=2027").content.decode()
        assert "2027-09-15" in year  # Mid-Autumn 2027


def test_brand_days_are_added_edited_and_removed_with_an_audit_trail(operator_client):
    r = operator_client.post(
        "/console/campaigns/days/",
        {"name": "", "kind": "member_day", "date": "2026-05-18", "repeat": "monthly"},
    )
    assert r.status_code == 200 and "name" in r.context["form"].errors
    r = operator_client.post(
        "/console/campaigns/days/",
        {"name": "会员日", "kind": "member_day", "date": "2026-05-18", "repeat": "monthly"},
    )
    day = BrandDay.objects.get()
    assert r.status_code == 302 and day.repeat == "monthly"
    operator_client.post(
        f"/console/campaigns/days/{day.pk}/",
        {"name": "超级会员日", "kind": "member_day", "date": "2026-05-18", "repeat": "yearly"},
    )
    day.refresh_from_db()
    assert day.name == "超级会员日" and day.repeat == "yearly"
    operator_client.post(f"/console/campaigns/days/{day.pk}/", {"action": "delete"})
    assert not BrandDay.objects.exists()
    from accounts.models import AuditEntry

    assert list(
        AuditEntry.objects.filter(action__startswith="brand_day.")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["brand_day.created", "brand_day.saved", "brand_day.deleted"]


def test_the_campaign_pages_cost_a_bounded_number_of_queries(
    operator_client, segment, django_assert_max_num_queries
):
    _members(30)
    c = svc.campaign_save(
        data={
            "name": "回购",
            "kind": "value",
            "segment": segment,
            "channels": ["portal"],
            "messages": {"portal": {"body": "{name}"}},
            "starts_at": timezone.now() - timedelta(minutes=1),
            "conversion_window_days": 14,
            "holdout_percent": 10,
        },
        actor=None,
    )
    c = svc.campaign_launch(campaign=c, actor=None)
    svc.campaign_results_refresh(c)
    for url in (
        "/console/campaigns/all/",
        f"/console/campaigns/{c.pk}/",
        f"/console/campaigns/{c.pk}/results/",
        f"/console/campaigns/{c.pk}/members/?group=treatment",
        "/console/campaigns/",
    ):
        with django_assert_max_num_queries(20):
            assert operator_client.get(url).status_code == 200, url


def test_a_channel_left_empty_takes_its_message_template(operator_client, segment):
    from campaigns.models import MessageTemplate

    t = MessageTemplate.objects.create(
        code="moon_tips",
        name="中秋贴士",
        channel="portal",
        kind="value",
        body="{name}，月饼宜冷藏。",
    )
    r = operator_client.post(
        "/console/campaigns/new/", _form(segment, portal_body="", portal_template=str(t.pk))
    )
    assert r.status_code == 302
    m = Campaign.objects.get().messages.get()
    assert m.body == "{name}，月饼宜冷藏。" and m.template_id == t.pk
    edit = operator_client.get(f"/console/campaigns/{Campaign.objects.get().pk}/edit/")
    assert edit.context["form"].initial["portal_template"] == t.pk


def test_an_uploaded_list_file_is_read_and_a_binary_one_refused(operator_client, segment):
    from django.core.files.uploadedfile import SimpleUploadedFile

    _members(5)
    gbk = SimpleUploadedFile("list.csv", "MP00001\n手机\n+8613500000002\n".encode("gb18030"))
    r = operator_client.post(
        "/console/campaigns/new/", _form(segment, audience="list", members_file=gbk)
    )
    assert r.status_code == 200  # 手机 names nobody: the page says which
    assert "手机" in str(r.context["form"].errors)
    ok = SimpleUploadedFile("list.csv", b"MP00001\n+8613500000002\n")
    r = operator_client.post(
        "/console/campaigns/new/", _form(segment, audience="list", members_file=ok)
    )
    assert r.status_code == 302
    assert Campaign.objects.get().uses_list
    xlsx = SimpleUploadedFile("list.csv", b"PK\x03\x04\x00\x00\xff\xfe\x00binary")
    r = operator_client.post(
        "/console/campaigns/new/", _form(segment, audience="list", members_file=xlsx)
    )
    assert r.status_code == 200 and "members_file" in r.context["form"].errors
