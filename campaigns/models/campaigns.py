"""Campaigns: an audience, a message per channel, an optional offer, a schedule, and a randomised
holdout that measures what the campaign changed; and the brand's own days on the calendar."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from campaigns.models.messages import Channel, Kind

MAX_ROUNDS = 53  # a weekly campaign for a year


def seed_new() -> int:
    return secrets.randbelow(2**62)


class BrandDay(models.Model):
    """A day of the brand's own (a member day, a store's anniversary) shown on the calendar."""

    class Kind(models.TextChoices):
        MEMBER_DAY = "member_day", _("Member day")
        ANNIVERSARY = "anniversary", _("Store anniversary")
        OTHER = "other", _("Other")

    class Repeat(models.TextChoices):
        ONCE = "once", _("Once")
        MONTHLY = "monthly", _("Every month")
        YEARLY = "yearly", _("Every year")

    name = models.CharField(_("name"), max_length=60)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.OTHER)
    date = models.DateField(_("date"))
    repeat = models.CharField(
        _("repeats"), max_length=8, choices=Repeat.choices, default=Repeat.YEARLY
    )
    store = models.ForeignKey(
        "accounts.Store",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("store"),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["date", "name"]
        verbose_name = _("brand day")

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("campaign status", "Draft")
        SCHEDULED = "scheduled", pgettext_lazy("campaign status", "Scheduled")
        RUNNING = "running", pgettext_lazy("campaign status", "Running")
        FINISHED = "finished", pgettext_lazy("campaign status", "Finished")
        CANCELLED = "cancelled", pgettext_lazy("campaign status", "Cancelled")

    class Repeat(models.TextChoices):
        ONCE = "once", _("Once")
        WEEKLY = "weekly", _("Every week")
        MONTHLY = "monthly", _("Every month")

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(
        _("kind"),
        max_length=16,
        choices=[
            (Kind.PROMOTION.value, Kind.PROMOTION.label),
            (Kind.VALUE.value, Kind.VALUE.label),
        ],
        default=Kind.PROMOTION,
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    segment = models.ForeignKey(
        "members.Segment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("segment"),
    )
    uses_list = models.BooleanField(_("uploaded list"), default=False)
    channels = models.JSONField(_("channels"), default=list)
    offer = models.ForeignKey(
        "members.VoucherTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("offer"),
    )
    budget = models.DecimalField(
        _("budget (CNY)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    starts_at = models.DateTimeField(_("starts at"))
    repeat = models.CharField(
        _("repeats"), max_length=8, choices=Repeat.choices, default=Repeat.ONCE
    )
    repeat_until = models.DateField(_("repeats until"), null=True, blank=True)
    conversion_window_days = models.PositiveSmallIntegerField(
        _("conversion window (days)"), default=14
    )
    holdout_percent = models.PositiveSmallIntegerField(_("holdout (%)"), default=10)
    occasion = models.CharField(_("occasion"), max_length=60, blank=True)
    occasion_date = models.DateField(_("occasion date"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="campaigns_owned",
        verbose_name=_("owner"),
    )
    # The draw of the holdout: md5(seed:member id) orders the audience; the first
    # holdout_percent of it are held out. Kept, so the draw can be repeated and checked.
    seed = models.BigIntegerField(default=seed_new)
    audience_count = models.PositiveIntegerField(null=True, blank=True)
    treatment_count = models.PositiveIntegerField(null=True, blank=True)
    holdout_count = models.PositiveIntegerField(null=True, blank=True)
    # Writing the outbox: the round being written and the last member id written in it.
    round = models.PositiveSmallIntegerField(default=0)
    round_cursor = models.BigIntegerField(default=0)
    round_written = models.BooleanField(default=False)
    dry_run = models.JSONField(null=True, blank=True)
    results = models.JSONField(null=True, blank=True)
    results_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    launched_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("campaign")
        constraints = [
            models.CheckConstraint(
                condition=Q(holdout_percent__lte=50), name="campaign_holdout_at_most_50"
            ),
            models.CheckConstraint(
                condition=Q(conversion_window_days__gte=1, conversion_window_days__lte=90),
                name="campaign_window_1_90",
            ),
        ]
        indexes = [models.Index(fields=["status", "starts_at"], name="campaign_status_idx")]

    def __str__(self) -> str:
        return self.name

    # --- Schedule -------------------------------------------------------------------------

    def round_starts(self) -> list[datetime]:
        """When each round sends: the start, then every week or month until ``repeat_until``."""
        starts = [self.starts_at]
        if self.repeat == self.Repeat.ONCE or self.repeat_until is None:
            return starts
        local = timezone.localtime(self.starts_at)
        k = 1
        while len(starts) < MAX_ROUNDS:
            if self.repeat == self.Repeat.WEEKLY:
                nxt = local + timedelta(weeks=k)
            else:
                month = local.month - 1 + k
                year, month = local.year + month // 12, month % 12 + 1
                day = min(local.day, _days_in(year, month))
                nxt = local.replace(year=year, month=month, day=day)
            if nxt.date() > self.repeat_until:
                break
            starts.append(nxt)
            k += 1
        return starts

    def source_id(self, round_: int) -> str:
        return f"{self.pk}:{round_}"

    def source_ids(self) -> list[str]:
        return [self.source_id(k) for k in range(len(self.round_starts()))]

    @property
    def window_end(self) -> datetime:
        """Orders until then count: the last round's start plus the conversion window."""
        return self.round_starts()[-1] + timedelta(days=self.conversion_window_days)

    @property
    def is_editable(self) -> bool:
        return self.status in (self.Status.DRAFT, self.Status.SCHEDULED)

    def channel_labels(self) -> list[str]:
        labels = dict(Channel.choices)
        return [str(labels.get(c, c)) for c in self.channels]


def _days_in(year: int, month: int) -> int:
    import calendar

    return calendar.monthrange(year, month)[1]


class CampaignMessage(models.Model):
    """The text a campaign sends on one of its channels (from a message template, or typed)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="messages")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    template = models.ForeignKey(
        "campaigns.MessageTemplate",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "channel"], name="campaign_message_uniq")
        ]


class CampaignListMember(models.Model):
    """A member of a campaign's uploaded list (phones or member codes)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "member"], name="campaign_list_uniq")
        ]


class CampaignMember(models.Model):
    """A member drawn into a launched campaign, and the group the draw put them in."""

    class Group(models.TextChoices):
        TREATMENT = "treatment", _("Treatment")
        HOLDOUT = "holdout", _("Holdout")

    # No foreign-key constraints in the database (Django still cascades): a launch writes a
    # million rows in one INSERT … SELECT from the members themselves, and a constraint would run
    # a trigger per row and take a share lock on every member row an order then waits for.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    group = models.CharField(max_length=10, choices=Group.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "member"], name="campaign_member_uniq")
        ]
        indexes = [
            models.Index(fields=["campaign", "group", "member"], name="campaign_group_idx"),
            models.Index(fields=["member"], name="campaign_member_member_idx"),
        ]
