"""The SMS channel through the relay, against the fake gateway on a real socket."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts import sms
from campaigns.models import ChannelState, Message, MessageAttempt, Unreachable
from campaigns.services.outbox import message_queue, outbox_relay_batch
from tests.fakes import fixtures

pytestmark = pytest.mark.django_db
sms_gateway = fixtures.sms_gateway


def _queue(member, *, source_id="t-1", text="您的订单已发货", kind="service"):
    return message_queue(
        member=member,
        channel="sms",
        kind=kind,
        text=text,
        source_type="system",
        source_id=source_id,
    )


def _relay_after(message):
    """Relay again once the message's retry is due."""
    message.refresh_from_db()
    with time_machine.travel(message.scheduled_for + timedelta(seconds=1)):
        outbox_relay_batch()
    message.refresh_from_db()


def test_a_message_reaches_the_gateway_once_with_its_idempotency_key(sms_gateway, member):
    m = _queue(member)
    assert outbox_relay_batch() == 1
    m.refresh_from_db()
    assert m.status == Message.Status.SENT
    [sent] = sms_gateway.messages.values()
    assert m.provider_id == sent["id"]
    assert sent["to"] == "+8613800138000" and sent["text"] == "您的订单已发货"
    assert sent["idempotency_key"] == f"msg-{m.pk}"
    assert sms_gateway.requests[0]["auth"] == "Bearer gw-token"
    assert list(MessageAttempt.objects.filter(message=m).values_list("outcome", flat=True)) == [
        "sent"
    ]


@pytest.mark.parametrize("status", [503, 429, 500])
def test_a_busy_gateway_is_retried_after_its_retry_after_then_sent(sms_gateway, member, status):
    sms_gateway.fail_next(1, status=status, code="busy", retry_after=120)
    m = _queue(member)
    before = timezone.now()
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (Message.Status.QUEUED, "retry")
    assert str(status) in m.last_error
    # Retry-After honoured: not before 120 s, and not the relay's longer backoff either.
    assert (
        before + timedelta(seconds=119)
        <= m.scheduled_for
        <= timezone.now() + timedelta(seconds=121)
    )
    assert sms_gateway.unique == 0
    outbox_relay_batch()  # not due yet: nothing happens
    assert sms_gateway.calls == 1
    _relay_after(m)
    assert m.status == Message.Status.SENT and m.attempts == 2
    assert sms_gateway.unique == 1


@pytest.mark.parametrize("code", ["invalid_number", "blacklisted"])
def test_a_number_the_gateway_refuses_for_good_fails_and_is_marked_unreachable(
    sms_gateway, member, code
):
    getattr(sms_gateway, "invalid_numbers" if code == "invalid_number" else "blacklisted").add(
        member.phone
    )
    m = _queue(member)
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (Message.Status.FAILED, "unreachable")
    assert code in Unreachable.objects.get(member=member, channel="sms").reason
    # The next message to that number is not even tried.
    later = _queue(member, source_id="t-2")
    outbox_relay_batch()
    later.refresh_from_db()
    assert (later.status, later.reason) == (Message.Status.SKIPPED, "unreachable")
    assert sms_gateway.calls == 1


def test_a_timeout_is_retried_and_the_gateway_dedupes_the_resend(sms_gateway, member, settings):
    settings.SCRM_SMS_GATEWAY_TIMEOUT = 0.3
    sms_gateway.delay_next(1.5)  # the gateway sends it but answers too late
    m = _queue(member)
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (Message.Status.QUEUED, "retry")
    assert "unreachable" in m.last_error or "timed out" in m.last_error
    _relay_after(m)
    assert m.status == Message.Status.SENT
    assert sms_gateway.calls == 2 and sms_gateway.unique == 1  # one SMS on the phone
    assert m.provider_id == next(iter(sms_gateway.messages.values()))["id"]


def test_a_gateway_that_is_down_is_retried(settings, member):
    settings.SCRM_SMS_BACKEND = "accounts.sms.HttpGatewayBackend"
    settings.SCRM_SMS_GATEWAY_URL = "http://127.0.0.1:9/send"  # nothing listens there
    m = _queue(member)
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (Message.Status.QUEUED, "retry")
    assert not ChannelState.objects.filter(channel="sms", paused=True).exists()


def test_refused_credentials_pause_the_channel_and_keep_the_messages(sms_gateway, member, settings):
    from tests.factories import MemberFactory

    settings.SCRM_SMS_GATEWAY_TOKEN = "wrong"
    first = _queue(member)
    second = _queue(MemberFactory(), source_id="t-2")
    outbox_relay_batch()
    state = ChannelState.objects.get(channel="sms")
    assert state.paused and "401" in state.reason
    for m in (first, second):
        m.refresh_from_db()
        assert (m.status, m.reason) == (Message.Status.QUEUED, "channel_paused")
        assert m.attempts == 0
    assert sms_gateway.calls == 1  # the second was not tried once the channel paused
    outbox_relay_batch()
    assert sms_gateway.calls == 1  # a paused channel's messages wait


def test_the_demo_backends_send_too(settings, member):
    settings.SCRM_SMS_BACKEND = "accounts.sms.MemoryBackend"
    m = _queue(member)
    outbox_relay_batch()
    m.refresh_from_db()
    assert m.status == Message.Status.SENT and m.provider_id.startswith("memory-")
    [out] = sms.outbox
    assert (out.to, out.text, out.idempotency_key) == (member.phone, m.text, f"msg-{m.pk}")

    settings.SCRM_SMS_BACKEND = "accounts.sms.ConsoleBackend"
    c = _queue(member, source_id="t-2")
    outbox_relay_batch()
    c.refresh_from_db()
    assert c.status == Message.Status.SENT and c.provider_id.startswith("console-")


def test_a_retry_after_given_as_an_http_date_is_read_as_seconds():
    with time_machine.travel("2026-03-01 08:00:00+00:00", tick=False):
        assert sms._retry_after("Sun, 01 Mar 2026 08:05:00 GMT") == 300
        assert sms._retry_after("30") == 30
        assert sms._retry_after("soon") is None
