"""The WeCom channel: a to-do of the owner without a WeCom app; with one, add_msg_template against
the fake WeCom API (token cached, refreshed once, errcodes classified)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine

from campaigns.channels import wecom
from campaigns.models import ChannelState, Message, MessageAttempt, StaffTask, Unreachable
from campaigns.services.outbox import message_queue, outbox_relay_batch
from members.models import AttributeDefinition, AttributeValue, Member
from tests.factories import MemberFactory
from tests.fakes import fixtures

pytestmark = pytest.mark.django_db
wecom_server = fixtures.wecom_server


def _queue(member, *, source_id="w-1", text="林小姐您好，新品到店了，欢迎来试。"):
    return message_queue(
        member=member,
        channel="wecom",
        kind="service",
        text=text,
        source_type="system",
        source_id=source_id,
    )


def _relay_after(message):
    message.refresh_from_db()
    with time_machine.travel(message.scheduled_for + timedelta(seconds=1)):
        outbox_relay_batch()
    message.refresh_from_db()


@pytest.fixture
def owned(member, clerk_sh):
    Member.objects.filter(pk=member.pk).update(owner=clerk_sh)
    member.refresh_from_db()
    return member


def _wecom_ids(member, external="wmEXT0001", sender="wangfang"):
    for key, value in ((wecom.EXTERNAL_ID_KEY, external), (wecom.SENDER_KEY, sender)):
        attribute, _ = AttributeDefinition.objects.get_or_create(
            key=key, defaults={"label": key, "kind": "text"}
        )
        AttributeValue.objects.create(member=member, attribute=attribute, text=value)
    return member


@pytest.fixture
def contact(owned):
    return _wecom_ids(owned)


# --- Without a WeCom app: a to-do with the text to copy -----------------------------------------


def test_without_a_wecom_app_the_message_is_a_to_do_of_the_owner(owned, clerk_sh):
    m = _queue(owned)
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (Message.Status.SENT, "handed_to_staff")
    task = StaffTask.objects.get(message=m)
    assert (task.owner, task.member_id, task.text) == (clerk_sh, owned.pk, m.text)
    assert m.provider_id == f"task-{task.pk}"
    # Sending the same message again (a relay killed after the call) opens no second to-do.
    outcome = wecom.WecomAdapter().send(m, owned)
    assert outcome.result == "person" and StaffTask.objects.filter(message=m).count() == 1


def test_a_member_with_a_wecom_id_but_no_app_is_still_a_to_do(contact):
    m = _queue(contact)
    outbox_relay_batch()
    assert StaffTask.objects.filter(message=m, owner=contact.owner).exists()


def test_a_member_nobody_looks_after_and_without_wecom_is_skipped(member):
    m = _queue(member)
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (Message.Status.SKIPPED, "no_address")
    assert not StaffTask.objects.exists()


def test_a_member_without_wecom_id_falls_back_to_a_to_do_when_the_app_is_configured(
    wecom_server, owned
):
    m = _queue(owned)
    outbox_relay_batch()
    assert StaffTask.objects.filter(message=m).exists()
    assert wecom_server.gettoken_calls == 0 and wecom_server.templates == []


# --- With the WeCom app ---------------------------------------------------------------------------


def test_the_staff_member_gets_a_mass_message_task_in_wecom(wecom_server, contact):
    m = _queue(contact)
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (Message.Status.SENT, "handed_to_staff")
    [task] = wecom_server.templates
    assert task["chat_type"] == "single"
    assert task["external_userid"] == ["wmEXT0001"] and task["sender"] == "wangfang"
    assert task["text"] == {"content": m.text}
    assert m.provider_id == task["msgid"]
    assert MessageAttempt.objects.get(message=m).outcome == "person"
    assert not StaffTask.objects.exists()

    # The token is cached: a second message fetches none.
    other = _wecom_ids(MemberFactory(owner=contact.owner), external="wmEXT0002")
    _queue(other, source_id="w-2")
    outbox_relay_batch()
    assert wecom_server.gettoken_calls == 1 and len(wecom_server.templates) == 2


def test_a_resend_of_a_message_creates_no_second_task(wecom_server, contact):
    m = _queue(contact)
    outbox_relay_batch()
    m.refresh_from_db()
    again = wecom.WecomAdapter().send(m, contact)
    assert (again.result, again.provider_id) == ("person", m.provider_id)
    assert len(wecom_server.templates) == 1


@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_a_token_wecom_refuses_is_refreshed_once_and_the_call_made_again(
    wecom_server, contact, how
):
    wecom.access_token()  # cached
    if how == "revoked":
        wecom_server.revoke()  # 40014
    else:
        wecom_server.clock.advance(7201)  # 42001 (our cache still holds it)
    m = _queue(contact)
    outbox_relay_batch()
    m.refresh_from_db()
    assert m.status == Message.Status.SENT and len(wecom_server.templates) == 1
    assert wecom_server.gettoken_calls == 2 and wecom_server.api_calls == 2


def test_a_token_refused_again_after_the_refresh_is_retried_later(wecom_server, contact):
    wecom.access_token()
    wecom_server.revoke()
    wecom_server.fail_next(2, 40014)  # the fresh token is refused too
    m = _queue(contact)
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (Message.Status.QUEUED, "retry")
    assert wecom_server.gettoken_calls == 2  # refreshed once, not in a loop


@pytest.mark.parametrize("errcode", [-1, 6000, 45033, 45009])
def test_a_busy_wecom_is_retried_then_the_task_is_created(wecom_server, contact, errcode):
    wecom_server.fail_next(1, errcode)
    m = _queue(contact)
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (Message.Status.QUEUED, "retry")
    assert str(errcode) in m.last_error and wecom_server.templates == []
    _relay_after(m)
    assert (m.status, m.reason) == (Message.Status.SENT, "handed_to_staff")
    assert len(wecom_server.templates) == 1


def test_a_frequency_block_waits_at_least_its_minute(wecom_server, contact):
    wecom_server.fail_next(1, 45009)
    m = _queue(contact)
    before = m.scheduled_for
    outbox_relay_batch()
    m.refresh_from_db()
    assert m.scheduled_for >= before + timedelta(seconds=60)


def test_a_contact_in_the_fail_list_is_unreachable(wecom_server, contact):
    wecom_server.not_contacts.add("wmEXT0001")
    m = _queue(contact)
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (Message.Status.FAILED, "unreachable")
    assert Unreachable.objects.filter(member=contact, channel="wecom").exists()


@pytest.mark.parametrize("errcode", [40003, 40096])
def test_an_invalid_user_or_contact_is_unreachable(wecom_server, contact, errcode):
    wecom_server.fail_next(1, errcode)
    m = _queue(contact)
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (Message.Status.FAILED, "unreachable")
    assert str(errcode) in Unreachable.objects.get(member=contact, channel="wecom").reason


def test_an_unknown_sender_is_unreachable(wecom_server, contact):
    wecom_server.senders.add("somebody-else")
    m = _queue(contact)
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (Message.Status.FAILED, "unreachable")


def test_a_wrong_secret_pauses_the_channel(wecom_server, contact, settings):
    settings.SCRM_WECOM_SECRET = "not-the-secret"
    m = _queue(contact)
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (Message.Status.QUEUED, "channel_paused")
    state = ChannelState.objects.get(channel="wecom")
    assert state.paused and "40001" in state.reason
    assert wecom_server.templates == []


@pytest.mark.parametrize("errcode", [48002, 41001])
def test_an_api_the_app_may_not_call_pauses_the_channel(wecom_server, contact, errcode):
    wecom_server.fail_next(1, errcode)
    m = _queue(contact)
    outbox_relay_batch()
    m.refresh_from_db()
    assert m.reason == "channel_paused"
    assert ChannelState.objects.get(channel="wecom").paused


def test_a_timeout_is_retried(wecom_server, contact, settings):
    wecom.access_token()
    settings.SCRM_WECOM_TIMEOUT = 0.3
    wecom_server.delay_next(1.5)
    m = _queue(contact)
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (Message.Status.QUEUED, "retry")
    assert "unreachable" in m.last_error
    _relay_after(m)
    assert m.status == Message.Status.SENT


def test_many_workers_needing_a_token_at_once_fetch_it_once(wecom_server):
    """Single flight: one worker refreshes, the others wait for its token (no 45033 storm)."""
    wecom_server.delay_next(0.5)  # a slow gettoken: the others arrive while it runs
    start = threading.Barrier(8)
    tokens: list[str] = []
    errors: list[BaseException] = []

    def worker():
        start.wait()
        try:
            tokens.append(wecom.access_token())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(tokens) == 8 and len(set(tokens)) == 1
    assert wecom_server.gettoken_calls == 1


def test_the_token_is_cached_per_corp_and_secret(wecom_server, settings):
    first = wecom.access_token()
    wecom_server.secret = settings.SCRM_WECOM_SECRET = "rotated-secret"
    second = wecom.access_token()
    assert first != second and wecom_server.gettoken_calls == 2
