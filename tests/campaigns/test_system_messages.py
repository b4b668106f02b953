"""System messages come from the durable event log (consumer ``campaigns.messages``): an event
rolled back with its change says nothing; one whose process died right after the commit still
reaches the member; a batch delivered twice queues each message once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import translation

from campaigns.models import Message, MessageTemplate
from campaigns.services.outbox import messages_on_events, outbox_relay_batch
from members import events
from members.models import Event, GiftGrant, Tier
from tests.factories import MemberFactory

ROOT = Path(__file__).resolve().parent.parent.parent
CONSUMER = "campaigns.messages"


def _start_consumer() -> None:
    # A consumer starts at the end of the log the first time it is asked (start="now").
    events.events_deliver(CONSUMER)


@pytest.mark.django_db(transaction=True)
def test_a_gift_event_rolled_back_says_nothing_and_a_committed_one_reaches_the_inbox():
    member = MemberFactory(name="林晓雨")
    gift = GiftGrant.objects.create(member=member, name_zh="旅行装面膜", name_en="Travel mask")
    _start_consumer()
    with pytest.raises(RuntimeError), transaction.atomic():
        events.event_record(events.GIFT_GRANTED, member_id=member.pk, gift_id=gift.pk)
        raise RuntimeError("the change failed")
    events.events_drain(CONSUMER)
    assert not Message.objects.exists()

    with transaction.atomic():
        events.event_record(events.GIFT_GRANTED, member_id=member.pk, gift_id=gift.pk)
    events.events_drain(CONSUMER)
    message = Message.objects.get()
    assert (message.channel, message.kind, message.source_type) == ("portal", "service", "system")
    assert message.text == "林晓雨，您的礼品“旅行装面膜”已备好，下次到店出示会员码即可领取。"
    outbox_relay_batch()
    message.refresh_from_db()
    assert message.status == "delivered"  # a service message needs no marketing consent


WRITER = """
import os, signal, django
django.setup()
from django.db import transaction
from members import events
with transaction.atomic():
    events.event_record(events.GIFT_GRANTED, member_id=int(os.environ["MEMBER"]), gift_id=int(os.environ["GIFT"]))
os.kill(os.getpid(), signal.SIGKILL)  # dead right after the commit: no callback ever runs
"""


@pytest.mark.django_db(transaction=True)
def test_an_event_whose_process_died_right_after_commit_is_still_messaged():
    member = MemberFactory()
    gift = GiftGrant.objects.create(member=member, name_zh="礼盒", name_en="Gift box")
    _start_consumer()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "scrm.settings.test",
        "MEMBER": str(member.pk),
        "GIFT": str(gift.pk),
    }
    done = subprocess.run(
        [sys.executable, "-c", WRITER], cwd=ROOT, env=env, timeout=60, check=False
    )
    assert done.returncode == -signal.SIGKILL
    assert Event.objects.filter(type=events.GIFT_GRANTED, member=member).count() == 1
    events.events_drain(CONSUMER)
    assert Message.objects.filter(member=member, source_type="system").count() == 1


@pytest.mark.django_db
def test_a_batch_delivered_twice_queues_once_and_downgrades_are_not_announced():
    vip, member_tier = Tier.objects.get(code="vip"), Tier.objects.get(code="member")
    member = MemberFactory(tier=vip)
    events.event_record(
        events.TIER_CHANGED, member_id=member.pk, from_code="member", to_code="vip", cause="order"
    )
    events.event_record(
        events.TIER_CHANGED, member_id=member.pk, from_code="vip", to_code="member", cause="expiry"
    )
    batch = list(Event.objects.filter(member=member).order_by("id"))
    messages_on_events(batch)
    messages_on_events(batch)
    rows = list(Message.objects.filter(member=member))
    assert len(rows) == 1  # the upgrade, once; not the downgrade
    assert rows[0].source_id == f"tier_changed:{batch[0].pk}"
    with translation.override("zh-hans"):
        assert f"升级为{vip.name}" in rows[0].text
    assert f"升级为{member_tier.name_zh}" not in rows[0].text


@pytest.mark.django_db
def test_a_switched_off_template_sends_nothing():
    MessageTemplate.objects.filter(code="gift_granted").update(is_active=False)
    member = MemberFactory()
    gift = GiftGrant.objects.create(member=member, name_zh="礼盒", name_en="Gift box")
    events.event_record(events.GIFT_GRANTED, member_id=member.pk, gift_id=gift.pk)
    messages_on_events(list(Event.objects.filter(member=member)))
    assert not Message.objects.exists()
