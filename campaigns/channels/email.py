"""Email through Django's mailer (``MAILERS["default"]``: any SMTP server, or a django-anymail
provider).

Marketing mail (``value``, ``promotion``) comes from ``SCRM_MARKETING_FROM_EMAIL`` and carries the
one-click unsubscribe of RFC 8058 (``List-Unsubscribe`` with the signed https link, kept on one
line, and ``List-Unsubscribe-Post``) plus the same link visible in the text, as Gmail and Yahoo
require of bulk senders; transactional and service mail comes from ``DEFAULT_FROM_EMAIL`` without
them. The ``Message-ID`` is made from the message's id, so a resend after a crash is the same
mail to the receiving side.
"""

from __future__ import annotations

import smtplib
import ssl
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives
from django.utils import translation
from django.utils.translation import gettext as _

from campaigns.channels.base import Outcome
from campaigns.models.messages import MARKETING
from campaigns.services.unsubscribe import unsubscribe_url


class OneLineHeader(str):
    """A header value Python's email package writes as it is, on one line: a long
    ``List-Unsubscribe`` folded (or worse, turned into encoded words) no longer names its link for
    every mailbox provider, and breaks DKIM for some (CHANNELS.md §3.3)."""

    name: str

    def __new__(cls, name: str, value: str) -> OneLineHeader:
        if "\r" in value or "\n" in value:
            raise ValueError("a header value cannot contain a line break")
        header = super().__new__(cls, value)
        header.name = name
        return header

    def fold(self, *, policy: Any) -> str:
        return f"{self.name}: {self}{policy.linesep}"


def message_id(message: Any) -> str:
    domain = urlsplit(settings.SCRM_PUBLIC_URL).hostname or "scrm.invalid"
    return f"<scrm-message-{message.pk}@{domain}>"


def _subject(message: Any) -> str:
    if message.subject:
        return message.subject
    first = (message.text or "").strip().splitlines()[0:1]
    return first[0][:60] if first else "SCRM"


def _smtp_code(exc: Exception) -> int:
    return int(getattr(exc, "smtp_code", 0) or 0)


def classify(exc: Exception) -> Outcome:
    """What a mailer's exception means for the outbox."""
    detail = f"{type(exc).__name__}: {exc}"[:2000]
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in exc.recipients.values()]
        if codes and all(500 <= int(c) < 600 for c in codes):
            return Outcome("recipient", detail=detail)
        return Outcome("retry", detail=detail)
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError):
        return Outcome("config", detail=detail)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        # Our own From refused for good is the channel's configuration.
        return Outcome("config" if 500 <= _smtp_code(exc) < 600 else "retry", detail=detail)
    if isinstance(exc, ImproperlyConfigured | ssl.SSLCertVerificationError):
        return Outcome("config", detail=detail)
    if isinstance(exc, ValueError):  # an address Django cannot write (prep_address)
        return Outcome("recipient", detail=detail)
    # Disconnected, refused, timed out, a 4xx, a 5xx after RCPT: try again later (bounded by the
    # outbox's attempts); hard bounces come back through the provider's webhooks.
    return Outcome("retry", detail=detail)


class EmailAdapter:
    channel = "email"
    local = False

    def address(self, member: Any) -> str:
        return member.email or ""

    def build(self, message: Any, member: Any) -> EmailMultiAlternatives:
        to = self.address(member)
        headers: dict[str, Any] = {"Message-ID": message_id(message)}
        text = message.text
        if message.kind in MARKETING:
            link = unsubscribe_url(member, "email")
            headers["List-Unsubscribe"] = OneLineHeader("List-Unsubscribe", f"<{link}>")
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            with translation.override(message.language or settings.LANGUAGE_CODE):
                footer = _("To stop these emails, unsubscribe here: %(link)s") % {"link": link}
            text = f"{text}\n\n--\n{footer}\n"
            sender = settings.SCRM_MARKETING_FROM_EMAIL
        else:
            sender = settings.DEFAULT_FROM_EMAIL
        return EmailMultiAlternatives(
            subject=_subject(message), body=text, from_email=sender, to=[to], headers=headers
        )

    def send(self, message: Any, member: Any) -> Outcome:
        if not self.address(member):
            return Outcome("recipient", detail="no email address")
        try:
            email = self.build(message, member)
            sent = mail.mailers.default.send_messages([email])
        except (smtplib.SMTPException, OSError, ValueError, ImproperlyConfigured) as exc:
            return classify(exc)
        if not sent:
            return Outcome("retry", detail="the mailer sent nothing")
        # An ESP (django-anymail) tells its own id; SMTP has only ours.
        status = getattr(email, "anymail_status", None)
        provider_id = getattr(status, "message_id", None) or message_id(message)
        return Outcome("sent", provider_id=str(provider_id))
