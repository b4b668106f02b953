"""A member's data: a download of everything held about them, and erasure that anonymises the
person but keeps amounts for the statistics. Both audited; both open to the member and to an admin."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from members import events
from members.models import (
    AttributeValue,
    Child,
    ConsentRecord,
    GiftGrant,
    Member,
    MemberTag,
    Note,
    Order,
    Pet,
    PointsEntry,
    Profile,
    Voucher,
)
from members.services.points import points_adjust
from scrm.csv_safe import csv_text
from scrm.exceptions import ApplicationError


def _csv(rows: list[list[Any]]) -> str:
    return csv_text(rows)


def _iso(value) -> str:
    return value.isoformat() if value else ""


def member_export(
    *, member: Member, actor: User | None, request: HttpRequest | None = None
) -> bytes:
    """A zip of JSON and CSV with everything held about the member."""
    profile = Profile.objects.filter(member=member).first()
    data = {
        "member": {
            "code": member.code,
            "phone": member.phone,
            "name": member.name,
            "email": member.email,
            "birthday": _iso(member.birthday),
            "store": member.store.code if member.store else None,
            "channel": member.channel,
            "joined_at": _iso(member.joined_at),
            "tier": member.tier.code if member.tier else None,
            "points_balance": member.points_balance,
            "purchase_count": member.purchase_count,
            "lifetime_spend": str(member.lifetime_spend),
            "lifecycle_stage": member.lifecycle_stage,
            "owner": member.owner.display_name if member.owner else None,
        },
        "consent": {c: getattr(member, f"consent_{c}") for c in Member.CONSENT_CHANNELS}
        | {"marketing_opt_out": member.marketing_opt_out, "frequency": member.frequency},
        "consent_history": [
            {
                "channel": r.channel,
                "granted": r.granted,
                "source": r.source,
                "at": _iso(r.created_at),
            }
            for r in ConsentRecord.objects.filter(member=member).order_by("created_at")
        ],
        "profile": {f: getattr(profile, f) for f in Profile.TASTE_FIELDS + Profile.SKIN_FIELDS}
        if profile
        else {},
        "children": [
            {
                "name": c.name,
                "birth_date": _iso(c.birth_date),
                "due_date": _iso(c.due_date),
                "stage": c.stage(),
            }
            for c in Child.objects.filter(member=member)
        ],
        "pets": [
            {
                "name": p.name,
                "species": p.species,
                "birthday": _iso(p.birthday),
                "vaccinations": p.vaccinations,
            }
            for p in Pet.objects.filter(member=member)
        ],
        "attributes": {
            v.attribute.label: str(v.value)
            for v in AttributeValue.objects.filter(member=member).select_related("attribute")
        },
        "tags": list(MemberTag.objects.filter(member=member).values_list("tag__name", flat=True)),
        "notes": [
            {"at": _iso(n.created_at), "note": n.body} for n in Note.objects.filter(member=member)
        ],
        "gifts": [
            {"name": g.name, "status": g.status, "granted_at": _iso(g.granted_at)}
            for g in GiftGrant.objects.filter(member=member)
        ],
    }
    orders: list[list[Any]] = [
        [
            "source",
            "external_id",
            "placed_at",
            "store",
            "total",
            "refunded",
            "status",
            "points_earned",
        ]
    ]
    for o in Order.objects.filter(member=member).select_related("store").order_by("placed_at"):
        orders.append(
            [
                o.source,
                o.external_id,
                _iso(o.placed_at),
                o.store.code if o.store else "",
                o.total,
                o.refunded_amount,
                o.status,
                o.points_earned,
            ]
        )
    points: list[list[Any]] = [["at", "kind", "points", "balance_after", "reason"]]
    for e in PointsEntry.objects.filter(member=member).order_by("created_at", "id"):
        points.append([_iso(e.created_at), e.kind, e.points, e.balance_after, e.reason_text])
    vouchers: list[list[Any]] = [["code", "name", "status", "issued_at", "expires_at"]]
    for v in Voucher.objects.filter(member=member).select_related("template"):
        vouchers.append([v.code, v.template.name, v.status, _iso(v.issued_at), _iso(v.expires_at)])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("member.json", json.dumps(data, ensure_ascii=False, indent=2))
        z.writestr("orders.csv", _csv(orders))
        z.writestr("points.csv", _csv(points))
        z.writestr("vouchers.csv", _csv(vouchers))
    audit_record(actor=actor, action="member.exported", target=member, request=request)
    return buf.getvalue()


def erasure_summary(member: Member) -> dict[str, int]:
    """What erasure voids, for the confirmation: points and usable vouchers."""
    return {
        "points": member.points_balance,
        "vouchers": Voucher.objects.filter(member=member, status=Voucher.Status.AVAILABLE).count(),
        "gifts": GiftGrant.objects.filter(member=member, status=GiftGrant.Status.PENDING).count(),
    }


@transaction.atomic
def member_erase(
    *, member: Member, actor: User | None, request: HttpRequest | None = None
) -> Member:
    """Anonymise the member: personal data gone, orders and amounts kept (with no person behind
    them), points and vouchers void, portal login closed. Cannot be undone."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.erased_at:
        raise ApplicationError(
            _("This member's data has already been erased."), code="already_erased", status_code=409
        )
    voided = erasure_summary(member)
    if member.points_balance:
        points_adjust(
            member=member,
            points=-member.points_balance,
            reason=_("Account closed"),
            reason_code="closed",
            actor=actor,
            key=f"erase:{member.pk}",
        )
        member.refresh_from_db()
    Voucher.objects.filter(member=member, status=Voucher.Status.AVAILABLE).update(
        status=Voucher.Status.VOID
    )
    GiftGrant.objects.filter(member=member, status=GiftGrant.Status.PENDING).update(
        status=GiftGrant.Status.CANCELLED
    )
    for model in (Profile, Child, Pet, AttributeValue, MemberTag, Note):
        model.objects.filter(member=member).delete()
    user = member.user
    member.name = ""
    member.email = ""
    member.birthday = None
    member.phone = f"+999{member.pk:011d}"  # unassigned country code: unique, never dialled
    member.user = None
    member.owner = None
    for c in Member.CONSENT_CHANNELS:
        setattr(member, f"consent_{c}", False)
    member.marketing_opt_out = True
    member.erased_at = timezone.now()
    member.save()
    if user is not None:
        user.is_active = False
        # A member login must keep a phone (a database rule): the same never-dialled placeholder.
        user.phone = member.phone if user.kind == user.Kind.MEMBER else None
        user.email = None
        user.set_unusable_password()
        user.name = ""
        user.save()
    audit_record(
        actor=actor,
        action="member.erased",
        target=member,
        request=request,
        after={"voided_points": voided["points"], "voided_vouchers": voided["vouchers"]},
        target_label=member.code,
    )
    events.event_record(events.MEMBER_ERASED, member_id=member.pk)
    return member
