"""The outbox: one row per message to one member on one channel, and what the relay needs to send
it (templates, the guard rails' settings, the channels' state, to-dos for staff)."""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    WECOM = "wecom", _("WeCom")
    PORTAL = "portal", _("Portal inbox")


class Kind(models.TextChoices):
    TRANSACTIONAL = "transactional", _("Transactional")
    SERVICE = "service", _("Service")
    VALUE = "value", _("Value (tips, care, knowledge)")
    PROMOTION = "promotion", _("Promotion")


MARKETING = (Kind.VALUE, Kind.PROMOTION)


class MessageTemplate(models.Model):
    """The text of one message for one channel and language, with ``{variables}``. System
    messages (sent on an event of the loyalty engine) use the event's type as their code."""

    code = models.SlugField(_("code"), max_length=64)
    name = models.CharField(_("name"), max_length=120)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["code", "channel", "language"]
        verbose_name = _("message template")
        constraints = [
            models.UniqueConstraint(
                fields=["code", "channel", "language"], name="template_code_channel_lang_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_channel_display()}, {self.language})"


class Message(models.Model):
    """One message to one member on one channel from one source (a campaign, a journey step, a
    system event): unique on (source, member, channel), so deciding to send twice sends once.

    Written in the transaction that decides to send; the relay (``campaigns.services.relay``)
    claims due rows with SKIP LOCKED, applies the guard rails at send time and records every
    skip and deferral in ``reason``."""

    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("message status", "Queued")
        DEFERRED = "deferred", pgettext_lazy("message status", "Deferred")
        SENT = "sent", pgettext_lazy("message status", "Sent")
        DELIVERED = "delivered", pgettext_lazy("message status", "Delivered")
        FAILED = "failed", pgettext_lazy("message status", "Failed")
        SKIPPED = "skipped", pgettext_lazy("message status", "Skipped")

    class SourceType(models.TextChoices):
        CAMPAIGN = "campaign", _("Campaign")
        JOURNEY = "journey", _("Journey")
        SYSTEM = "system", _("System")

    source_type = models.CharField(_("source"), max_length=10, choices=SourceType.choices)
    source_id = models.CharField(_("source id"), max_length=64)
    # No constraint in the database (Django still protects the member): a campaign writes its
    # messages set-based, a million at a time, and a constraint would run a trigger per row and
    # share-lock every member row, which an order for that member would then wait for.
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("member"),
        db_index=False,  # message_member_idx
        db_constraint=False,
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    template = models.ForeignKey(
        MessageTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    language = models.CharField(max_length=10, default="zh-hans")
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    text = models.TextField(_("text"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    reason = models.CharField(_("reason"), max_length=32, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    scheduled_for = models.DateTimeField(_("scheduled for"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    # A relay working on the row holds it until then; a relay killed mid-send leaves it to be
    # claimed again when this passes (the provider dedupes by the message's idempotency key).
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    provider_id = models.CharField(_("provider id"), max_length=128, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("message")
        constraints = [
            models.UniqueConstraint(
                fields=["source_type", "source_id", "member", "channel"], name="message_once"
            ),
        ]
        indexes = [
            # The relay's claim reads due rows in (scheduled_for, id) order: a campaign writes
            # thousands with one scheduled_for, so the id must be in the index to stop early.
            models.Index(
                fields=["scheduled_for", "id"],
                name="message_due_idx",
                condition=Q(status__in=["queued", "deferred"]),
            ),
            models.Index(fields=["member", "-created_at"], name="message_member_idx"),
            models.Index(
                fields=["member", "sent_at"],
                name="message_marketing_sent_idx",
                condition=Q(kind__in=["value", "promotion"], sent_at__isnull=False),
            ),
            # Receipts look a message up by the provider's id; rows not sent yet have none, and a
            # campaign writes a million of those at once.
            models.Index(
                fields=["provider_id"], name="message_provider_idx", condition=~Q(provider_id="")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} #{self.pk} → {self.member_id}"

    @property
    def is_marketing(self) -> bool:
        return self.kind in MARKETING


class MessageAttempt(models.Model):
    """One try to hand a message to its channel's provider, with what came back."""

    class Outcome(models.TextChoices):
        SENT = "sent", pgettext_lazy("message status", "Sent")
        RETRY = "retry", _("Will retry")
        RECIPIENT = "recipient", _("Recipient unreachable")
        CONFIG = "config", _("Channel misconfigured")
        PERSON = "person", _("Handed to a person")

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attempt_rows")
    at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    detail = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at", "-id"]


class MessageSettings(models.Model):
    """One row (pk=1): the guard rails every marketing message meets at send time."""

    quiet_start = models.TimeField(_("quiet hours start"), default=time(21, 0))
    quiet_end = models.TimeField(_("quiet hours end"), default=time(9, 0))
    time_zone = models.CharField(_("members' time zone"), max_length=64, default="Asia/Shanghai")
    cap_count = models.PositiveSmallIntegerField(_("marketing messages at most"), default=2)
    cap_days = models.PositiveSmallIntegerField(_("in any number of days"), default=7)
    value_per_promotion = models.PositiveSmallIntegerField(
        _("value messages per promotion"), default=3
    )
    ratio_window_days = models.PositiveSmallIntegerField(
        _("window of the value-to-promotion rule (days)"), default=30
    )
    expiry_days = models.PositiveSmallIntegerField(
        _("a deferred marketing message expires after (days)"), default=14
    )
    max_attempts = models.PositiveSmallIntegerField(_("tries before a message fails"), default=6)
    retry_base_seconds = models.PositiveIntegerField(_("first retry after (seconds)"), default=60)
    sms_opt_out_text = models.CharField(
        _("opt-out text of a marketing SMS"), max_length=30, default="拒收请回复R"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("message settings")

    @classmethod
    def current(cls) -> MessageSettings:
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


class ChannelState(models.Model):
    """A channel paused after a configuration failure (a bad secret, a refused signature): the
    relay leaves its messages queued until an operator resumes it."""

    channel = models.CharField(max_length=10, choices=Channel.choices, unique=True)
    paused = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.channel}: {'paused' if self.paused else 'on'}"


class Unreachable(models.Model):
    """A member's channel that refused for good (a bad number, a hard bounce, not a contact), for
    the address it refused: a member who gives a new phone or email is reachable again."""

    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=254, blank=True)
    reason = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "channel"], name="unreachable_once")
        ]


class StaffTask(models.Model):
    """A WeCom message handed to the member's owner to send by hand (no WeCom app configured)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="message_tasks",
    )
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="task")
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["done_at", "-created_at"]
        indexes = [models.Index(fields=["owner", "done_at"], name="task_owner_open_idx")]
