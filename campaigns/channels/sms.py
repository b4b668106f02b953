"""SMS through the product's SMS backend (``accounts.sms``): the HTTP gateway in production, the
console or memory backend in the demo and the tests.

The message's id is the gateway's idempotency key (``msg-<id>``): a relay killed after the call
sends the same message again, and the gateway answers with the first SMS instead of a second one.
The gateway's answer is classified by ``accounts.sms.SmsError.kind``; delivery receipts and
replies come back through ``campaigns.views.hooks``.
"""

from __future__ import annotations

from typing import Any

from accounts import sms
from campaigns.channels.base import Outcome

KINDS = ("retry", "recipient", "config")


def idempotency_key(message: Any) -> str:
    return f"msg-{message.pk}"


class SmsAdapter:
    channel = "sms"
    local = False

    def address(self, member: Any) -> str:
        return member.phone or ""

    def send(self, message: Any, member: Any) -> Outcome:
        to = self.address(member)
        if not to:
            return Outcome("recipient", detail="no phone number")
        try:
            backend = sms.get_backend()
            sent = backend.send(
                sms.SmsMessage(to=to, text=message.text, idempotency_key=idempotency_key(message))
            )
        except ImportError as exc:  # SCRM_SMS_BACKEND names no backend
            return Outcome("config", detail=f"SMS backend: {exc}")
        except sms.SmsError as exc:
            kind = exc.kind if exc.kind in KINDS else "retry"
            return Outcome(kind, detail=str(exc), retry_after=exc.retry_after)
        return Outcome("sent", provider_id=sent.gateway_id)
