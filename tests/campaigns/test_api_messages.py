"""GET /api/v1/members/{code}/messages/ as API.md states it: newest first, the source, the status
with its reason, and a deferred message's time in ``scheduled_for``."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from accounts.services import apikey_create
from campaigns.services.outbox import message_queue, outbox_relay_batch
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def _client(store=None) -> Client:
    _key, plain = apikey_create(name=f"k-{store}", store=store, actor=None)
    return Client(HTTP_AUTHORIZATION=f"Bearer {plain}")


def test_a_members_messages_newest_first_with_status_reason_and_source(store_sh):
    member = MemberFactory(store=store_sh, consent_portal=True, code="MSG0001")
    late = datetime(2026, 12, 2, 22, 30, tzinfo=SH)
    with time_machine.travel(datetime(2026, 12, 2, 12, 0, tzinfo=SH), tick=False):
        message_queue(
            member=member,
            channel="portal",
            kind="service",
            text="礼品已备好",
            source_type="system",
            source_id="gift_granted:1",
        )
        outbox_relay_batch()
    with time_machine.travel(late, tick=False):
        message_queue(
            member=member,
            channel="portal",
            kind="value",
            text="护肤小贴士",
            source_type="campaign",
            source_id="7",
        )
        outbox_relay_batch()
    body = _client().get("/api/v1/members/MSG0001/messages/").json()
    assert body["count"] == 2
    newest, oldest = body["results"]
    assert newest["text"] == "护肤小贴士"
    assert newest["source"] == {"type": "campaign", "id": "7"}
    assert (newest["status"], newest["reason"]) == ("deferred", "quiet_hours")
    assert newest["scheduled_for"] == "2026-12-03T09:00:00+08:00"
    assert newest["sent_at"] is None
    assert (oldest["status"], oldest["reason"], oldest["channel"]) == ("delivered", None, "portal")
    assert oldest["kind"] == "service"


def test_a_key_of_another_store_may_not_browse_them_and_unknown_is_404(store_sh, store_bj):
    MemberFactory(store=store_sh, code="MSG0002")
    assert _client(store_bj).get("/api/v1/members/MSG0002/messages/").status_code == 403
    assert _client(store_sh).get("/api/v1/members/MSG0002/messages/").status_code == 200
    missing = _client().get("/api/v1/members/NOPE99/messages/")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"]
