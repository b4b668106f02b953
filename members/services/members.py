from __future__ import annotations

import secrets
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AuditEntry, Store, User
from accounts.phones import InvalidPhone, normalize_phone
from accounts.services import (
    audit_record,
    audit_record_many,
    portal_user_get_or_create,
    snapshot,
)
from members import events
from members.models import CODE_ALPHABET, Member, Tier
from scrm.bulk import insert_arrays
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
                events.event_record(
                    events.MEMBER_ENROLLED,
                    member_id=member.pk,
                    store=store.code if store else None,
                    channel=channel,
                )
                return member, True
        except IntegrityError:
            existing = Member.objects.filter(phone=phone).first()
            if existing is not None:
                return existing, False
            # otherwise a code collision: draw another code
    raise ApplicationError(
        _("Could not allocate a member code. Try again."), code="conflict", status_code=409
    )


def member_enrol_many(
    rows: list[dict[str, Any]], *, actor: User | None = None, via: str | None = None
) -> tuple[dict[str, int], set[int]]:
    """Enrol many members at once, or find those whose phone is known: ``member_enrol`` for a
    file or a batch. Each row has a normalised ``phone`` and may have ``name``, ``email``,
    ``birthday`` (a date), ``store`` (a Store) and ``channel``. Returns the member id per phone
    and the ids enrolled now.

    On PostgreSQL it is set-based: one look-up of the phones, one INSERT from arrays (ON CONFLICT:
    a phone another request enrols meanwhile is found, not duplicated; a member code drawn twice
    is drawn again), one COPY of the audit rows. Elsewhere it calls ``member_enrol`` per row."""
    via = via or AuditEntry.Via.SYSTEM
    if not rows:
        return {}, set()
    if connection.vendor != "postgresql":
        member_of: dict[str, int] = {}
        created: set[int] = set()
        for row in rows:
            member, was_new = member_enrol(**_enrol_kwargs(row), actor=actor, via=via)
            member_of[member.phone] = member.pk
            if was_new:
                created.add(member.pk)
        return member_of, created

    member_of = dict(
        Member.objects.filter(phone__any=[r["phone"] for r in rows]).values_list("phone", "pk")
    )
    first: dict[str, dict[str, Any]] = {}  # a phone's first row decides, as one by one
    for r in rows:
        if r["phone"] not in member_of:
            first.setdefault(r["phone"], r)
    # In phone order: two batches enrolling the same phones insert them in the same order, so
    # one waits for the other instead of the two deadlocking on the unique index.
    pending = sorted(first.values(), key=lambda r: r["phone"])
    first_tier = Tier.objects.order_by("rank").values_list("pk", flat=True).first()
    now = timezone.now()
    created = set()
    audit: list[tuple[int, str, dict | None, dict | None]] = []
    enrolled: list[tuple[str, int, dict[str, Any], None]] = []
    for _attempt in range(5):
        if not pending:
            break
        kw = [_enrol_kwargs(r) for r in pending]
        inserted = insert_arrays(
            Member,
            {
                "code": _fresh_codes(len(pending)),
                "phone": [k["phone"] for k in kw],
                "phone_last4": [k["phone"][-4:] for k in kw],
                "name": [k["name"] for k in kw],
                "email": [k["email"] for k in kw],
                "birthday": [k["birthday"] for k in kw],
                "store_id": [k["store"].pk if k["store"] else None for k in kw],
                "channel": [k["channel"] for k in kw],
                "joined_at": [now] * len(kw),
                "tier_id": [first_tier] * len(kw),
            },
            skip_conflicts=True,
            returning=("id", "phone", "code"),
        )
        kw_of = {k["phone"]: k for k in kw}
        for pk, phone, code in inserted:
            member_of[phone] = pk
            created.add(pk)
            k = kw_of[phone]
            store = k["store"]
            audit.append(
                (
                    pk,
                    Member.label(k["name"], phone, code),
                    None,
                    {
                        "code": code,
                        "name": k["name"],
                        "store": str(store) if store else None,
                        "channel": k["channel"],
                    },
                )
            )
            enrolled.append(
                (
                    events.MEMBER_ENROLLED,
                    pk,
                    {"store": store.code if store else None, "channel": k["channel"]},
                    None,
                )
            )
        # Left out: enrolled meanwhile (found by phone now), or the code was taken (drawn again).
        left = [r for r in pending if r["phone"] not in member_of]
        member_of.update(
            Member.objects.filter(phone__any=[r["phone"] for r in left]).values_list("phone", "pk")
        )
        pending = [r for r in left if r["phone"] not in member_of]
    if pending:
        raise ApplicationError(
            _("Could not allocate a member code. Try again."), code="conflict", status_code=409
        )
    audit_record_many(
        actor=actor, action="member.enrolled", target_type="members.member", targets=audit, via=via
    )
    events.event_record_many(enrolled)
    return member_of, created


def _enrol_kwargs(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "phone": row["phone"],
        "name": (row.get("name") or "").strip(),
        "email": row.get("email") or "",
        "birthday": row.get("birthday"),
        "store": row.get("store"),
        "channel": row.get("channel") or Member.Channel.STORE.value,
    }


def _fresh_codes(n: int) -> list[str]:
    """``n`` distinct member codes no member has yet (one look-up per round)."""
    codes: set[str] = set()
    while len(codes) < n:
        drawn = {member_code_generate() for _ in range(n - len(codes))} - codes
        taken = set(Member.objects.filter(code__any=list(drawn)).values_list("code", flat=True))
        codes |= drawn - taken
    return list(codes)


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


def member_details_problems(data: dict, *, current_name: str = "") -> dict[str, list[str]]:
    """What is wrong with a member's name and birthday, by field (empty when nothing is): a name
    that was there cannot be emptied (a member enrolled without one stays editable), a birthday
    is not in the future nor before 1900."""
    problems: dict[str, list[str]] = {}
    if "name" in data and current_name.strip() and not str(data["name"] or "").strip():
        problems["name"] = [_("Enter a name.")]
    birthday = data.get("birthday")
    if birthday is not None and birthday > timezone.localdate():
        problems["birthday"] = [_("A birthday can't be in the future.")]
    elif birthday is not None and birthday.year < 1900:
        problems["birthday"] = [_("Enter a birthday from 1900 on.")]
    return problems


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
    problems = member_details_problems(data, current_name=member.name)
    if problems:
        raise ApplicationError(_("Some fields are not valid."), fields=problems)
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
