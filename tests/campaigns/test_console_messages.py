"""Messages in the console: the log (filters, reasons in words, pagination, a bounded number of
queries), a message's attempts, a member's messages (linked from the Member 360), templates with
their save-time checks and the live preview on a chosen member, the guard rails' defaults with the
channels' state and Resume, and each staff member's WeCom to-dos."""

from __future__ import annotations

import itertools
from datetime import time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from campaigns.models import (
    ChannelState,
    Message,
    MessageAttempt,
    MessageSettings,
    MessageTemplate,
    StaffTask,
)
from campaigns.selectors import messages as message_selectors
from campaigns.views import portal as portal_views
from campaigns.views.console import messages as message_views
from members.selectors.timeline import member_timeline
from scrm import shells
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _registered():
    """What campaigns.apps registers in the shells (idempotent: registering twice changes nothing)."""
    shells.menu_register(*message_views.menu_entries())
    shells.settings_register(*message_views.settings_cards())
    shells.member_links_register(message_views.member_links)
    shells.portal_tiles_register(portal_views.portal_tiles)
    message_selectors.timeline_register()


def message(member, *, channel="sms", kind="service", status="sent", reason="", **over) -> Message:
    now = timezone.now()
    sent = status in ("sent", "delivered")
    values = {
        "source_type": "system",
        "source_id": f"test:{next(_seq)}",
        "member": member,
        "channel": channel,
        "kind": kind,
        "text": over.pop("text", "您的积分已到账"),
        "status": status,
        "reason": reason,
        "sent_at": now if sent else None,
        "delivered_at": now if status == "delivered" else None,
        "attempts": 1 if sent else 0,
        **over,
    }
    return Message.objects.create(**values)


def template_data(**over):
    data = {
        "code": "points_tip",
        "name": "积分小贴士",
        "channel": "sms",
        "language": "zh-hans",
        "kind": "service",
        "subject": "",
        "body": "{name}，你有 {points} 积分",
        "is_active": "on",
    }
    data.update(over)
    return data


# --- The log -----------------------------------------------------------------------------------


def test_the_log_without_messages_says_so(operator_client):
    html = operator_client.get(reverse("messages:log"), **EN).content.decode()
    assert "No messages yet" in html


def test_the_log_shows_each_status_with_its_reason_in_words(operator_client, member):
    message(member, status="deferred", reason="quiet_hours", kind="value")
    message(member, status="skipped", reason="no_consent", kind="promotion", channel="email")
    message(member, status="failed", reason="gave_up")
    message(member, status="delivered", channel="portal")
    html = operator_client.get(reverse("messages:log"), **EN).content.decode()
    assert 'data-reason="quiet_hours">Quiet hours' in html
    assert "No consent for this channel" in html
    assert "Gave up after the last try" in html
    assert 'data-status="delivered"' in html and "Delivered" in html
    assert "4 messages" in html
    assert "quiet_hours<" not in html  # the code is never shown for the words


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "skipped"}, {"skip"}),
        ({"channel": "email"}, {"email"}),
        ({"kind": "promotion"}, {"promo"}),
        ({"reason": "quiet_hours"}, {"quiet"}),
        ({"source": "campaign"}, {"campaign"}),
        ({"member": "mzz9999"}, {"other"}),
        ({"status": "deferred", "reason": "quiet_hours"}, {"quiet"}),
    ],
)
def test_the_log_filters(operator_client, member, query, expected):
    other = MemberFactory(code="MZZ9999")
    rows = {
        "skip": message(member, status="skipped", reason="opted_out", kind="value"),
        "email": message(member, channel="email", subject="Hi"),
        "promo": message(member, kind="promotion", status="deferred", reason="ratio_3_1"),
        "quiet": message(member, kind="value", status="deferred", reason="quiet_hours"),
        "campaign": message(member, source_type="campaign", source_id="7"),
        "other": message(other, channel="portal", status="delivered"),
    }
    r = operator_client.get(reverse("messages:log"), query)
    shown = {name for name, m in rows.items() if f'data-message="{m.pk}"' in r.content.decode()}
    assert shown == expected


def test_the_log_filters_by_day(operator_client, member):
    old = message(member)
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    new = message(member)
    today = timezone.localdate()
    r = operator_client.get(reverse("messages:log"), {"since": str(today)})
    assert f'data-message="{new.pk}"' in r.content.decode()
    assert f'data-message="{old.pk}"' not in r.content.decode()
    r = operator_client.get(reverse("messages:log"), {"until": str(today - timedelta(days=5))})
    assert f'data-message="{old.pk}"' in r.content.decode()
    assert f'data-message="{new.pk}"' not in r.content.decode()


def test_a_filter_that_matches_nothing_says_so_and_a_bad_member_code_is_named(
    operator_client, member
):
    message(member)
    html = operator_client.get(reverse("messages:log"), {"status": "failed"}, **EN).content.decode()
    assert "No message matches these filters" in html
    html = operator_client.get(reverse("messages:log"), {"member": "x y"}, **EN).content.decode()
    assert "Enter a member code" in html


def test_the_log_answers_htmx_with_the_table_only(operator_client, member):
    message(member)
    r = operator_client.get(reverse("messages:log"), {"channel": "sms"}, HTTP_HX_REQUEST="true")
    html = r.content.decode()
    assert "<html" not in html and "data-message=" in html


def test_the_log_pages_in_a_bounded_number_of_queries(
    operator_client, member, django_assert_max_num_queries
):
    members = [member] + [MemberFactory() for _ in range(30)]
    for i in range(120):
        message(members[i % len(members)], status="deferred", reason="frequency_cap")
    operator_client.get(reverse("messages:log"))
    with django_assert_max_num_queries(8):
        r = operator_client.get(reverse("messages:log"))
    assert r.content.decode().count("data-message=") == 50
    r = operator_client.get(reverse("messages:log"), {"page": 3})
    assert r.content.decode().count("data-message=") == 20


def test_a_message_page_shows_its_attempts(operator_client, member):
    m = message(member, status="failed", reason="unreachable", last_error="bad number")
    MessageAttempt.objects.create(message=m, outcome="retry", detail="HTTP 503", duration_ms=1200)
    MessageAttempt.objects.create(message=m, outcome="recipient", detail="invalid number")
    html = operator_client.get(reverse("messages:detail", args=[m.pk]), **EN).content.decode()
    assert 'data-attempt="retry"' in html and "HTTP 503" in html and "1,200" in html
    assert "Recipient unreachable" in html and "bad number" in html
    assert operator_client.get(reverse("messages:detail", args=[m.pk + 999])).status_code == 404


def test_a_wecom_message_names_the_staff_member_it_waits_for(operator_client, member, clerk_sh):
    m = message(member, channel="wecom", reason="handed_to_staff")
    StaffTask.objects.create(owner=clerk_sh, member=member, message=m, text=m.text)
    html = operator_client.get(reverse("messages:detail", args=[m.pk]), **EN).content.decode()
    assert "Handed to the owner to send" in html
    assert "Waiting in the to-do list of 王芳" in html


# --- One member's messages ---------------------------------------------------------------------


def test_a_members_messages_with_status_reason_and_channels(operator_client, member):
    message(member, status="skipped", reason="no_consent", kind="promotion")
    message(member, status="deferred", reason="member_frequency", kind="value")
    message(MemberFactory(), text="别人的消息")
    html = operator_client.get(
        reverse("messages:member", args=[member.code.lower()]), **EN
    ).content.decode()
    assert "No consent for this channel" in html and "The member&#x27;s chosen frequency" in html
    assert "别人的消息" not in html
    assert html.count("data-message=") == 2
    assert 'data-count-status="skipped"' in html
    assert 'data-channel="sms"' in html
    assert operator_client.get(reverse("messages:member", args=["MNOPE00"])).status_code == 404


def test_a_member_without_messages_is_told_so(operator_client, member):
    html = operator_client.get(
        reverse("messages:member", args=[member.code]), **EN
    ).content.decode()
    assert "No messages to this member yet" in html


def test_the_member_360_links_to_the_members_messages_for_operators_only(
    operator_client, clerk_client, member
):
    url = reverse("messages:member", args=[member.code])
    html = operator_client.get(reverse("members:detail", args=[member.code])).content.decode()
    assert f'href="{url}"' in html
    clerk_page = clerk_client.get(
        reverse("counter:member_profile", args=[member.store.code, member.code])
    )
    assert clerk_page.status_code == 200 and url not in clerk_page.content.decode()


def test_messages_are_on_the_member_360_timeline(member):
    message(member, status="deferred", reason="quiet_hours", kind="value", text="春季新品上市")
    entries = [e for e in member_timeline(member, kinds=["message"]) if e.kind == "message"]
    assert len(entries) == 1
    assert "春季新品上市" in entries[0].detail


# --- Templates ---------------------------------------------------------------------------------


def test_the_template_list_empty_and_with_templates(operator_client):
    MessageTemplate.objects.all().delete()  # the shipped system templates
    html = operator_client.get(reverse("messages:templates"), **EN).content.decode()
    assert "No message templates yet" in html
    MessageTemplate.objects.create(
        code="gift_granted", name="礼品提醒", channel="sms", kind="service", body="有礼品"
    )
    MessageTemplate.objects.create(
        code="gift_granted", name="礼品邮件", channel="email", kind="service", body="x", subject="s"
    )
    html = operator_client.get(reverse("messages:templates"), {"channel": "sms"}).content.decode()
    assert "礼品提醒" in html and "礼品邮件" not in html


def test_a_template_is_created_and_audited(operator_client, operator):
    r = operator_client.post(reverse("messages:template_new"), template_data())
    t = MessageTemplate.objects.get(code="points_tip")
    assert r.status_code == 302 and r["Location"] == reverse("messages:template_edit", args=[t.pk])
    assert t.updated_by == operator and t.subject == ""
    entry = AuditEntry.objects.get(action="message_template.created", target_id=str(t.pk))
    assert entry.after["body"] == "{name}，你有 {points} 积分"


@pytest.mark.parametrize(
    ("over", "words"),
    [
        ({"body": "你好 {nme}"}, "Unknown variable {nme}"),
        ({"body": "你好 {name"}, "A brace is not closed"),
        ({"kind": "promotion", "body": "全场 8 折"}, "must end with the opt-out text"),
        ({"body": "长" * 400}, "billing parts"),
        ({"channel": "email", "subject": ""}, "An email needs a subject"),
    ],
)
def test_a_template_with_a_problem_is_refused_naming_it(operator_client, over, words):
    r = operator_client.post(reverse("messages:template_new"), template_data(**over), **EN)
    assert r.status_code == 200
    assert words in r.content.decode()
    assert not MessageTemplate.objects.filter(code="points_tip").exists()


def test_a_marketing_sms_ending_with_the_opt_out_text_is_saved(operator_client):
    body = "{name}，春季新品上市，到店有礼 拒收请回复R"
    r = operator_client.post(
        reverse("messages:template_new"), template_data(kind="promotion", body=body)
    )
    assert r.status_code == 302
    assert MessageTemplate.objects.get(code="points_tip").body == body


def test_a_second_template_with_the_same_code_channel_and_language_is_refused(operator_client):
    operator_client.post(reverse("messages:template_new"), template_data())
    r = operator_client.post(reverse("messages:template_new"), template_data(name="另一个"), **EN)
    assert "already exists for this channel and language" in r.content.decode()
    assert MessageTemplate.objects.filter(code="points_tip").count() == 1


def test_editing_a_template_keeps_its_code(operator_client):
    operator_client.post(reverse("messages:template_new"), template_data())
    t = MessageTemplate.objects.get(code="points_tip")
    r = operator_client.post(
        reverse("messages:template_edit", args=[t.pk]),
        template_data(code="renamed", name="新名字", is_active=""),
    )
    assert r.status_code == 302
    t.refresh_from_db()
    assert (t.code, t.name, t.is_active) == ("points_tip", "新名字", False)
    entry = AuditEntry.objects.get(action="message_template.updated")
    assert entry.before == {"name": "积分小贴士", "is_active": True}


def test_an_unused_template_is_deleted_a_used_one_is_kept(operator_client, member):
    unused = MessageTemplate.objects.create(
        code="a", name="A", channel="sms", kind="service", body="x"
    )
    used = MessageTemplate.objects.create(
        code="b", name="B", channel="sms", kind="service", body="x"
    )
    message(member, template=used)
    r = operator_client.post(
        reverse("messages:template_edit", args=[unused.pk]), {"action": "delete"}
    )
    assert r.status_code == 302 and not MessageTemplate.objects.filter(pk=unused.pk).exists()
    assert AuditEntry.objects.filter(action="message_template.deleted").exists()
    html = operator_client.get(
        reverse("messages:template_edit", args=[used.pk]), **EN
    ).content.decode()
    assert "Delete this template" not in html and "switch it off" in html
    r = operator_client.post(
        reverse("messages:template_edit", args=[used.pk]), {"action": "delete"}, follow=True, **EN
    )
    assert MessageTemplate.objects.filter(pk=used.pk).exists()
    assert "switch it off instead" in r.content.decode()


def _preview(client, member_code="", **over):
    data = template_data(**over) | {"preview_member": member_code}
    return client.post(reverse("messages:template_preview"), data, **EN).content.decode()


def test_the_preview_fills_in_the_chosen_members_values(operator_client, member):
    from members.services.points import points_adjust

    points_adjust(member=member, points=1234, reason="测试", actor=None)
    html = _preview(
        operator_client, member.code.lower(), body="{name}，你有 {points} 积分，{store}"
    )
    assert f"林晓雨，你有 1234 积分，{member.store.name}" in html
    assert f'data-preview-for="{member.code}"' in html
    assert "<html" not in html  # the fragment only
    assert "data-problems-none" in html


def test_the_preview_without_a_member_uses_sample_values(operator_client):
    html = _preview(operator_client, body="Hi {name}", language="en")
    assert "Hi Xiaoyu Lin" in html and "Sample values" in html
    # A Chinese template's sample member is Chinese, whatever the operator's language.
    assert "你好 林晓雨" in _preview(operator_client, body="你好 {name}", language="zh-hans")
    html = _preview(operator_client, "MNOPE00", body="Hi {name}")
    assert "No member has the code MNOPE00" in html


def test_the_preview_counts_sms_characters_and_parts(operator_client, member):
    html = _preview(operator_client, member.code, body="长" * 71)
    assert 'data-sms-parts="2"' in html and "71 characters · 2 parts" in html
    html = _preview(operator_client, member.code, body="a" * 160)
    assert 'data-sms-parts="1"' in html


@pytest.mark.parametrize(
    ("over", "words"),
    [
        ({"body": "你好 {nme}"}, "Unknown variable {nme}"),
        ({"kind": "value", "body": "护肤小知识：早晚各一次"}, "拒收请回复R"),
        ({"body": "长" * 400}, "This SMS takes 6 billing parts"),
    ],
)
def test_the_preview_shows_what_must_be_fixed(operator_client, member, over, words):
    html = _preview(operator_client, member.code, **over)
    assert "data-problems>" in html and words in html


def test_the_preview_is_post_only(operator_client):
    assert operator_client.get(reverse("messages:template_preview")).status_code == 405


def test_the_editor_page_shows_the_variables_and_a_preview(operator_client, member):
    t = MessageTemplate.objects.create(
        code="x", name="X", channel="portal", kind="service", body="{name} 你好", subject="{tier}"
    )
    html = operator_client.get(
        reverse("messages:template_edit", args=[t.pk]), {"member": member.code}, **EN
    ).content.decode()
    assert 'data-insert-var="portal_link"' in html and "A link to the member portal" in html
    assert "林晓雨 你好" in html and 'id="preview"' in html
    assert "js/messages.js" in html


# --- Guard rails and channels ------------------------------------------------------------------


def settings_data(**over):
    data = {
        "action": "save",
        "quiet_start": "22:00",
        "quiet_end": "08:30",
        "time_zone": "Asia/Urumqi",
        "cap_count": "3",
        "cap_days": "7",
        "value_per_promotion": "3",
        "ratio_window_days": "30",
        "expiry_days": "5",
        "max_attempts": "4",
        "retry_base_seconds": "30",
        "sms_opt_out_text": "回T退订",
    }
    data.update(over)
    return data


def test_the_guard_rails_are_saved_and_audited(operator_client):
    r = operator_client.post(reverse("messages:settings"), settings_data())
    assert r.status_code == 302
    s = MessageSettings.current()
    assert (s.quiet_start, s.quiet_end, s.time_zone) == (time(22), time(8, 30), "Asia/Urumqi")
    assert (s.cap_count, s.expiry_days, s.max_attempts, s.sms_opt_out_text) == (3, 5, 4, "回T退订")
    entry = AuditEntry.objects.get(action="message_settings.updated")
    assert entry.before["quiet_start"] == "21:00" and entry.after["quiet_start"] == "22:00"


@pytest.mark.parametrize(
    ("over", "words"),
    [
        ({"time_zone": "Mars/Olympus"}, "Enter a time zone such as Asia/Shanghai"),
        ({"time_zone": "../etc/passwd"}, "Enter a time zone such as Asia/Shanghai"),
        ({"cap_days": "0"}, "greater than or equal to 1"),
        ({"max_attempts": "99"}, "less than or equal to 20"),
        ({"quiet_start": "25:00"}, "Enter a valid time"),
    ],
)
def test_wrong_guard_rails_are_refused_next_to_their_field(operator_client, over, words):
    r = operator_client.post(reverse("messages:settings"), settings_data(**over), **EN)
    assert r.status_code == 200 and words in r.content.decode()
    assert MessageSettings.current().time_zone == "Asia/Shanghai"


def test_a_new_opt_out_text_is_what_marketing_sms_templates_must_end_with(operator_client):
    operator_client.post(reverse("messages:settings"), settings_data())
    r = operator_client.post(
        reverse("messages:template_new"),
        template_data(kind="value", body="小知识 拒收请回复R"),
        **EN,
    )
    assert "回T退订" in r.content.decode()
    assert not MessageTemplate.objects.filter(code="points_tip").exists()


def test_a_paused_channel_shows_why_and_resumes_once(operator_client, member):
    ChannelState.objects.create(
        channel="sms", paused=True, reason="gateway refused the key (401)", paused_at=timezone.now()
    )
    message(member, status="queued", reason="channel_paused", sent_at=None)
    html = operator_client.get(reverse("messages:settings"), **EN).content.decode()
    assert "gateway refused the key (401)" in html and "Resume SMS" in html
    assert "data-confirm=" in html
    r = operator_client.post(
        reverse("messages:settings"), {"action": "resume", "channel": "sms"}, follow=True, **EN
    )
    assert "SMS resumed" in r.content.decode()
    state = ChannelState.objects.get(channel="sms")
    assert not state.paused and state.resumed_at is not None
    assert AuditEntry.objects.filter(action="channel.resumed").count() == 1
    r = operator_client.post(
        reverse("messages:settings"), {"action": "resume", "channel": "sms"}, follow=True, **EN
    )
    assert "SMS was not paused" in r.content.decode()
    assert AuditEntry.objects.filter(action="channel.resumed").count() == 1


def test_resuming_an_unknown_channel_changes_nothing(operator_client):
    r = operator_client.post(
        reverse("messages:settings"), {"action": "resume", "channel": "fax"}, follow=True, **EN
    )
    assert r.status_code == 200 and "Unknown channel" in r.content.decode()


def test_the_settings_page_has_a_card_and_the_menu_an_entry(operator_client, clerk_client):
    html = operator_client.get(reverse("console:settings"), **EN).content.decode()
    assert f'href="{reverse("messages:settings")}"' in html and "Message guard rails" in html
    assert f'href="{reverse("messages:log")}"' in html
    clerk_html = clerk_client.get(reverse("messages:tasks"), **EN).content.decode()
    assert f'href="{reverse("messages:tasks")}"' in clerk_html
    assert f'href="{reverse("messages:log")}"' not in clerk_html


# --- Staff to-dos ------------------------------------------------------------------------------


def _task(owner, member, text="王女士您好，新品到店啦"):
    m = message(member, channel="wecom", reason="handed_to_staff", text=text)
    return StaffTask.objects.create(owner=owner, member=member, message=m, text=text)


def test_a_clerk_sees_only_their_own_tasks(clerk_client, clerk_sh, clerk_bj, member):
    mine = _task(clerk_sh, member)
    _task(clerk_bj, member, text="别人的任务")
    html = clerk_client.get(reverse("messages:tasks"), **EN).content.decode()
    assert f'data-task="{mine.pk}"' in html and "王女士您好，新品到店啦" in html
    assert "别人的任务" not in html
    assert f'data-copy="task-text-{mine.pk}"' in html


def test_marking_a_task_done_is_audited_and_once(clerk_client, clerk_sh, member):
    task = _task(clerk_sh, member)
    r = clerk_client.post(reverse("messages:tasks"), {"task": task.pk})
    assert r.status_code == 302
    task.refresh_from_db()
    assert task.done_at is not None and task.done_by == clerk_sh
    first = task.done_at
    clerk_client.post(reverse("messages:tasks"), {"task": task.pk})
    task.refresh_from_db()
    assert task.done_at == first
    assert AuditEntry.objects.filter(action="staff_task.done").count() == 1
    html = clerk_client.get(reverse("messages:tasks"), **EN).content.decode()
    assert "Nothing to send" in html and "Done lately" in html


def test_another_staff_members_task_is_not_found(clerk_client, clerk_bj, member):
    task = _task(clerk_bj, member)
    assert clerk_client.post(reverse("messages:tasks"), {"task": task.pk}).status_code == 404
    task.refresh_from_db()
    assert task.done_at is None
    assert clerk_client.post(reverse("messages:tasks"), {"task": "x"}).status_code == 400


def test_clerks_may_not_open_the_log_templates_or_settings(clerk_client, member_client):
    for name in ("messages:log", "messages:templates", "messages:settings"):
        assert clerk_client.get(reverse(name)).status_code == 403
        assert member_client.get(reverse(name)).status_code == 403
    assert member_client.get(reverse("messages:tasks")).status_code == 403
