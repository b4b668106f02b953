"""The guard rails at send time, through the relay on PostgreSQL: each skip and deferral with its
reason, and the message sent once the reason clears."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from accounts import sms
from campaigns import guard
from campaigns.models import Message, MessageSettings
from campaigns.services.outbox import message_queue, outbox_relay_batch
from tests.factories import MemberFactory

SH = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 12, 2, 12, 0, tzinfo=SH)

pytestmark = pytest.mark.django_db


def _member(**kw):
    defaults = {"consent_portal": True, "consent_sms": True}
    defaults.update(kw)
    return MemberFactory(**defaults)


def _queue(member, kind="value", *, source="c1", channel="portal", at=None):
    return message_queue(
        member=member,
        channel=channel,
        kind=kind,
        text=f"{kind} for {member.name}",
        source_type="campaign",
        source_id=source,
        scheduled_for=at,
    )


def _sent(member, kind, at, source):
    """A marketing message the member received at ``at``."""
    m = _queue(member, kind, source=source, at=at)
    Message.objects.filter(pk=m.pk).update(status="delivered", sent_at=at, delivered_at=at)


def _relay_at(at):
    with time_machine.travel(at, tick=False):
        return outbox_relay_batch()


def _reload(m):
    m.refresh_from_db()
    return m


def test_no_consent_for_the_channel_is_skipped_no_consent():
    member = _member(consent_portal=False)
    with time_machine.travel(NOON, tick=False):
        m = _queue(member)
    _relay_at(NOON)
    assert (_reload(m).status, m.reason) == ("skipped", "no_consent")


def test_consent_given_is_delivered():
    member = _member()
    with time_machine.travel(NOON, tick=False):
        m = _queue(member)
    _relay_at(NOON)
    assert (_reload(m).status, m.reason) == ("delivered", "")
    assert m.sent_at == NOON


def test_opted_out_member_is_skipped_opted_out():
    member = _member(marketing_opt_out=True)
    with time_machine.travel(NOON, tick=False):
        m = _queue(member)
    _relay_at(NOON)
    assert (_reload(m).status, m.reason) == ("skipped", "opted_out")


def test_at_2230_shanghai_a_marketing_message_waits_until_0900():
    member = _member()
    late = datetime(2026, 12, 2, 22, 30, tzinfo=SH)
    with time_machine.travel(late, tick=False):
        m = _queue(member)
    _relay_at(late)
    assert (_reload(m).status, m.reason) == ("deferred", "quiet_hours")
    assert m.scheduled_for == datetime(2026, 12, 3, 9, 0, tzinfo=SH)
    assert _relay_at(datetime(2026, 12, 3, 8, 59, tzinfo=SH)) == 0  # not due yet
    _relay_at(datetime(2026, 12, 3, 9, 0, tzinfo=SH))
    assert _reload(m).status == "delivered"


def test_the_quiet_hours_follow_the_settings():
    s = MessageSettings.current()
    s.quiet_start, s.quiet_end = datetime(2000, 1, 1, 20).time(), datetime(2000, 1, 1, 8).time()
    s.save()
    member = _member()
    at = datetime(2026, 12, 2, 20, 30, tzinfo=SH)
    with time_machine.travel(at, tick=False):
        m = _queue(member)
    _relay_at(at)
    assert _reload(m).scheduled_for == datetime(2026, 12, 3, 8, 0, tzinfo=SH)


def test_a_login_code_at_2300_is_sent_at_once(settings):
    settings.SCRM_SMS_BACKEND = "accounts.sms.MemoryBackend"
    member = _member(consent_sms=False)  # no marketing consent needed for a code
    late = datetime(2026, 12, 2, 23, 0, tzinfo=SH)
    with time_machine.travel(late, tick=False):
        m = message_queue(
            member=member,
            channel="sms",
            kind="transactional",
            text="验证码 123456",
            source_type="system",
            source_id="login-code-1",
        )
    _relay_at(late)
    assert (_reload(m).status, m.reason) == ("sent", "")
    assert [s.text for s in sms.outbox] == ["验证码 123456"]


def test_the_third_marketing_message_in_seven_days_waits_for_the_cap_and_then_goes():
    member = _member()
    _sent(member, "value", NOON - timedelta(days=5), "a")
    _sent(member, "value", NOON - timedelta(days=1), "b")
    with time_machine.travel(NOON, tick=False):
        m = _queue(member, "value", source="c")
    _relay_at(NOON)
    assert (_reload(m).status, m.reason) == ("deferred", "frequency_cap")
    clears = NOON - timedelta(days=5) + timedelta(days=7)
    assert m.scheduled_for == clears
    _relay_at(clears)
    assert (_reload(m).status, m.reason) == ("delivered", "")


def test_the_cap_counts_every_channel():
    member = _member()
    _sent(member, "value", NOON - timedelta(days=2), "a")
    m_sms = _queue(member, "value", source="sms1", channel="sms", at=NOON - timedelta(days=1))
    Message.objects.filter(pk=m_sms.pk).update(status="sent", sent_at=NOON - timedelta(days=1))
    with time_machine.travel(NOON, tick=False):
        m = _queue(member, "value", source="c")
    _relay_at(NOON)
    assert _reload(m).reason == "frequency_cap"


def test_service_messages_pass_the_cap_and_the_quiet_hours():
    member = _member(consent_portal=False)
    _sent(member, "value", NOON - timedelta(days=2), "a")
    _sent(member, "value", NOON - timedelta(days=1), "b")
    late = datetime(2026, 12, 2, 23, 30, tzinfo=SH)
    with time_machine.travel(late, tick=False):
        m = _queue(member, "service", source="gift")
    _relay_at(late)
    assert (_reload(m).status, m.reason) == ("delivered", "")


def test_a_promotion_after_only_two_value_messages_waits_ratio_3_1():
    member = _member()
    # Outside the 7-day cap, inside the 30-day window of the 3:1 rule.
    _sent(member, "value", NOON - timedelta(days=20), "a")
    _sent(member, "value", NOON - timedelta(days=10), "b")
    with time_machine.travel(NOON, tick=False):
        m = _queue(member, "promotion", source="p")
    _relay_at(NOON)
    assert (_reload(m).status, m.reason) == ("deferred", "ratio_3_1")
    # A third value message arrives; at the next look the promotion may go.
    _sent(member, "value", NOON + timedelta(hours=1), "c")
    assert m.scheduled_for == NOON + timedelta(hours=12)  # looked at again at midnight...
    _relay_at(m.scheduled_for)
    assert (_reload(m).status, m.reason) == ("deferred", "quiet_hours")  # ...which is quiet
    _relay_at(datetime(2026, 12, 3, 9, 0, tzinfo=SH))
    assert (_reload(m).status, m.reason) == ("delivered", "")


def test_three_value_messages_allow_one_promotion_not_two():
    member = _member()
    for i, days in enumerate((25, 20, 15)):
        _sent(member, "value", NOON - timedelta(days=days), f"v{i}")
    _sent(member, "promotion", NOON - timedelta(days=12), "p0")
    with time_machine.travel(NOON, tick=False):
        m = _queue(member, "promotion", source="p1")
    _relay_at(NOON)
    assert _reload(m).reason == "ratio_3_1"


def test_the_members_own_weekly_frequency_defers():
    member = _member(frequency="weekly")
    _sent(member, "value", NOON - timedelta(days=3), "a")
    with time_machine.travel(NOON, tick=False):
        m = _queue(member, "value", source="b")
    _relay_at(NOON)
    assert (_reload(m).status, m.reason) == ("deferred", "member_frequency")
    assert m.scheduled_for == NOON + timedelta(days=4)


def test_service_only_members_get_no_marketing():
    member = _member(frequency="service")
    with time_machine.travel(NOON, tick=False):
        m = _queue(member, "value")
    _relay_at(NOON)
    assert (_reload(m).status, m.reason) == ("skipped", "member_frequency")


def test_a_deferral_past_the_messages_expiry_drops_it_as_expired():
    member = _member()
    _sent(member, "value", NOON - timedelta(days=1), "a")
    _sent(member, "value", NOON - timedelta(hours=1), "b")
    with time_machine.travel(NOON, tick=False):
        m = message_queue(
            member=member,
            channel="portal",
            kind="value",
            text="t",
            source_type="campaign",
            source_id="short",
            expires_at=NOON + timedelta(days=2),  # the cap clears only in six days
        )
    _relay_at(NOON)
    assert (_reload(m).status, m.reason) == ("skipped", "expired")


def test_queuing_twice_for_the_same_source_member_and_channel_sends_once():
    member = _member()
    with time_machine.travel(NOON, tick=False):
        a = _queue(member, source="same")
        b = _queue(member, source="same")
    assert a.pk == b.pk
    assert Message.objects.filter(member=member).count() == 1


# --- The pure rules ----------------------------------------------------------------------


def _decide(kind="value", at=NOON, sent=(), **recipient):
    r = {"address": "x", "consent": True, "opted_out": False, "unreachable": False}
    r.update(recipient)
    return guard.decide(
        kind=kind,
        recipient=guard.Recipient(**r),
        sent=list(sent),
        rails=guard.Rails(),
        now=at,
        expires_at=None,
    )


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        ((20, 59), False),
        ((21, 0), True),
        ((23, 59), True),
        ((0, 0), True),
        ((8, 59), True),
        ((9, 0), False),
    ],
)
def test_quiet_hours_run_from_2100_to_0900_across_midnight(local, quiet):
    at = datetime(2026, 12, 2, *local, tzinfo=SH)
    decision = _decide(at=at)
    assert (decision.reason == "quiet_hours") is quiet
    if quiet:
        day = 3 if local[0] >= 21 else 2
        assert decision.until == datetime(2026, 12, day, 9, 0, tzinfo=SH)


def test_unreachable_and_no_address_stop_even_a_service_message():
    assert _decide("service", unreachable=True).reason == "unreachable"
    assert _decide("service", address="").reason == "no_address"


# --- Many relays at once ---------------------------------------------------------------------


def _relay_in_threads(n: int, at: datetime) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def work():
        try:
            barrier.wait()
            with time_machine.travel(at, tick=False):
                while outbox_relay_batch(limit=50):
                    pass
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_four_relays_share_the_outbox_and_send_each_message_once():
    members = [_member() for _ in range(40)]
    with time_machine.travel(NOON, tick=False):
        for i, member in enumerate(members):
            for k in range(5):
                message_queue(
                    member=member,
                    channel="portal",
                    kind="service",
                    text=f"{i}-{k}",
                    source_type="system",
                    source_id=f"s{k}",
                )
    _relay_in_threads(4, NOON)
    rows = list(Message.objects.values_list("status", "attempts"))
    assert len(rows) == 200
    assert set(rows) == {("delivered", 1)}


@pytest.mark.django_db(transaction=True)
def test_relays_at_once_never_break_one_members_cap():
    members = [_member() for _ in range(30)]
    with time_machine.travel(NOON, tick=False):
        for member in members:
            for k in range(3):  # three marketing messages each; the cap is two a week
                _queue(member, "value", source=f"v{k}")
    _relay_in_threads(3, NOON)
    for member in members:
        statuses = sorted(Message.objects.filter(member=member).values_list("status", flat=True))
        assert statuses == ["deferred", "delivered", "delivered"], member.code


def test_a_refused_address_stops_the_channel_until_the_member_gives_a_new_one(settings):
    from campaigns.services.outbox import unreachable_record

    settings.SCRM_SMS_BACKEND = "accounts.sms.MemoryBackend"
    member = _member(phone="+8613800000001")
    unreachable_record(member=member, channel="sms", address=member.phone, reason="invalid_number")
    with time_machine.travel(NOON, tick=False):
        first = _queue(member, "service", source="s1", channel="sms")
    _relay_at(NOON)
    assert (_reload(first).status, first.reason) == ("skipped", "unreachable")
    member.phone = "+8613800000002"
    member.save(update_fields=["phone"])
    with time_machine.travel(NOON, tick=False):
        second = _queue(member, "service", source="s2", channel="sms")
    _relay_at(NOON)
    assert (_reload(second).status, second.reason) == ("sent", "")
    assert [s.to for s in sms.outbox] == ["+8613800000002"]
