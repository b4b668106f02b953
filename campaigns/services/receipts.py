"""What the SMS gateway posts back: delivery receipts and members' replies (README, *SMS gateway
protocol*; the views are in ``campaigns.views.hooks``).

Receipts are idempotent and order-proof: a message takes the first final state its receipts give
it (delivered or failed) and later or repeated receipts change nothing. A receipt for an id the
outbox never sent (a sign-in code, another system's SMS) is ignored. A failed receipt whose error
says the number can never be reached marks the member's SMS unreachable, as a refused send does.

A reply of "R", "TD", "T", "退订" or "拒收" (in any case, spacing, or full-width form) withdraws the
member's SMS consent through ``members.services.profiles.consent_set``, so the consent history
and the audit log record it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.phones import InvalidPhone, normalize_phone
from accounts.sms import RECIPIENT_ERRORS
from campaigns.models import Message
from campaigns.services.outbox import unreachable_record
from members.models import Member
from members.services.profiles import consent_set

STOP_WORDS = frozenset({"R", "TD", "T", "退订", "拒收"})
REPLY_SOURCE = "sms_reply"
_IGNORED = re.compile(r"[\s\W_]+")


@dataclass(frozen=True)
class Receipt:
    provider_id: str
    status: str  # "delivered" or "failed"
    error: str = ""


def receipt_parse(item: object) -> Receipt | None:
    """One entry of the gateway's JSON array, or None when it is not a receipt we understand."""
    if not isinstance(item, dict):
        return None
    provider_id = str(item.get("id") or "").strip()
    status = str(item.get("status") or "").strip().lower()
    if not provider_id or status not in ("delivered", "failed"):
        return None
    return Receipt(provider_id=provider_id[:128], status=status, error=str(item.get("error") or ""))


@transaction.atomic
def sms_receipts_record(*, receipts: list[Receipt]) -> int:
    """Apply delivery receipts; returns how many messages changed."""
    if not receipts:
        return 0
    now = timezone.now()
    by_id: dict[str, Receipt] = {}
    for r in receipts:
        by_id.setdefault(r.provider_id, r)  # the first receipt of an id in a batch wins
    messages = list(
        Message.objects.select_for_update()
        .filter(channel="sms", provider_id__in=list(by_id), status=Message.Status.SENT)
        .order_by("pk")
    )
    changed = 0
    for m in messages:
        r = by_id[m.provider_id]
        if r.status == "delivered":
            m.status, m.delivered_at, m.reason = Message.Status.DELIVERED, now, ""
        else:
            unreachable = r.error.strip().lower() in RECIPIENT_ERRORS
            m.status = Message.Status.FAILED
            m.reason = "unreachable" if unreachable else "undelivered"
            m.last_error = r.error[:2000]
            if unreachable:
                unreachable_record(
                    member=m.member, channel="sms", address=m.member.phone, reason=r.error
                )
        m.updated_at = now
        changed += 1
    Message.objects.bulk_update(
        messages, ["status", "delivered_at", "reason", "last_error", "updated_at"]
    )
    return changed


def is_stop_reply(text: str) -> bool:
    """ "R", " td ", "Ｒ", "退订。": a member asking to receive no more marketing SMS."""
    word = _IGNORED.sub("", unicodedata.normalize("NFKC", text or "")).upper()
    return word in STOP_WORDS


def sms_reply_record(*, phone: str, text: str) -> Member | None:
    """A member's reply: a stop word withdraws their SMS consent. Returns the member opted out,
    or None (not a stop word, or no member has that number)."""
    if not is_stop_reply(text):
        return None
    try:
        number = normalize_phone(phone)
    except InvalidPhone:
        return None
    member = Member.objects.filter(phone=number).first()
    if member is None:
        return None
    return consent_set(member=member, consent={"sms": False}, source=REPLY_SOURCE, actor=None)
