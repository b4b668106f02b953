"""The email channel through the relay, against a local SMTP server (aiosmtpd)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from campaigns.models import ChannelState, Message, Unreachable
from campaigns.services.outbox import message_queue, outbox_relay_batch
from members.models import ConsentRecord, Member
from tests.fakes import fixtures
from tests.fakes.smtp import SmtpFake

pytestmark = pytest.mark.django_db
smtp_server = fixtures.smtp_server

# 10:00 in Shanghai: outside the quiet hours, so marketing goes at once.
MORNING = "2026-03-02 10:00:00+08:00"


@pytest.fixture
def reader(member, settings):
    settings.SCRM_PUBLIC_URL = "https://scrm.example.com"
    settings.SCRM_MARKETING_FROM_EMAIL = "Brand News <news@scrm.example>"
    settings.DEFAULT_FROM_EMAIL = "Brand <service@scrm.example>"
    Member.objects.filter(pk=member.pk).update(email="lin@example.com", consent_email=True)
    member.refresh_from_db()
    return member


def _queue(member, *, kind="value", source_id="e-1"):
    return message_queue(
        member=member,
        channel="email",
        kind=kind,
        subject="春季护肤小贴士",
        text="换季时记得加强保湿。",
        source_type="campaign",
        source_id=source_id,
    )


def _relay_after(message):
    message.refresh_from_db()
    with time_machine.travel(message.scheduled_for + timedelta(seconds=1)):
        outbox_relay_batch()
    message.refresh_from_db()


def _header_line(raw: bytes, name: bytes) -> bytes:
    [line] = [x for x in raw.split(b"\r\n") if x.lower().startswith(name.lower() + b":")]
    return line


@time_machine.travel(MORNING)
def test_marketing_mail_carries_one_click_unsubscribe_that_works_without_signing_in(
    smtp_server, reader
):
    m = _queue(reader)
    outbox_relay_batch()
    m.refresh_from_db()
    assert m.status == Message.Status.SENT
    [env] = smtp_server.envelopes
    assert env.rcpt_tos == ["lin@example.com"] and env.mail_from == "news@scrm.example"
    mail = env.message
    assert mail["Message-ID"] == f"<scrm-message-{m.pk}@scrm.example.com>" == m.provider_id
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # One line on the wire, one https link in angle brackets.
    line = _header_line(env.raw, b"List-Unsubscribe")
    assert line.startswith(b"List-Unsubscribe: <https://scrm.example.com/public/unsubscribe/")
    assert line.endswith(b"/>")
    link = line.split(b"<", 1)[1].rstrip(b">").decode()
    body = mail.get_body(("plain",)).get_content()
    assert "换季时记得加强保湿。" in body and link in body  # the visible link too

    # The mailbox provider's one-click POST: no cookie, no session, no CSRF token.
    path = link.removeprefix("https://scrm.example.com")
    response = Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    reader.refresh_from_db()
    assert reader.consent_email is False and reader.marketing_opt_out is False
    record = ConsentRecord.objects.get(member=reader, channel="email")
    assert (record.granted, record.source) == (False, "one_click")


def test_service_mail_has_no_unsubscribe_and_comes_from_the_service_address(smtp_server, reader):
    m = _queue(reader, kind="service")
    outbox_relay_batch()
    [env] = smtp_server.envelopes
    assert env.mail_from == "service@scrm.example"
    assert env.message["List-Unsubscribe"] is None
    assert env.message["List-Unsubscribe-Post"] is None
    assert "unsubscribe" not in env.message.get_body(("plain",)).get_content()
    m.refresh_from_db()
    assert m.status == Message.Status.SENT


@time_machine.travel(MORNING)
def test_a_451_after_data_is_retried_then_sent(smtp_server, reader):
    smtp_server.fail_next(1, code=451)
    m = _queue(reader)
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (Message.Status.QUEUED, "retry")
    assert "451" in m.last_error and smtp_server.envelopes == []
    _relay_after(m)
    assert m.status == Message.Status.SENT
    [env] = smtp_server.envelopes
    assert env.message["Message-ID"] == f"<scrm-message-{m.pk}@scrm.example.com>"


@pytest.mark.parametrize(
    ("code", "status", "reason"), [(550, "failed", "unreachable"), (450, "queued", "retry")]
)
def test_a_refused_recipient_fails_for_good_only_on_a_5xx(
    smtp_server, reader, code, status, reason
):
    smtp_server.refuse("lin@example.com", code=code)
    m = _queue(reader, kind="service")
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (status, reason)
    assert Unreachable.objects.filter(member=reader, channel="email").exists() is (code >= 500)


def test_a_refused_login_pauses_the_email_channel(settings, reader):
    fake = SmtpFake(username="scrm", password="right").start()
    try:
        settings.MAILERS = fixtures.smtp_mailers(fake, username="scrm", password="wrong")
        m = _queue(reader, kind="service")
        outbox_relay_batch()
        m.refresh_from_db()
        assert (m.status, m.reason) == (Message.Status.QUEUED, "channel_paused")
        state = ChannelState.objects.get(channel="email")
        assert state.paused and "SMTPAuthenticationError" in state.reason
        assert fake.envelopes == []

        # With the right password (and the channel resumed) it goes.
        settings.MAILERS = fixtures.smtp_mailers(fake, username="scrm", password="right")
        ChannelState.objects.filter(channel="email").update(paused=False)
        outbox_relay_batch()
        m.refresh_from_db()
        assert m.status == Message.Status.SENT and len(fake.envelopes) == 1
    finally:
        fake.stop()


def test_a_server_that_answers_too_late_is_retried(smtp_server, reader, settings):
    settings.MAILERS = fixtures.smtp_mailers(smtp_server, timeout=0.3)
    smtp_server.delay_next(1.5)
    m = _queue(reader, kind="service")
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (Message.Status.QUEUED, "retry")
    _relay_after(m)
    assert m.status == Message.Status.SENT
    # However often it went out, it is the same mail to the mailbox.
    ids = {env.message["Message-ID"] for env in smtp_server.envelopes}
    assert ids == {f"<scrm-message-{m.pk}@scrm.example.com>"}


def test_no_server_listening_is_retried(settings, reader):
    fake = SmtpFake()  # never started: its port refuses connections
    settings.MAILERS = fixtures.smtp_mailers(fake)
    m = _queue(reader, kind="service")
    outbox_relay_batch()
    m.refresh_from_db()
    assert (m.status, m.reason) == (Message.Status.QUEUED, "retry")
    assert not ChannelState.objects.filter(channel="email", paused=True).exists()
