"""The member's own write in the portal inbox: a message opened is read."""

from __future__ import annotations

from django.utils import timezone

from campaigns.models import Message


def inbox_message_read(*, message: Message) -> None:
    """Mark a message of the member's inbox read when first opened; opening it again keeps the
    first time (one conditional UPDATE, so two tabs opening it at once agree)."""
    if message.read_at is not None:
        return
    now = timezone.now()
    Message.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=now, updated_at=now)
    message.read_at = now
