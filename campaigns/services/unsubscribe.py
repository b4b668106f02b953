"""Unsubscribe links that work without signing in (RFC 8058 one-click, and a page with a button).

The token is signed (``django.core.signing``, its own salt) and names the member and the scope:
one channel ("email", "sms", ...) or "all" marketing. It carries no secret of the member's and
cannot be forged or widened; it expires after ``TOKEN_MAX_AGE`` (long: mail is read late, and an
unsubscribe must keep working). Applying it goes through the members app's consent services, so the
consent history and the audit log say when and how the member left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from members.models import Member
from members.services.profiles import consent_set, marketing_opt_out
from scrm.exceptions import ApplicationError

SALT = "campaigns.unsubscribe"
TOKEN_MAX_AGE = timedelta(days=400)
ALL = "all"


@dataclass(frozen=True)
class UnsubscribeScope:
    member: Member
    channel: str  # one of Member.CONSENT_CHANNELS, or ALL


def unsubscribe_token(member: Member, channel: str = ALL) -> str:
    if channel != ALL and channel not in Member.CONSENT_CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    return signing.dumps([member.pk, channel], salt=SALT, compress=True)


def unsubscribe_url(member: Member, channel: str = ALL) -> str:
    """The absolute https link (``SCRM_PUBLIC_URL``) that opts ``member`` out of ``channel``."""
    path = reverse("public:unsubscribe", kwargs={"token": unsubscribe_token(member, channel)})
    return f"{settings.SCRM_PUBLIC_URL}{path}"


def unsubscribe_read(token: str) -> UnsubscribeScope:
    """The member and scope a token names; ``ApplicationError`` (code ``bad_token``) when it is
    forged, damaged, expired or names nobody."""
    try:
        member_id, channel = signing.loads(token, salt=SALT, max_age=TOKEN_MAX_AGE)
        member = Member.objects.get(pk=int(member_id))
    except signing.SignatureExpired as exc:
        raise ApplicationError(
            _(
                "This unsubscribe link has expired. Use the link in a newer message, or ask in store."
            ),
            code="expired_token",
        ) from exc
    except (signing.BadSignature, ValueError, TypeError, Member.DoesNotExist) as exc:
        raise ApplicationError(
            _("This unsubscribe link is not valid. Copy the whole link from the message."),
            code="bad_token",
        ) from exc
    if channel != ALL and channel not in Member.CONSENT_CHANNELS:
        raise ApplicationError(
            _("This unsubscribe link is not valid. Copy the whole link from the message."),
            code="bad_token",
        )
    return UnsubscribeScope(member=member, channel=channel)


@transaction.atomic
def unsubscribe_apply(
    *, token: str, source: str, request: HttpRequest | None = None
) -> UnsubscribeScope:
    """Opt the token's member out of its scope, at once and without any further step (RFC 8058).
    Idempotent: applying it again changes and records nothing. ``source`` is what the consent
    history shows (at most 10 characters, e.g. ``one_click`` or ``link``)."""
    scope = unsubscribe_read(token)
    if scope.channel == ALL:
        member = marketing_opt_out(member=scope.member, source=source, actor=None, request=request)
    else:
        member = consent_set(
            member=scope.member,
            consent={scope.channel: False},
            source=source,
            actor=None,
            request=request,
        )
    return UnsubscribeScope(member=member, channel=scope.channel)
