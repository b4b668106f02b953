from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.models import Store, User
from accounts.phones import InvalidPhone, normalize_phone
from accounts.services import audit_record, portal_user_get_or_create, snapshot
from members import events
from members.models import CODE_ALPHABET, Member, Tier
from scrm.exceptions import ApplicationError


def member_code_generate() -> str:
    return "M" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


def member_enrol(
    *,
    phone: str,
    name: str = "",
    store: Store | None = None,
    channel: str = Member.Channel.STORE,
    email: str = "",
    birthday=None,
    actor: User | None = None,
    request: HttpRequest | None = None,
    via: str | None = None,
) -> tuple[Member, bool]:
    """Enrol a member, or find the one with this phone. Returns ``(member, created)``.

    Safe under concurrent calls for one phone: the unique phone decides, the loser finds the winner.
    """
    try:
        phone = normalize_phone(phone)
    except InvalidPhone as exc:
        raise ApplicationError(str(exc), fields={"phone": [str(exc)]}) from exc
    existing = Member.objects.filter(phone=phone).first()
    if existing is not None:
        return existing, False
    if channel not in Member.Channel.values:
        raise ApplicationError(_("Unknown channel."), fields={"channel": [_("Unknown channel.")]})
    for _attempt in range(5):
        try:
            with transaction.atomic():
                member = Member(
                    code=member_code_generate(),
                    phone=phone,
                    name=name.strip(),
                    store=store,
                    channel=channel,
                    tier=Tier.objects.order_by("rank").first(),
                    email=email,
                    birthday=birthday,
                )
                member.full_clean(validate_unique=False)
                member.save()
                audit_record(
                    actor=actor,
                    action="member.enrolled",
                    target=member,
                    after=snapshot(member, ["code", "name", "store", "channel"]),
                    request=request,
                    via=via,
                )
                events.send_on_commit(events.member_enrolled, member_id=member.pk)
                return member, True
        except IntegrityError:
            existing = Member.objects.filter(phone=phone).first()
            if existing is not None:
                return existing, False
            # otherwise a code collision: draw another code
    raise ApplicationError(
        _("Could not allocate a member code. Try again."), code="conflict", status_code=409
    )


def member_portal_user(phone: str) -> User | None:
    """Resolver for portal sign-in: an enrolled member gets a login on first sign-in."""
    with transaction.atomic():
        member = Member.objects.select_for_update().filter(phone=phone).first()
        if member is None:
            return None
        if member.user_id is not None:
            user = member.user
            return user if user is not None and user.is_active else None
        user = portal_user_get_or_create(phone=phone, name=member.name)
        member.user = user
        member.save(update_fields=["user"])
        return user


@transaction.atomic
def member_update(
    *,
    member: Member,
    data: dict,
    actor: User | None = None,
    request: HttpRequest | None = None,
    via: str | None = None,
) -> Member:
    """Update profile fields a member, an operator or an integration may change; audited."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    fields = [f for f in ("name", "email", "birthday") if f in data]
    before = snapshot(member, fields)
    for f in fields:
        setattr(member, f, data[f].strip() if isinstance(data[f], str) else data[f])
    member.full_clean(exclude=["user", "tier", "store"])
    member.save(update_fields=fields)
    audit_record(
        actor=actor,
        action="member.updated",
        target=member,
        before=before,
        after=snapshot(member, fields),
        request=request,
        via=via,
    )
    return member
