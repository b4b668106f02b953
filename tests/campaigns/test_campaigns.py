"""Campaigns: the draw of the holdout, the launch into the outbox, the workflow, the dry run
against what the launch and the relay then do, the results."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import AuditEntry
from campaigns.models import Campaign, CampaignMember, Message, MessageSettings, Unreachable
from campaigns.selectors import campaigns as sel
from campaigns.services import campaigns as svc
from campaigns.services.outbox import outbox_relay_batch
from members.models import Member, Order, Segment, Voucher, VoucherTemplate
from scrm.exceptions import ApplicationError

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db(transaction=False)


def _members(n: int, *, start: int = 0, **fields) -> list[int]:
    Member.objects.bulk_create(
        [
            Member(
                code=f"MC{i:06d}",
                phone=f"+86136{i:08d}",
                phone_last4=f"{i:04d}"[-4:],
                name=f"会员{i}",
                **fields,
            )
            for i in range(start, start + n)
        ],
        batch_size=5000,
    )
    return list(
        Member.objects.filter(code__startswith="MC").order_by("pk").values_list("pk", flat=True)
    )


def _segment() -> Segment:
    return Segment.objects.create(
        name="everyone", definition={"match": "all", "groups": []}, for_marketing=True
    )


def _data(**kw):
    data = {
        "name": "中秋回购",
        "kind": "promotion",
        "segment": _segment(),
        "channels": ["portal", "sms"],
        "messages": {
            "portal": {"body": "{name}，中秋快乐！{voucher}"},
            "sms": {"body": "{name}，中秋礼遇已到。拒收请回复R"},
        },
        "starts_at": datetime(2026, 9, 20, 10, 0, tzinfo=SH),
        "conversion_window_days": 14,
        "holdout_percent": 10,
    }
    data.update(kw)
    return data


def _campaign(actor=None, **kw) -> Campaign:
    return svc.campaign_save(data=_data(**kw), actor=actor)


def _rules_off():
    """No 3:1 rule and no cap: every consented treated member is sent at once."""
    MessageSettings.objects.filter(pk=MessageSettings.current().pk).update(
        value_per_promotion=0, cap_count=0
    )


def test_a_10000_member_campaign_holds_out_10_percent_and_messages_only_the_treatment(operator):
    ids = _members(10_000, consent_portal=True)
    Member.objects.filter(pk__in=ids[::2]).update(consent_sms=True)
    offer = VoucherTemplate.objects.create(
        code="MOON-50",
        kind="amount_off",
        amount=Decimal("50"),
        name_zh="中秋50元",
        name_en="50 off",
    )
    c = _campaign(operator, offer=offer)
    now = datetime(2026, 9, 21, 10, 0, tzinfo=SH)
    c = svc.campaign_launch(campaign=c, actor=operator, now=now)
    assert c.status == Campaign.Status.RUNNING
    groups = dict(CampaignMember.objects.filter(campaign=c).values_list("member_id", "group"))
    assert len(groups) == 10_000  # one row a member: nobody in both groups
    held = {m for m, g in groups.items() if g == "holdout"}
    assert abs(len(held) / 10_000 - 0.10) <= 0.015
    assert c.holdout_count == len(held) == 1000 and c.treatment_count == 9000
    # The draw is the stored seed's: the same function in Python gives the same groups.
    assert _draw(c.seed, ids, 10) == groups
    messages = Message.objects.filter(source_type="campaign", source_id=f"{c.pk}:0")
    assert not messages.filter(member_id__in=held).exists()
    treated = set(groups) - held
    per = dict(messages.values("channel").annotate(n=_count()).values_list("channel", "n"))
    assert per["portal"] == 9000
    assert per["sms"] == len(treated & set(ids[::2]))
    assert messages.values("member_id", "channel").distinct().count() == messages.count()
    first = Member.objects.get(pk=min(treated))  # its text, rendered in SQL for it
    assert (
        messages.get(member_id=first.pk, channel="portal").text
        == f"{first.name}，中秋快乐！{{voucher}}"
    )

    # Launching again, or a worker writing the outbox again from the start, changes nothing.
    with pytest.raises(ApplicationError) as e:
        svc.campaign_launch(campaign=c, actor=operator, now=now)
    assert e.value.code == "campaign_not_draft" and e.value.status_code == 409
    before = messages.count()
    Campaign.objects.filter(pk=c.pk).update(round_cursor=0, round_written=False)
    assert svc.campaign_outbox_write(c.pk, now=now)
    assert messages.count() == before
    assert CampaignMember.objects.filter(campaign=c).count() == 10_000

    # The relay sends; the treatment's vouchers are issued as their messages go, one each.
    _rules_off()
    while outbox_relay_batch(limit=2000, now=now):
        pass
    vouchers = Voucher.objects.filter(source=f"campaign:{c.pk}")
    assert vouchers.count() == 9000
    assert not vouchers.filter(member_id__in=held).exists()
    assert set(vouchers.values_list("member_id", flat=True)) == treated
    sample = messages.filter(channel="portal").exclude(member_id__in=held).first()
    code = vouchers.get(member_id=sample.member_id).code
    assert code in sample.text


def _draw(seed: int, member_ids: list[int], percent: int) -> dict[int, str]:
    """The draw as the docs state it, in plain Python: order by md5("seed:id"), hold out the
    first round(n × percent / 100)."""
    import hashlib

    def key(m: int) -> tuple[str, int]:
        return hashlib.md5(f"{seed}:{m}".encode()).hexdigest(), m  # noqa: S324 (not security)

    ordered = sorted(member_ids, key=key)
    k = (len(ordered) * percent + 50) // 100  # round half up
    return {m: ("holdout" if i < k else "treatment") for i, m in enumerate(ordered)}


def _count():
    from django.db.models import Count

    return Count("id")


def test_the_launch_is_audited_and_editing_a_scheduled_campaign_returns_it_to_draft(operator):
    _members(50, consent_portal=True)
    c = _campaign(operator, starts_at=timezone.now() + timedelta(days=3))
    c = svc.campaign_launch(campaign=c, actor=operator)
    assert c.status == Campaign.Status.SCHEDULED
    assert Message.objects.filter(source_id=f"{c.pk}:0").count() == c.treatment_count
    data = _data(name="中秋回购（改）", starts_at=c.starts_at, segment=c.segment)
    c = svc.campaign_save(data=data, actor=operator, campaign=c)
    assert c.status == Campaign.Status.DRAFT and c.name == "中秋回购（改）"
    assert not CampaignMember.objects.filter(campaign=c).exists()
    assert not Message.objects.filter(source_id=f"{c.pk}:0").exists()
    actions = list(
        AuditEntry.objects.filter(target_id=str(c.pk), action__startswith="campaign.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["campaign.created", "campaign.launched", "campaign.changed"]


def test_a_running_campaign_cannot_be_edited_and_cancel_stops_what_was_not_sent(operator):
    _members(30, consent_portal=True)
    c = _campaign(operator, starts_at=timezone.now() - timedelta(minutes=1))
    c = svc.campaign_launch(campaign=c, actor=operator)
    with pytest.raises(ApplicationError) as e:
        svc.campaign_save(data=_data(segment=c.segment), actor=operator, campaign=c)
    assert e.value.status_code == 409
    c = svc.campaign_cancel(campaign=c, actor=operator)
    assert c.status == Campaign.Status.CANCELLED
    rows = Message.objects.filter(source_id=f"{c.pk}:0")
    assert rows.count() == c.treatment_count and set(rows.values_list("reason", flat=True)) == {
        "cancelled"
    }
    assert outbox_relay_batch(now=timezone.now()) == 0


def test_bad_input_names_the_field(operator):
    with pytest.raises(ApplicationError) as e:
        svc.campaign_save(
            data=_data(
                name="",
                channels=["sms"],
                messages={"sms": {"body": "没有退订 {nme}"}},
                holdout_percent=60,
                conversion_window_days=0,
            ),
            actor=operator,
        )
    f = e.value.fields
    assert {"name", "sms_body", "holdout_percent", "conversion_window_days"} <= set(f)
    assert not Campaign.objects.exists()
    with pytest.raises(ApplicationError) as e:
        svc.campaign_save(
            data=_data(segment=None, members=["M404404", "+8613900000000"]), actor=operator
        )
    assert "members" in e.value.fields and "M404404" in e.value.fields["members"][0]


def test_an_uploaded_list_is_the_audience(operator):
    ids = _members(20, consent_portal=True)
    codes = list(Member.objects.filter(pk__in=ids[:5]).values_list("code", flat=True))
    phone = Member.objects.get(pk=ids[6]).phone
    c = svc.campaign_save(data=_data(segment=None, members=[*codes, phone[3:]]), actor=operator)
    assert c.uses_list
    assert set(sel.audience_all(c).values_list("pk", flat=True)) == {*ids[:5], ids[6]}


# --- The dry run equals what the launch and the relay then do -----------------------------------


def _varied_population(rng: random.Random, n: int) -> list[int]:
    ids = _members(n)
    frequencies = ["any", "any", "any", "weekly", "monthly", "service"]
    for pk in ids:
        Member.objects.filter(pk=pk).update(
            consent_portal=rng.random() < 0.8,
            consent_sms=rng.random() < 0.6,
            consent_email=rng.random() < 0.5,
            email=f"m{pk}@example.com" if rng.random() < 0.7 else "",
            marketing_opt_out=rng.random() < 0.05,
            frequency=rng.choice(frequencies),
        )
    return ids


def _history(rng: random.Random, ids: list[int], at: datetime) -> None:
    """Marketing messages already sent to some members, of both kinds, over the last 30 days."""
    rows = []
    for pk in ids:
        for j in range(rng.choice([0, 0, 1, 2, 3, 4])):
            rows.append(
                Message(
                    source_type="system",
                    source_id=f"old:{j}",
                    member_id=pk,
                    channel="portal",
                    kind=rng.choice(["value", "value", "promotion"]),
                    text="旧消息",
                    status="delivered",
                    sent_at=at - timedelta(hours=rng.randint(1, 24 * 29)),
                )
            )
    Message.objects.bulk_create(rows)


@pytest.mark.parametrize(
    "kind,local_time", [("promotion", (10, 0)), ("value", (14, 30)), ("promotion", (22, 0))]
)
def test_the_dry_run_predicts_what_the_launch_and_the_relay_do(operator, kind, local_time):
    rng = random.Random(f"{kind}{local_time}")
    ids = _varied_population(rng, 400)
    at = datetime(2026, 9, 21, *local_time, tzinfo=SH)
    _history(rng, ids, at)
    for pk in rng.sample(ids, 20):
        Unreachable.objects.create(member_id=pk, channel="sms", address="")
    c = _campaign(
        operator,
        kind=kind,
        channels=["sms", "email", "portal"],
        messages={
            "sms": {"body": "{name}：秋日护理小贴士。拒收请回复R"},
            "email": {"body": "{name}", "subject": "中秋"},
            "portal": {"body": "{name}"},
        },
        starts_at=at - timedelta(minutes=5),
    )
    dry = sel.campaign_dry_run(c, now=at)
    c = svc.campaign_launch(campaign=c, actor=operator, now=at)
    assert dry["treatment"] == c.treatment_count and dry["holdout"] == c.holdout_count
    from campaigns.channels import sms as sms_channel
    from campaigns.channels.base import Outcome

    class _Gateway:  # outside the product: the SMS and email providers accept everything here
        def send(self, m, member):
            return Outcome("sent", provider_id=f"x-{m.pk}")

    import campaigns.services.outbox as outbox

    real = outbox.adapter_for

    def adapter(channel):
        a = real(channel)
        if channel in ("sms", "email"):
            a.send = _Gateway().send
        return a

    outbox.adapter_for = adapter
    try:
        while outbox_relay_batch(limit=97, now=at):
            pass
    finally:
        outbox.adapter_for = real
    del sms_channel
    rows = Message.objects.filter(source_type="campaign", source_id=f"{c.pk}:0")
    for line in dry["channels"]:
        mine = rows.filter(channel=line["channel"])
        assert mine.count() == line["consent"], line
        assert mine.filter(status__in=("sent", "delivered")).count() == line["sent"], line
        assert mine.filter(status="deferred").count() == line["deferred"], line
        assert mine.exclude(status="skipped").count() == line["reachable"], line
        for reason in ("quiet_hours", "frequency_cap", "ratio_3_1", "member_frequency"):
            assert mine.filter(status="deferred", reason=reason).count() == line[reason], (
                reason,
                line,
            )
    if local_time == (22, 0):
        assert sum(line["quiet_hours"] for line in dry["channels"]) > 0
    else:
        assert sum(line["sent"] for line in dry["channels"]) > 0
        assert sum(line["deferred"] for line in dry["channels"]) > 0


# --- Results ------------------------------------------------------------------------------------


def test_results_compare_the_groups_and_count_orders_in_the_window(operator):
    ids = _members(400, consent_portal=True)
    start = datetime(2026, 9, 20, 10, 0, tzinfo=SH)
    c = _campaign(operator, starts_at=start)
    c = svc.campaign_launch(campaign=c, actor=operator, now=start)
    groups = dict(CampaignMember.objects.filter(campaign=c).values_list("member_id", "group"))
    treated = [m for m in ids if groups[m] == "treatment"]
    held = [m for m in ids if groups[m] == "holdout"]
    n = 0

    def order(member_id, at, total):
        nonlocal n
        n += 1
        Order.objects.create(
            source="test",
            external_id=f"o{n}",
            member_id=member_id,
            placed_at=at,
            total=Decimal(total),
            request_hash="x",
        )

    for m in treated[:90]:
        order(m, start + timedelta(days=2), "100.00")
    for m in treated[:10]:
        order(m, start + timedelta(days=3), "50.00")
    for m in held[:4]:
        order(m, start + timedelta(days=5), "80.00")
    order(treated[100], start - timedelta(days=1), "999.00")  # before the start: not counted
    order(treated[101], start + timedelta(days=15), "999.00")  # after the window
    r = sel.campaign_results(c, now=start + timedelta(days=20))
    t, h = r["treatment"], r["holdout"]
    assert (t["members"], h["members"]) == (360, 40)
    assert (t["converted"], t["orders"], t["revenue"]) == (90, 100, "9500.00")
    assert (h["converted"], h["orders"], h["revenue"]) == (4, 4, "320.00")
    assert t["conversion_rate"] == "0.2500" and h["conversion_rate"] == "0.1000"
    assert r["lift"]["absolute"] == "0.1500"
    low, high = (Decimal(x) for x in r["lift"]["ci95"])
    assert low < Decimal("0.15") < high
    assert r["lift"]["incremental_orders"] == 100 - 36
    assert r["lift"]["incremental_revenue"] == "6620.00"
    assert r["daily"]["treatment"][2] == "0.2500" and r["daily"]["treatment"][1] == "0.0000"
    assert len(r["daily"]["days"]) == 14
    drill = sel.campaign_members(c, group="treatment", which="converted")
    assert drill.count() == 90


def test_the_advance_starts_and_finishes_campaigns_and_freezes_the_results(operator):
    _members(40, consent_portal=True)
    start = timezone.now() + timedelta(hours=1)
    c = _campaign(operator, starts_at=start)
    c = svc.campaign_launch(campaign=c, actor=operator)
    assert c.status == "scheduled"
    svc.campaigns_advance(now=start + timedelta(minutes=1))
    c.refresh_from_db()
    assert c.status == "running" and c.results is not None
    svc.campaigns_advance(now=start + timedelta(days=15))
    c.refresh_from_db()
    assert c.status == "finished" and c.results["treatment"]["members"] == c.treatment_count
    frozen = c.results
    svc.campaigns_advance(now=start + timedelta(days=16))
    c.refresh_from_db()
    assert c.results == frozen
    actions = set(AuditEntry.objects.filter(target_id=str(c.pk)).values_list("action", flat=True))
    assert {"campaign.started", "campaign.finished"} <= actions


def test_a_weekly_campaign_writes_each_round_a_day_ahead(operator):
    _members(10, consent_portal=True)
    start = datetime(2026, 10, 1, 10, 0, tzinfo=SH)
    c = _campaign(
        operator, starts_at=start, repeat="weekly", repeat_until=start.date() + timedelta(days=14)
    )
    assert len(c.round_starts()) == 3
    c = svc.campaign_launch(campaign=c, actor=operator, now=start)
    svc.campaigns_advance(now=start + timedelta(days=5))
    assert not Message.objects.filter(source_id=f"{c.pk}:1").exists()
    svc.campaigns_advance(now=start + timedelta(days=6, hours=1))
    assert Message.objects.filter(source_id=f"{c.pk}:1").count() == c.treatment_count
    row = Message.objects.filter(source_id=f"{c.pk}:1").first()
    assert row.scheduled_for == start + timedelta(days=7)


def test_the_holdout_is_the_rounded_share_of_the_audience(operator):
    """rn * 100 <= n * percent + 50: 15 members at 10% hold out 2 (1.5 rounds up), 14 hold out 1."""
    for n, held in ((15, 2), (14, 1), (4, 0)):
        Member.objects.all().delete()
        ids = _members(n, consent_portal=True)
        c = svc.campaign_launch(campaign=_campaign(operator), actor=operator)
        assert c.holdout_count == held, n
        assert _draw(c.seed, ids, 10) == dict(
            CampaignMember.objects.filter(campaign=c).values_list("member_id", "group")
        )
        CampaignMember.objects.filter(campaign=c).delete()
        Message.objects.filter(source_type="campaign").delete()


@pytest.mark.sqlite
def test_the_demo_database_draws_launches_dry_runs_and_measures_the_same(operator):
    """The embedded demo runs on SQLite: the draw's SQL (with its md5 function), the outbox's
    INSERT … SELECT and the results run there too, and give the documented draw."""
    ids = _members(40, consent_portal=True)
    c = _campaign(
        operator, kind="value", channels=["portal"], messages={"portal": {"body": "{name}"}}
    )
    at = datetime(2026, 9, 21, 10, 0, tzinfo=SH)
    dry = sel.campaign_dry_run(c, now=at)
    c = svc.campaign_launch(campaign=c, actor=operator, now=at)
    assert (dry["treatment"], dry["holdout"]) == (c.treatment_count, c.holdout_count) == (36, 4)
    groups = dict(CampaignMember.objects.filter(campaign=c).values_list("member_id", "group"))
    assert _draw(c.seed, ids, 10) == groups
    rows = Message.objects.filter(source_type="campaign", source_id=f"{c.pk}:0")
    assert rows.count() == 36 and rows.first().text.startswith("会员")
    while outbox_relay_batch(now=at):
        pass
    assert rows.filter(status="delivered").count() == dry["channels"][0]["sent"] == 36
    treated = [m for m, g in groups.items() if g == "treatment"][:9]
    for i, m in enumerate(treated):
        Order.objects.create(
            source="t",
            external_id=f"s{i}",
            member_id=m,
            placed_at=at + timedelta(days=1),
            total=Decimal("10.00"),
            request_hash="x",
        )
    r = sel.campaign_results(c, now=at + timedelta(days=20))
    assert r["treatment"]["converted"] == 9 and r["treatment"]["conversion_rate"] == "0.2500"
    assert r["daily"]["treatment"][1] == "0.2500"
