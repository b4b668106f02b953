"""What reaches the product without signing in: unsubscribe links, the SMS gateway's receipts and
members' replies."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from campaigns.models import Message, Unreachable
from campaigns.services.outbox import message_queue, outbox_relay_batch
from campaigns.services.unsubscribe import unsubscribe_token, unsubscribe_url
from members.models import ConsentRecord, Member
from tests.fakes import fixtures

pytestmark = pytest.mark.django_db
sms_gateway = fixtures.sms_gateway

CALLBACK = "cb-secret-token"


@pytest.fixture
def subscribed(member):
    Member.objects.filter(pk=member.pk).update(
        consent_sms=True, consent_email=True, email="lin@example.com"
    )
    member.refresh_from_db()
    return member


def _path(member, channel="email"):
    return reverse("public:unsubscribe", kwargs={"token": unsubscribe_token(member, channel)})


# --- Unsubscribe ---------------------------------------------------------------------------------


def test_the_link_is_absolute_under_the_public_url(subscribed, settings):
    settings.SCRM_PUBLIC_URL = "https://scrm.example.com"
    url = unsubscribe_url(subscribed, "email")
    assert url.startswith("https://scrm.example.com/public/unsubscribe/") and url.endswith("/")


def test_opening_the_link_asks_and_changes_nothing(subscribed):
    response = Client().get(_path(subscribed))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<form method="post"' in html and 'type="submit"' in html
    subscribed.refresh_from_db()
    assert subscribed.consent_email is True
    assert "no-store" in response["Cache-Control"]


def test_the_button_opts_out_of_that_channel_without_signing_in(subscribed):
    response = Client(enforce_csrf_checks=True).post(_path(subscribed), {"confirm": "1"})
    assert response.status_code == 200
    subscribed.refresh_from_db()
    assert subscribed.consent_email is False and subscribed.consent_sms is True
    record = ConsentRecord.objects.get(member=subscribed, channel="email")
    assert (record.granted, record.source, record.actor) == (False, "link", None)
    assert AuditEntry.objects.filter(
        action="member.consent_changed", target_id=str(subscribed.pk)
    ).exists()


def test_one_click_for_all_marketing_opts_the_member_out_once(subscribed):
    client = Client(enforce_csrf_checks=True)
    path = _path(subscribed, "all")
    for _ in range(2):  # mailbox providers may post twice
        response = client.post(
            path,
            "List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200
    subscribed.refresh_from_db()
    assert subscribed.marketing_opt_out is True
    assert ConsentRecord.objects.filter(member=subscribed, channel="marketing").count() == 1


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("token", ["nonsense", "WzEsImVtYWlsIl0:1uAAAA:forged-signature"])
def test_a_bad_token_is_a_clear_400_page(subscribed, method, token):
    response = getattr(Client(), method)(reverse("public:unsubscribe", kwargs={"token": token}))
    assert response.status_code == 400
    assert "not valid" in response.content.decode() or "无效" in response.content.decode()
    subscribed.refresh_from_db()
    assert subscribed.consent_email is True


def test_a_token_for_another_salt_or_a_tampered_scope_is_refused(subscribed):
    from django.core import signing

    forged = signing.dumps([subscribed.pk, "email"], salt="something.else")
    response = Client().post(reverse("public:unsubscribe", kwargs={"token": forged}))
    assert response.status_code == 400
    widened = signing.dumps([subscribed.pk, "everything"], salt="campaigns.unsubscribe")
    response = Client().post(reverse("public:unsubscribe", kwargs={"token": widened}))
    assert response.status_code == 400


def test_an_expired_token_says_so(subscribed):
    path = _path(subscribed)
    with time_machine.travel(timezone.now() + timedelta(days=401)):
        response = Client().post(path)
    assert response.status_code == 400
    assert "expired" in response.content.decode() or "过期" in response.content.decode()


# --- SMS receipts -----------------------------------------------------------------------------


def _post(name, body, token=CALLBACK, raw=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().post(
        reverse(f"public:{name}"),
        raw if raw is not None else json.dumps(body, ensure_ascii=False),
        content_type="application/json",
        **headers,
    )


@pytest.fixture
def callback(settings):
    settings.SCRM_SMS_CALLBACK_TOKEN = CALLBACK


@pytest.fixture
def sent_sms(subscribed, settings):
    settings.SCRM_SMS_BACKEND = "accounts.sms.MemoryBackend"
    m = message_queue(
        member=subscribed,
        channel="sms",
        kind="service",
        text="您的订单已发货",
        source_type="system",
        source_id="r-1",
    )
    outbox_relay_batch()
    m.refresh_from_db()
    assert m.status == Message.Status.SENT and m.provider_id
    return m


@pytest.mark.parametrize("name", ["sms_receipts", "sms_inbound"])
@pytest.mark.parametrize("token", [None, "wrong", ""])
def test_the_gateway_hooks_require_the_callback_token(callback, sent_sms, name, token):
    body = (
        [{"id": sent_sms.provider_id, "status": "delivered"}]
        if name == "sms_receipts"
        else {"from": sent_sms.member.phone, "text": "R"}
    )
    response = _post(name, body, token=token)
    assert response.status_code == 401
    sent_sms.refresh_from_db()
    assert sent_sms.status == Message.Status.SENT
    assert Member.objects.get(pk=sent_sms.member_id).consent_sms is True


def test_no_callback_token_configured_refuses_everyone(settings, sent_sms):
    settings.SCRM_SMS_CALLBACK_TOKEN = ""
    response = _post("sms_receipts", [{"id": sent_sms.provider_id, "status": "delivered"}], "")
    assert response.status_code == 401


def test_a_delivered_receipt_marks_the_message_delivered_once(callback, sent_sms):
    body = [{"id": sent_sms.provider_id, "status": "delivered"}, {"id": "nobody", "status": "x"}]
    response = _post("sms_receipts", body)
    assert response.status_code == 200 and response.json()["updated"] == 1
    sent_sms.refresh_from_db()
    assert sent_sms.status == Message.Status.DELIVERED and sent_sms.delivered_at is not None
    first = sent_sms.delivered_at
    # Repeated, and a late contradicting receipt: nothing changes.
    again = _post("sms_receipts", [{"id": sent_sms.provider_id, "status": "failed"}, *body])
    assert again.json()["updated"] == 0
    sent_sms.refresh_from_db()
    assert (sent_sms.status, sent_sms.delivered_at) == (Message.Status.DELIVERED, first)


def test_a_failed_receipt_for_a_bad_number_marks_the_member_unreachable(callback, sent_sms):
    body = [{"id": sent_sms.provider_id, "status": "failed", "error": "invalid_number"}]
    assert _post("sms_receipts", body).status_code == 200
    sent_sms.refresh_from_db()
    assert (sent_sms.status, sent_sms.reason) == (Message.Status.FAILED, "unreachable")
    assert Unreachable.objects.filter(member_id=sent_sms.member_id, channel="sms").exists()


def test_a_failed_receipt_for_another_reason_fails_only_the_message(callback, sent_sms):
    body = [{"id": sent_sms.provider_id, "status": "failed", "error": "carrier_timeout"}]
    _post("sms_receipts", body)
    sent_sms.refresh_from_db()
    assert (sent_sms.status, sent_sms.reason) == (Message.Status.FAILED, "undelivered")
    assert sent_sms.last_error == "carrier_timeout"
    assert not Unreachable.objects.exists()


def test_receipts_that_are_not_json_are_a_400(callback):
    assert _post("sms_receipts", None, raw="not json").status_code == 400
    assert _post("sms_receipts", None, raw='"a string"').status_code == 400


def test_the_fake_gateways_receipts_close_the_loop(callback, sms_gateway, subscribed):
    m = message_queue(
        member=subscribed,
        channel="sms",
        kind="service",
        text="您的积分即将到期",
        source_type="system",
        source_id="r-2",
    )
    outbox_relay_batch()
    assert _post("sms_receipts", sms_gateway.receipts("delivered")).status_code == 200
    m.refresh_from_db()
    assert m.status == Message.Status.DELIVERED


def test_the_hooks_take_only_post(callback):
    response = Client().get(reverse("public:sms_receipts"), HTTP_AUTHORIZATION=f"Bearer {CALLBACK}")
    assert response.status_code == 405


# --- SMS replies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["R", " r ", "Ｒ", "td", "T", "退订", "退订。", "ＴＤ"])
def test_a_stop_reply_opts_the_member_out_of_sms_marketing(callback, subscribed, text):
    response = _post("sms_inbound", {"from": "138 0013 8000", "text": text})
    assert response.status_code == 200 and response.json()["opted_out"] is True
    subscribed.refresh_from_db()
    assert subscribed.consent_sms is False and subscribed.consent_email is True
    record = ConsentRecord.objects.get(member=subscribed, channel="sms")
    assert (record.granted, record.source) == (False, "sms_reply")


@pytest.mark.parametrize("text", ["好的", "Reply", "RT", ""])
def test_other_replies_change_nothing(callback, subscribed, text):
    response = _post("sms_inbound", {"from": subscribed.phone, "text": text})
    assert response.status_code == 200 and response.json()["opted_out"] is False
    subscribed.refresh_from_db()
    assert subscribed.consent_sms is True


def test_a_reply_from_an_unknown_number_is_accepted_and_ignored(callback, subscribed):
    response = _post("sms_inbound", {"from": "+8613999999999", "text": "R"})
    assert response.status_code == 200 and response.json()["opted_out"] is False
    assert not ConsentRecord.objects.exists()


def test_a_reply_without_a_sender_is_a_400(callback):
    assert _post("sms_inbound", {"text": "R"}).status_code == 400
