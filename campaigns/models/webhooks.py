"""Webhooks out: the endpoints operators register, one delivery per (endpoint, event) and one row
per attempt with the receiver's answer (Saleor's EventDelivery / EventDeliveryAttempt shape)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# The types of the API contract (API.md, Webhooks (out)) and the log's events behind them.
WEBHOOK_TYPES: dict[str, str] = {
    "member.created": "member_enrolled",
    "order.ingested": "order_ingested",
    "tier.changed": "tier_changed",
    "milestone.reached": "milestone_reached",
    "voucher.issued": "voucher_issued",
    "voucher.redeemed": "voucher_redeemed",
    "points.expiring": "points_expiring",
}


class WebhookEndpoint(models.Model):
    url = models.URLField(_("URL"), max_length=500)
    types = models.JSONField(_("event types"), default=list)
    description = models.CharField(_("description"), max_length=200, blank=True)
    secret = models.CharField(max_length=64)
    is_active = models.BooleanField(_("active"), default=True)
    # Set at the first failure of a run of failures, cleared by a success: a day of it disables.
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook endpoint")

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event for one endpoint. ``body`` is stored as sent, so every retry signs the same
    bytes; its ``id`` is the event's, so a receiver dedupes retries and never sees one id twice
    for two events."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("webhook status", "Pending")
        DELIVERED = "delivered", pgettext_lazy("webhook status", "Delivered")
        FAILED = "failed", pgettext_lazy("webhook status", "Failed")

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    event_id = models.BigIntegerField()
    event_type = models.CharField(max_length=40)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_due_idx",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["endpoint", "-id"], name="webhook_endpoint_idx"),
        ]


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="tries")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at", "-id"]
