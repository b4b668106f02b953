"""Ownership and handover: the company owns every relationship; when a staff member leaves, their
members move to colleagues in one audited action, previewed first."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from itertools import cycle

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from members import events
from members.models import Member, OwnershipChange
from scrm.exceptions import ApplicationError


class Mode:
    ONE = "one"  # all to one colleague
    ROUND_ROBIN = "round_robin"  # evenly across the chosen colleagues
    BY_STORE = "by_store"  # to the chosen colleagues who work in the member's store

    choices = [ONE, ROUND_ROBIN, BY_STORE]


@dataclass
class HandoverPlan:
    moves: list[tuple[int, int]] = field(default_factory=list)  # member id, new owner id
    unplaced: list[int] = field(default_factory=list)  # by store: no chosen colleague there
    per_owner: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return len(self.moves)


def handover_plan(*, from_owner: User, mode: str, to_owners: list[User]) -> HandoverPlan:
    """What a handover would move, without moving anything (the preview)."""
    to_owners = [u for u in to_owners if u.pk != from_owner.pk]
    if mode not in Mode.choices:
        raise ApplicationError(
            _("Choose how to hand over."), fields={"mode": [_("Choose from the list.")]}
        )
    if not to_owners:
        raise ApplicationError(
            _("Choose at least one colleague."),
            fields={"to_owners": [_("Choose at least one colleague.")]},
        )
    if mode == Mode.ONE and len(to_owners) != 1:
        raise ApplicationError(
            _("Choose exactly one colleague to take all members."),
            fields={"to_owners": [_("Choose exactly one colleague to take all members.")]},
        )
    if any(not u.is_active or u.is_member_user for u in to_owners):
        raise ApplicationError(
            _("Members can only go to active staff."),
            fields={"to_owners": [_("Choose active staff.")]},
        )
    members = list(
        Member.objects.filter(owner=from_owner).order_by("pk").values_list("pk", "store_id")
    )
    plan = HandoverPlan()
    if mode == Mode.BY_STORE:
        by_store: dict[int, list[int]] = {}
        for u in to_owners:
            for store_id in u.stores.values_list("pk", flat=True):
                by_store.setdefault(store_id, []).append(u.pk)
        turns = {s: cycle(ids) for s, ids in by_store.items()}
        for pk, store_id in members:
            if store_id in turns:
                plan.moves.append((pk, next(turns[store_id])))
            else:
                plan.unplaced.append(pk)
    else:
        turn = cycle([u.pk for u in to_owners])
        plan.moves = [(pk, next(turn)) for pk, _store in members]
    plan.per_owner = Counter(owner for _pk, owner in plan.moves)
    return plan


@transaction.atomic
def member_handover(
    *,
    from_owner: User,
    mode: str,
    to_owners: list[User],
    actor: User | None,
    expected: int | None = None,
    request: HttpRequest | None = None,
) -> HandoverPlan:
    """Move the departing person's members, exactly those, in one transaction.

    The members are locked first (ordered by id), so an edit racing the handover waits. With
    ``expected`` (the previewed count) a plan that changed since the preview is refused.
    """
    list(
        Member.objects.select_for_update().filter(owner=from_owner).order_by("pk").values_list("pk")
    )
    plan = handover_plan(from_owner=from_owner, mode=mode, to_owners=to_owners)
    if expected is not None and expected != plan.total:
        raise ApplicationError(
            _("The members of %(name)s changed since the preview. Check the preview again.")
            % {"name": from_owner.display_name},
            code="handover_changed",
            status_code=409,
        )
    if not plan.moves:
        raise ApplicationError(_("There are no members to hand over."), code="nothing_to_hand_over")
    handover = uuid.uuid4().hex[:12]
    targets: dict[int, list[int]] = {}
    for pk, owner in plan.moves:
        targets.setdefault(owner, []).append(pk)
    stores = dict(Member.objects.filter(owner=from_owner).values_list("pk", "store_id"))
    for owner, ids in targets.items():
        Member.objects.filter(pk__in=ids).update(owner_id=owner)
    OwnershipChange.objects.bulk_create(
        [
            OwnershipChange(
                member_id=pk,
                from_owner=from_owner,
                to_owner_id=owner,
                from_store_id=stores.get(pk),
                to_store_id=stores.get(pk),
                handover=handover,
                actor=actor if actor and actor.pk else None,
            )
            for pk, owner in plan.moves
        ],
        batch_size=2000,
    )
    names = dict(User.objects.filter(pk__in=targets).values_list("pk", "name"))
    audit_record(
        actor=actor,
        action="member.handover",
        target=from_owner,
        request=request,
        after={
            "handover": handover,
            "mode": mode,
            "moved": plan.total,
            "to": {names.get(o) or str(o): n for o, n in plan.per_owner.items()},
            "left_with_owner": len(plan.unplaced),
        },
        target_label=from_owner.display_name,
    )
    events.event_record_many(
        (
            events.MEMBER_HANDED_OVER,
            pk,
            {"from_owner_id": from_owner.pk, "to_owner_id": owner, "handover": handover},
            None,
        )
        for pk, owner in plan.moves
    )
    return plan


@transaction.atomic
def member_assign_owner(
    *, member: Member, owner: User | None, actor: User | None, request: HttpRequest | None = None
) -> Member:
    """Give one member an owner (or change it), recorded on the member's timeline."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    if owner is not None and (not owner.is_active or owner.is_member_user):
        raise ApplicationError(
            _("Choose active staff."), fields={"owner": [_("Choose active staff.")]}
        )
    if member.owner_id == (owner.pk if owner else None):
        return member
    OwnershipChange.objects.create(
        member=member,
        from_owner_id=member.owner_id,
        to_owner=owner,
        from_store_id=member.store_id,
        to_store_id=member.store_id,
        actor=actor if actor and actor.pk else None,
    )
    previous = member.owner_id
    member.owner = owner
    member.save(update_fields=["owner"])
    audit_record(
        actor=actor,
        action="member.owner_changed",
        target=member,
        request=request,
        before={"owner": previous},
        after={"owner": owner.pk if owner else None},
    )
    events.event_record(
        events.MEMBER_HANDED_OVER,
        member_id=member.pk,
        from_owner_id=previous,
        to_owner_id=owner.pk if owner else None,
        handover="",
    )
    return member
