"""SMS adapter. The product talks to one small interface; backends are picked by ``SCRM_SMS_BACKEND``.

- ``ConsoleBackend`` (default): writes the message to the log, for the demo and development.
- ``MemoryBackend``: keeps messages in ``accounts.sms.outbox`` for tests.
- ``HttpGatewayBackend``: the HTTP gateway protocol documented in README.md
  (POST JSON ``{"to", "text", "sender", "idempotency_key"}`` with ``Authorization: Bearer``;
  2xx with ``{"id": ...}`` is success; anything else raises ``SmsError``).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from urllib import error, request

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger("scrm.sms")

LAST_SMS_CACHE_KEY = "scrm:sms:last:{phone}"


class SmsError(Exception):
    pass


@dataclass
class SmsMessage:
    to: str
    text: str
    sent_at: datetime = field(default_factory=timezone.now)
    gateway_id: str = ""


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
            raise SmsError("SCRM_SMS_GATEWAY_URL must be an http(s) URL.")
        self.token = settings.SCRM_SMS_GATEWAY_TOKEN
        self.sender = settings.SCRM_SMS_GATEWAY_SENDER
        self.timeout = settings.SCRM_SMS_GATEWAY_TIMEOUT

    def send(self, message: SmsMessage) -> SmsMessage:
        body = json.dumps(
            {
                "to": message.to,
                "text": message.text,
                "sender": self.sender,
                "idempotency_key": uuid.uuid4().hex,
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
            raise SmsError(f"SMS gateway answered {exc.code}") from exc
        except (error.URLError, TimeoutError, ValueError) as exc:
            raise SmsError(f"SMS gateway unreachable: {exc}") from exc
        gateway_id = str(payload.get("id") or "")
        if not gateway_id:
            raise SmsError("SMS gateway answered without a message id")
        message.gateway_id = gateway_id
        return message


def get_backend() -> BaseBackend:
    return import_string(settings.SCRM_SMS_BACKEND)()


def send_sms(*, to: str, text: str) -> SmsMessage:
    return get_backend().send(SmsMessage(to=to, text=text))
