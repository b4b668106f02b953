"""Saved segments: create, update, delete (audited). The grammar is in members.selectors.segments."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from members.models import Segment
from members.selectors.segments import segment_clean
from scrm.exceptions import ApplicationError


@transaction.atomic
def segment_save(
    *,
    name: str,
    definition: Any,
    for_marketing: bool,
    actor: User | None,
    count: int | None = None,
    segment: Segment | None = None,
    description: str = "",
    request: HttpRequest | None = None,
) -> Segment:
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ApplicationError(
            _("Give the segment a name of at most 80 characters."),
            fields={"name": [_("Give the segment a name of at most 80 characters.")]},
        )
    clean = segment_clean(definition)
    if not clean["groups"]:
        raise ApplicationError(
            _("Add at least one condition."), fields={"groups": [_("Add at least one condition.")]}
        )
    created = segment is None
    segment = segment or Segment(created_by=actor if actor and actor.pk else None)
    before = None if created else {"name": segment.name, "definition": segment.definition}
    segment.name, segment.definition, segment.for_marketing = name, clean, for_marketing
    segment.description = description[:300]
    if count is not None:
        segment.last_count, segment.last_counted_at = count, timezone.now()
    segment.save()
    audit_record(
        actor=actor,
        action="segment.created" if created else "segment.updated",
        target=segment,
        request=request,
        before=before,
        after={"name": name, "definition": clean, "for_marketing": for_marketing},
    )
    return segment


@transaction.atomic
def segment_delete(
    *, segment: Segment, actor: User | None, request: HttpRequest | None = None
) -> None:
    audit_record(
        actor=actor,
        action="segment.deleted",
        target=segment,
        request=request,
        before={"name": segment.name, "definition": segment.definition},
    )
    segment.delete()
