"""SMS adapter. The product talks to one small interface; backends are picked by ``SCRM_SMS_BACKEND``.

- ``ConsoleBackend`` (default): writes the message to the log, for the demo and development.
- ``MemoryBackend``: keeps messages in ``accounts.sms.outbox`` for tests.
- ``HttpGatewayBackend``: the HTTP gateway protocol documented in README.md
  (POST JSON ``{"to", "text", "sender", "idempotency_key"}`` with ``Authorization: Bearer``;
  2xx with ``{"id": ...}`` is success; anything else raises ``SmsError``, classified by ``kind``
  so the outbox knows whether to retry, give up on the number or pause the channel).
"""

from __future__ import annotations

import http.client
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib import error, request

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger("scrm.sms")

LAST_SMS_CACHE_KEY = "scrm:sms:last:{phone}"


# The gateway's JSON error codes (``{"error": "<code>"}`` on a 4xx) that mean this number can
# never be reached: the outbox fails the message and marks the member's SMS unreachable.
RECIPIENT_ERRORS = frozenset({"invalid_number", "blacklisted"})
MAX_RETRY_AFTER = 6 * 3600


class SmsError(Exception):
    """A send that failed. ``kind`` says what to do about it: ``retry`` (busy, rate-limited,
    timed out, unreachable: again later, after ``retry_after`` seconds when the gateway said),
    ``recipient`` (a bad or blacklisted number: never again to it) or ``config`` (credentials
    refused, no gateway at that URL: nothing goes until an operator fixes it)."""

    def __init__(
        self, message: str, *, kind: str = "retry", retry_after: int | None = None, code: str = ""
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after
        self.code = code


@dataclass
class SmsMessage:
    to: str
    text: str
    sent_at: datetime = field(default_factory=timezone.now)
    gateway_id: str = ""
    # The gateway dedupes on it: the same key sent twice is one SMS (a resend after a crash).
    idempotency_key: str = ""


outbox: list[SmsMessage] = []


class BaseBackend:
    def send(self, message: SmsMessage) -> SmsMessage:
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    def send(self, message: SmsMessage) -> SmsMessage:
        logger.warning("SMS to %s: %s", message.to, message.text)  # once, in the terminal
        if settings.SCRM_SMS_SHOW_IN_PAGE:
            cache.set(LAST_SMS_CACHE_KEY.format(phone=message.to), message.text, timeout=600)
        message.gateway_id = f"console-{uuid.uuid4().hex[:12]}"
        return message


class MemoryBackend(BaseBackend):
    def send(self, message: SmsMessage) -> SmsMessage:
        message.gateway_id = f"memory-{len(outbox) + 1}"
        outbox.append(message)
        return message


class HttpGatewayBackend(BaseBackend):
    def __init__(self) -> None:
        self.url = settings.SCRM_SMS_GATEWAY_URL
        if not self.url.startswith(("http://", "https://")):
            raise SmsError("SCRM_SMS_GATEWAY_URL must be an http(s) URL.", kind="config")
        self.token = settings.SCRM_SMS_GATEWAY_TOKEN
        self.sender = settings.SCRM_SMS_GATEWAY_SENDER
        self.timeout = settings.SCRM_SMS_GATEWAY_TIMEOUT

    def send(self, message: SmsMessage) -> SmsMessage:
        body = json.dumps(
            {
                "to": message.to,
                "text": message.text,
                "sender": self.sender,
                "idempotency_key": message.idempotency_key or uuid.uuid4().hex,
            },
            ensure_ascii=False,
        ).encode()
        req = request.Request(  # noqa: S310  (scheme checked in __init__)
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Authorization": f"Bearer {self.token}",
            },
        )
        try:
            with request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                payload = json.loads(resp.read() or b"{}")
        except error.HTTPError as exc:
            raise _refusal(exc) from exc
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out
            raise SmsError(f"SMS gateway unreachable: {exc}") from exc
        except ValueError as exc:
            raise SmsError(f"SMS gateway answered what is not JSON: {exc}") from exc
        gateway_id = str(payload.get("id") or "") if isinstance(payload, dict) else ""
        if not gateway_id:
            raise SmsError("SMS gateway answered without a message id")
        message.gateway_id = gateway_id
        return message


def _refusal(exc: error.HTTPError) -> SmsError:
    """Classify a gateway's non-2xx answer (README, *SMS gateway protocol*)."""
    status = exc.code
    try:
        body = json.loads(exc.read() or b"{}")
    except (OSError, ValueError, http.client.HTTPException):
        body = {}
    code = body.get("error", "") if isinstance(body, dict) else ""
    if isinstance(code, dict):
        code = code.get("code", "")
    code = str(code or "")
    text = f"SMS gateway answered {status}" + (f" {code}" if code else "")
    if status in (401, 403):
        return SmsError(text, kind="config", code=code)
    if status == 429 or status >= 500:
        retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        return SmsError(text, kind="retry", retry_after=retry_after, code=code)
    if code in RECIPIENT_ERRORS:
        return SmsError(text, kind="recipient", code=code)
    if status in (404, 405):
        return SmsError(text, kind="config", code=code)  # no gateway at that URL
    return SmsError(text, kind="retry", code=code)


def _retry_after(value: str | None) -> int | None:
    """``Retry-After`` as seconds (RFC 9110: a number of seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = int(value)
    else:
        try:
            seconds = int((parsedate_to_datetime(value) - timezone.now()).total_seconds())
        except (TypeError, ValueError, OverflowError):
            return None
    return min(max(seconds, 1), MAX_RETRY_AFTER)


def get_backend() -> BaseBackend:
    return import_string(settings.SCRM_SMS_BACKEND)()


def send_sms(*, to: str, text: str, idempotency_key: str = "") -> SmsMessage:
    return get_backend().send(SmsMessage(to=to, text=text, idempotency_key=idempotency_key))
