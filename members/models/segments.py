from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Segment(models.Model):
    """A saved audience: groups of conditions (see members.services.segments for the grammar)."""

    name = models.CharField(_("name"), max_length=80)
    description = models.CharField(_("description"), max_length=300, blank=True)
    definition = models.JSONField(_("conditions"), default=dict)
    for_marketing = models.BooleanField(
        _("for marketing"),
        default=True,
        help_text=_("Marketing audiences leave out members who opted out or gave no consent."),
    )
    last_count = models.IntegerField(null=True, blank=True)
    last_counted_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("segment")

    def __str__(self) -> str:
        return self.name


class LifecycleRun(models.Model):
    """One nightly recompute: when, how long, and the RFM cutoffs the per-order update reuses."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    members = models.IntegerField(default=0)
    stage_changes = models.IntegerField(default=0)
    cutoffs = models.JSONField(default=dict)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"lifecycle run {self.started_at:%Y-%m-%d %H:%M}"
