"""The durable event log: what happened, written in the transaction of the change it describes,
and the position of each named consumer that reads it (``members.events``)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Event(models.Model):
    """One thing that happened. Append-only (PostgreSQL refuses updates and deletes).

    ``xid`` is the id of the writing transaction (``pg_current_xact_id()``; 0 on SQLite, whose
    writers are serialised): consumers read only events of transactions older than every one still
    running, so an event whose id was drawn early but committed late is never skipped."""

    type = models.CharField(max_length=64)
    member = models.ForeignKey(
        "members.Member",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # event_member_id_idx (member, id)
    )
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField(default=timezone.now)
    xid = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["xid", "id"], name="event_xid_id_idx"),
            models.Index(fields=["member", "id"], name="event_member_id_idx"),
            models.Index(fields=["type", "-id"], name="event_type_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class EventConsumer(models.Model):
    """A named consumer's position in the log: every event at or before (``position_xid``,
    ``position_id``) in (xid, id) order has been handled. One worker at a time moves it."""

    name = models.CharField(max_length=100, unique=True)
    position_xid = models.BigIntegerField(default=0)
    position_id = models.BigIntegerField(default=0)
    delivered = models.BigIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_delivery_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EventEarlyDelivery(models.Model):
    """An event handed to a consumer ahead of its position, to keep one member's events in order;
    skipped (and forgotten) when the position reaches it."""

    consumer = models.ForeignKey(EventConsumer, on_delete=models.CASCADE, related_name="+")
    event_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consumer", "event_id"], name="early_delivery_once")
        ]
