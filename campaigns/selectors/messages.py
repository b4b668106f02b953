"""Reads of the outbox for the console, the portal inbox and the Member 360 timeline: the message
log with its filters, one member's messages, a member's inbox and unread count, the templates, the
channels' state and a staff member's to-do list."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import (
    ChannelState,
    Message,
    MessageAttempt,
    MessageTemplate,
    StaffTask,
    Unreachable,
)
from campaigns.models.messages import Channel
from members.models import Member
from members.selectors.timeline import Entry, register_timeline_provider

# Why a message was skipped, deferred, failed or is waiting, in words (Message.reason).
REASONS: dict[str, Any] = {
    "no_consent": gettext_lazy("No consent for this channel"),
    "opted_out": gettext_lazy("Opted out of marketing"),
    "quiet_hours": gettext_lazy("Quiet hours"),
    "frequency_cap": gettext_lazy("Frequency cap reached"),
    "ratio_3_1": gettext_lazy("Too few value messages before a promotion (3:1 rule)"),
    "member_frequency": gettext_lazy("The member's chosen frequency"),
    "expired": gettext_lazy("Expired before it could be sent"),
    "no_address": gettext_lazy("No address on this channel"),
    "unreachable": gettext_lazy("Recipient unreachable on this channel"),
    "retry": gettext_lazy("Will try again"),
    "gave_up": gettext_lazy("Gave up after the last try"),
    "channel_paused": gettext_lazy("Channel paused"),
    "handed_to_staff": gettext_lazy("Handed to the owner to send"),
}

# A status badge's class: the status is always written too, never shown by colour alone.
STATUS_BADGES = {
    Message.Status.QUEUED: "",
    Message.Status.DEFERRED: "badge-gold",
    Message.Status.SENT: "badge-brand",
    Message.Status.DELIVERED: "badge-ok",
    Message.Status.FAILED: "badge-err",
    Message.Status.SKIPPED: "",
}

# What the portal inbox shows: portal messages that reached the member.
INBOX_STATUSES = (Message.Status.SENT, Message.Status.DELIVERED)


def reason_label(reason: str) -> str:
    """A reason in words; an unknown one (written by a newer relay) as it is."""
    return str(REASONS[reason]) if reason in REASONS else reason


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def message_log(filters: Mapping[str, Any] | None = None) -> QuerySet[Message]:
    """Every message, newest first, narrowed by ``filters``: status, channel, kind, source
    (``source_type``), reason, member (a member code), since and until (dates, local, inclusive).
    Empty values filter nothing."""
    f = filters or {}
    qs = Message.objects.select_related("member").order_by("-created_at", "-id")
    for key, field in (
        ("status", "status"),
        ("channel", "channel"),
        ("kind", "kind"),
        ("source", "source_type"),
        ("reason", "reason"),
    ):
        if f.get(key):
            qs = qs.filter(**{field: f[key]})
    if f.get("member"):
        qs = qs.filter(member__code=str(f["member"]).upper())
    if f.get("since"):
        qs = qs.filter(created_at__gte=_day_start(f["since"]))
    if f.get("until"):
        qs = qs.filter(created_at__lt=_day_start(f["until"]) + timedelta(days=1))
    return qs


def member_messages(member: Member) -> QuerySet[Message]:
    """One member's messages on every channel, newest first."""
    return Message.objects.filter(member=member).order_by("-created_at", "-id")


def member_message_counts(member: Member) -> dict[str, int]:
    """How many of the member's messages are in each status."""
    rows = Message.objects.filter(member=member).values_list("status").annotate(n=Count("id"))
    return {status: n for status, n in rows}


def member_channels(member: Member) -> list[dict[str, Any]]:
    """Per channel: the member's consent and whether the channel refused them for good."""
    refused = {u.channel: u for u in Unreachable.objects.filter(member=member).order_by("channel")}
    return [
        {
            "channel": value,
            "label": label,
            "consent": bool(getattr(member, f"consent_{value}", False)),
            "unreachable": refused.get(value),
        }
        for value, label in Channel.choices
    ]


def message_detail(pk: int) -> Message | None:
    """One message with its member, template, attempts (newest first) and staff task."""
    return (
        Message.objects.select_related("member", "template")
        .prefetch_related(Prefetch("attempt_rows", queryset=MessageAttempt.objects.order_by("-at")))
        .filter(pk=pk)
        .first()
    )


def message_task(message: Message) -> StaffTask | None:
    return StaffTask.objects.select_related("owner", "done_by").filter(message=message).first()


# --- The portal inbox ------------------------------------------------------------------------


def inbox_messages(member: Member) -> QuerySet[Message]:
    """The member's portal messages that reached them, newest first."""
    return Message.objects.filter(
        member=member, channel=Channel.PORTAL, status__in=INBOX_STATUSES
    ).order_by("-sent_at", "-id")


def inbox_message(member: Member, pk: int) -> Message | None:
    """One message of the member's inbox; None for anyone else's (or one not sent yet)."""
    return inbox_messages(member).filter(pk=pk).first()


def inbox_unread_count(user: Any) -> int:
    """How many inbox messages the member signed in as ``user`` has not opened (one query)."""
    return Message.objects.filter(
        member__user=user, channel=Channel.PORTAL, status__in=INBOX_STATUSES, read_at__isnull=True
    ).count()


# --- Templates, channels, tasks --------------------------------------------------------------


def templates_list(*, channel: str = "", q: str = "") -> QuerySet[MessageTemplate]:
    qs = MessageTemplate.objects.select_related("updated_by").order_by(
        "code", "channel", "language"
    )
    if channel:
        qs = qs.filter(channel=channel)
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q))
    return qs


def template_used(template: MessageTemplate) -> bool:
    """Whether any message was written from the template (it is then switched off, not deleted)."""
    return Message.objects.filter(template=template).exists()


def channel_states() -> list[dict[str, Any]]:
    """Every channel with its state (paused, why, since when) and how many of its messages wait
    (queued or deferred)."""
    states = {s.channel: s for s in ChannelState.objects.all()}
    waiting = dict(
        Message.objects.filter(status__in=(Message.Status.QUEUED, Message.Status.DEFERRED))
        .values_list("channel")
        .annotate(n=Count("id"))
    )
    return [
        {
            "channel": value,
            "label": label,
            "state": states.get(value),
            "paused": bool(states.get(value) and states[value].paused),
            "waiting": waiting.get(value, 0),
        }
        for value, label in Channel.choices
    ]


def staff_tasks_open(user: Any) -> QuerySet[StaffTask]:
    """The WeCom messages handed to ``user`` to send by hand, oldest first."""
    return (
        StaffTask.objects.filter(owner=user, done_at__isnull=True)
        .select_related("member", "message")
        .order_by("created_at", "id")
    )


def staff_tasks_done(user: Any, limit: int = 10) -> list[StaffTask]:
    """The last tasks ``user`` marked done."""
    return list(
        StaffTask.objects.filter(owner=user, done_at__isnull=False)
        .select_related("member")
        .order_by("-done_at", "-id")[:limit]
    )


# --- The Member 360 timeline -----------------------------------------------------------------


def message_timeline(member: Member, since: datetime | None, limit: int) -> Iterable[Entry]:
    """The member's messages as timeline entries: channel and status (with the reason in
    words) as the title, the start of the text as the detail."""
    qs = member_messages(member)
    if since:
        qs = qs.filter(created_at__gte=since)
    for m in qs[:limit]:
        status = m.get_status_display()
        if m.reason:
            status = f"{status} · {reason_label(m.reason)}"
        yield Entry(
            m.sent_at or m.created_at,
            "message",
            _("Message (%(channel)s): %(status)s")
            % {"channel": m.get_channel_display(), "status": status},
            (m.subject + " · " if m.subject else "") + m.text[:120],
        )


def timeline_register() -> None:
    """Put the messages on the Member 360 timeline (called from the app's ``ready()``)."""
    register_timeline_provider("message", gettext_lazy("Messages"), message_timeline)
