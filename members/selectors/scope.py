"""What an actor (``accounts.access.Actor``) may see and change of the members: decided here, once,
for the console, the counter, the API and the exports alike.

- **Browse** (lists, search by name or last four digits, segments, exports, points history,
  profile edits): the actor's stores' members; the whole brand for operators, admins and keys
  without a store; nothing for members and nobody.
- **Serve** (a purchase, a voucher or points redeemed, a gift handed over, the card): a member
  of the brand belongs to the brand, not to the store that enrolled them. A clerk or a
  store-scoped key finds any member by an exact identifier (full phone, member code, the QR
  code) and serves them in its own store; what it is shown of a member outside its stores is
  masked (phone ``138****8000``, name ``林*``), and every such look-up is audited by the caller.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.access import Actor
from accounts.phones import InvalidPhone, normalize_phone
from members.models import Member
from scrm.masking import mask_name, mask_phone


def members_browsable(actor: Actor) -> QuerySet[Member]:
    """The members the actor may list, search, export and change."""
    qs = Member.objects.select_related("store", "tier")
    if actor.store_ids is None:
        return qs
    if not actor.store_ids:
        return qs.none()
    return qs.filter(store_id__in=actor.store_ids)


def may_serve(actor: Actor) -> bool:
    """Staff and integrations serve members of the whole brand by an exact identifier."""
    return actor.is_staff_or_key


def member_to_serve(actor: Actor, *, code: str = "", phone: str = "") -> Member | None:
    """The member an exact member code or full phone names, whichever store enrolled them, for an
    actor who may serve; None when nobody has it (or the actor may not serve)."""
    if not may_serve(actor):
        return None
    qs = Member.objects.select_related("store", "tier").filter(erased_at__isnull=True)
    if code:
        return qs.filter(code=code.strip().upper()).first()
    if phone:
        try:
            return qs.filter(phone=normalize_phone(phone)).first()
        except InvalidPhone:
            return None
    return None


def in_scope(actor: Actor, member: Member) -> bool:
    """Whether the member is the actor's to browse and change (not only to serve)."""
    return actor.covers_store(member.store_id)


def card_for(actor: Actor, member: Member, card: dict[str, Any]) -> dict[str, Any]:
    """A member card as the actor may see it: masked phone and name outside the actor's stores."""
    if in_scope(actor, member):
        return card
    return {**card, "phone": mask_phone(card["phone"]), "name": mask_name(card["name"])}
