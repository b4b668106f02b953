"""Profile writes: taste and skin, children, pets, custom attributes, tags, notes and consent.

Each is one transaction with its audit row. Clerks may write taste, skin and notes; the caller
(view or API) decides who may call what."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from members.models import (
    AttributeDefinition,
    AttributeValue,
    Child,
    ConsentRecord,
    Member,
    MemberTag,
    Note,
    OrderLine,
    Pet,
    Profile,
    Tag,
)
from scrm.exceptions import ApplicationError

LIST_FIELDS = ("likes", "dislikes", "allergies", "skin_concerns", "skin_sensitivity", "diet")


def _tidy(value: str) -> str:
    """One item a line, trimmed, no empty lines or duplicates; commas and 、 split items too."""
    items: list[str] = []
    for part in (
        str(value or "").replace("、", "\n").replace(",", "\n").replace("，", "\n").split("\n")
    ):
        part = part.strip()
        if part and part not in items:
            items.append(part)
    return "\n".join(items)


@transaction.atomic
def profile_update(
    *,
    member: Member,
    data: dict[str, Any],
    actor: User | None,
    request: HttpRequest | None = None,
    allowed: tuple[str, ...] = Profile.TASTE_FIELDS + Profile.SKIN_FIELDS,
) -> Profile:
    profile, _created = Profile.objects.select_for_update().get_or_create(member=member)
    before = {f: getattr(profile, f) for f in allowed}
    for f in allowed:
        if f in data:
            value = data[f] or ""
            setattr(profile, f, _tidy(value) if f in LIST_FIELDS else value)
    profile.full_clean()
    after = {f: getattr(profile, f) for f in allowed}
    if after != before:
        profile.save()
        audit_record(
            actor=actor,
            action="member.profile_updated",
            target=member,
            request=request,
            before=before,
            after=after,
        )
    return profile


@transaction.atomic
def child_save(
    *,
    member: Member,
    name: str,
    birth_date: date | None,
    due_date: date | None,
    actor: User | None,
    child: Child | None = None,
    request: HttpRequest | None = None,
) -> Child:
    if birth_date is None and due_date is None:
        raise ApplicationError(
            _("Give a birth date or a due date."),
            fields={"birth_date": [_("Give a birth date or a due date.")]},
        )
    today = timezone.localdate()
    if birth_date and birth_date > today:
        raise ApplicationError(
            _("A birth date can't be in the future; use the due date."),
            fields={"birth_date": [_("A birth date can't be in the future; use the due date.")]},
        )
    child = child or Child(member=member)
    child.name, child.birth_date, child.due_date = name.strip()[:50], birth_date, due_date
    child.full_clean()
    child.save()
    audit_record(
        actor=actor,
        action="member.child_saved",
        target=member,
        request=request,
        after={
            "child": child.pk,
            "birth_date": str(birth_date or ""),
            "due_date": str(due_date or ""),
        },
    )
    return child


@transaction.atomic
def pet_save(
    *,
    member: Member,
    name: str,
    species: str,
    birthday: date | None,
    vaccinations: list[date],
    actor: User | None,
    pet: Pet | None = None,
    request: HttpRequest | None = None,
) -> Pet:
    pet = pet or Pet(member=member)
    pet.name, pet.species, pet.birthday = name.strip()[:50], species, birthday
    pet.vaccinations = sorted({d.isoformat() for d in vaccinations})
    pet.full_clean()
    pet.save()
    audit_record(
        actor=actor,
        action="member.pet_saved",
        target=member,
        request=request,
        after={"pet": pet.pk, "name": pet.name, "species": species},
    )
    return pet


@transaction.atomic
def profile_item_delete(
    *, member: Member, item: Child | Pet, actor: User | None, request: HttpRequest | None = None
) -> None:
    if item.member_id != member.pk:
        raise ApplicationError(_("Not found."), code="not_found", status_code=404)
    kind = "child" if isinstance(item, Child) else "pet"
    audit_record(
        actor=actor,
        action="member.child_deleted" if kind == "child" else "member.pet_deleted",
        target=member,
        request=request,
        before={kind: item.pk, "name": item.name},
    )
    item.delete()


@transaction.atomic
def attribute_set(
    *,
    member: Member,
    attribute: AttributeDefinition,
    value: str,
    actor: User | None,
    request: HttpRequest | None = None,
) -> AttributeValue | None:
    value = (value or "").strip()
    field = f"attr_{attribute.key}"
    if not value:
        AttributeValue.objects.filter(member=member, attribute=attribute).delete()
        return None
    row = AttributeValue.objects.filter(
        member=member, attribute=attribute
    ).first() or AttributeValue(member=member, attribute=attribute)
    row.text, row.number, row.date = "", None, None
    kind = attribute.kind
    if kind == AttributeDefinition.Kind.NUMBER:
        try:
            row.number = Decimal(value)
        except InvalidOperation:
            raise ApplicationError(
                _("Enter a number."), fields={field: [_("Enter a number.")]}
            ) from None
    elif kind == AttributeDefinition.Kind.DATE:
        from django.utils.dateparse import parse_date

        row.date = parse_date(value)
        if row.date is None:
            raise ApplicationError(
                _("Use a date such as 1990-05-20."),
                fields={field: [_("Use a date such as 1990-05-20.")]},
            )
    elif kind == AttributeDefinition.Kind.CHOICE:
        if value not in attribute.choices:
            raise ApplicationError(
                _("Choose from the list."), fields={field: [_("Choose from the list.")]}
            )
        row.text = value
    else:
        row.text = value[:300]
    row.save()
    audit_record(
        actor=actor,
        action="member.attribute_set",
        target=member,
        request=request,
        after={attribute.key: value},
    )
    return row


@transaction.atomic
def tag_add(
    *, member: Member, name: str, actor: User | None, request: HttpRequest | None = None
) -> MemberTag:
    name = name.strip()
    if not name or len(name) > 40:
        raise ApplicationError(
            _("Give a tag of 1 to 40 characters."),
            fields={"tag": [_("Give a tag of 1 to 40 characters.")]},
        )
    tag, _created = Tag.objects.get_or_create(name=name)
    link, created = MemberTag.objects.get_or_create(
        member=member, tag=tag, defaults={"added_by": actor if actor and actor.pk else None}
    )
    if created:
        audit_record(
            actor=actor, action="member.tagged", target=member, request=request, after={"tag": name}
        )
    return link


@transaction.atomic
def tag_remove(
    *, member: Member, tag_id: int, actor: User | None, request: HttpRequest | None = None
) -> None:
    link = MemberTag.objects.filter(member=member, tag_id=tag_id).select_related("tag").first()
    if link is None:
        return
    audit_record(
        actor=actor,
        action="member.untagged",
        target=member,
        request=request,
        before={"tag": link.tag.name},
    )
    link.delete()


def tags_auto_apply(*, member_ids: list[int] | None = None) -> int:
    """Automatic tags: members who bought from the tag's category get it. Set-based; returns rows added."""
    added = 0
    for tag in Tag.objects.filter(kind=Tag.Kind.AUTO).exclude(rule_category=""):
        buyers = Member.objects.filter(
            Exists(
                OrderLine.objects.filter(
                    order__member=OuterRef("pk"), product__category=tag.rule_category
                )
            )
        ).exclude(Exists(MemberTag.objects.filter(member=OuterRef("pk"), tag=tag)))
        if member_ids is not None:
            buyers = buyers.filter(pk__in=member_ids)
        rows = [
            MemberTag(member_id=pk, tag=tag)
            for pk in buyers.values_list("pk", flat=True).iterator()
        ]
        MemberTag.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)
        added += len(rows)
    return added


@transaction.atomic
def note_add(
    *, member: Member, body: str, actor: User | None, request: HttpRequest | None = None
) -> Note:
    body = (body or "").strip()
    if not body:
        raise ApplicationError(
            _("Write the note first."), fields={"body": [_("Write the note first.")]}
        )
    if len(body) > 2000:
        raise ApplicationError(
            _("At most %(n)s characters.") % {"n": 2000},
            fields={"body": [_("At most %(n)s characters.") % {"n": 2000}]},
        )
    note = Note.objects.create(
        member=member, author=actor if actor and actor.pk else None, body=body
    )
    audit_record(
        actor=actor,
        action="member.note_added",
        target=member,
        request=request,
        after={"note": note.pk},
    )
    return note


# --- Consent ----------------------------------------------------------------------------------


@transaction.atomic
def consent_set(
    *,
    member: Member,
    consent: dict[str, bool],
    source: str,
    actor: User | None,
    frequency: str | None = None,
    request: HttpRequest | None = None,
) -> Member:
    """Set consent per channel; every change is recorded with when and how it was given."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    unknown = set(consent) - set(Member.CONSENT_CHANNELS)
    if unknown:
        raise ApplicationError(
            _("Some fields are not valid."),
            fields={f"consent.{c}": [_("Unknown channel.")] for c in sorted(unknown)},
        )
    if frequency is not None and frequency not in Member.Frequency.values:
        raise ApplicationError(
            _("Some fields are not valid."), fields={"frequency": [_("Choose from the list.")]}
        )
    changed: dict[str, bool] = {}
    for channel, granted in consent.items():
        attr = f"consent_{channel}"
        if getattr(member, attr) != bool(granted):
            setattr(member, attr, bool(granted))
            changed[channel] = bool(granted)
            ConsentRecord.objects.create(
                member=member,
                channel=channel,
                granted=bool(granted),
                source=source,
                actor=actor if actor and actor.pk else None,
            )
    fields = [f"consent_{c}" for c in changed]
    if any(changed.values()) and member.marketing_opt_out:
        # Giving consent again is the member's way back in.
        member.marketing_opt_out = False
        fields.append("marketing_opt_out")
    if frequency is not None and frequency != member.frequency:
        member.frequency = frequency
        fields.append("frequency")
    if fields:
        member.save(update_fields=fields)
        audit_record(
            actor=actor,
            action="member.consent_changed",
            target=member,
            request=request,
            after={**changed, **({"frequency": frequency} if frequency else {}), "source": source},
        )
    return member


@transaction.atomic
def marketing_opt_out(
    *, member: Member, source: str, actor: User | None, request: HttpRequest | None = None
) -> Member:
    """One click: no marketing on any channel from this moment; service messages still go."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.marketing_opt_out:
        return member
    member.marketing_opt_out = True
    member.save(update_fields=["marketing_opt_out"])
    ConsentRecord.objects.create(
        member=member,
        channel="marketing",
        granted=False,
        source=source,
        actor=actor if actor and actor.pk else None,
    )
    audit_record(
        actor=actor,
        action="member.opted_out",
        target=member,
        request=request,
        after={"source": source},
    )
    return member


# --- Operator-defined attributes and tags ------------------------------------------------------


@transaction.atomic
def attribute_define(
    *,
    key: str,
    label: str,
    kind: str,
    choices: list[str],
    actor: User | None,
    request: HttpRequest | None = None,
) -> AttributeDefinition:
    """A new custom attribute for every member. The key is fixed once made (values refer to it)."""
    import re

    key, label = key.strip().lower(), _tidy(label)[:60]
    errors: dict[str, list[str]] = {}
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,39}", key):
        errors["key"] = [_("Use 2 to 40 lower-case letters, digits or _, starting with a letter.")]
    elif AttributeDefinition.objects.filter(key=key).exists():
        errors["key"] = [_("An attribute with this key exists.")]
    if not label:
        errors["label"] = [_("Give the label staff will see.")]
    if kind not in AttributeDefinition.Kind.values:
        errors["kind"] = [_("Choose a kind.")]
    choices = [c for c in dict.fromkeys(_tidy(c)[:60] for c in choices) if c]
    if kind == AttributeDefinition.Kind.CHOICE and not 2 <= len(choices) <= 50:
        errors["choices"] = [_("Give 2 to 50 choices, one per line.")]
    if errors:
        raise ApplicationError(_("Check the attribute."), fields=errors)
    attribute = AttributeDefinition.objects.create(
        key=key,
        label=label,
        kind=kind,
        choices=choices if kind == AttributeDefinition.Kind.CHOICE else [],
    )
    audit_record(
        actor=actor,
        action="attribute.created",
        target=attribute,
        request=request,
        after={"key": key, "label": label, "kind": kind, "choices": attribute.choices},
    )
    return attribute


@transaction.atomic
def attribute_delete(
    *, attribute: AttributeDefinition, actor: User | None, request: HttpRequest | None = None
) -> int:
    """Removes the attribute and every member's value of it; returns how many values went."""
    values = attribute.values.count()
    audit_record(
        actor=actor,
        action="attribute.deleted",
        target=attribute,
        request=request,
        before={"key": attribute.key, "label": attribute.label, "values": values},
    )
    attribute.delete()
    return values


@transaction.atomic
def tag_define(
    *,
    name: str,
    rule_category: str,
    actor: User | None,
    request: HttpRequest | None = None,
) -> Tag:
    """A tag; with a category it is automatic: buyers of the category get it now and every night."""
    from members.models import Product

    name, rule_category = _tidy(name), rule_category.strip()
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 40:
        errors["name"] = [_("Give a tag of 1 to 40 characters.")]
    elif Tag.objects.filter(name=name).exists():
        errors["name"] = [_("A tag with this name exists.")]
    if rule_category and not Product.objects.filter(category=rule_category).exists():
        errors["rule_category"] = [_("No product is in this category.")]
    if errors:
        raise ApplicationError(_("Check the tag."), fields=errors)
    tag = Tag.objects.create(
        name=name,
        kind=Tag.Kind.AUTO if rule_category else Tag.Kind.MANUAL,
        rule_category=rule_category,
    )
    audit_record(
        actor=actor,
        action="tag.created",
        target=tag,
        request=request,
        after={"name": name, "rule_category": rule_category},
    )
    return tag


@transaction.atomic
def tag_delete(*, tag: Tag, actor: User | None, request: HttpRequest | None = None) -> int:
    members = tag.member_tags.count()
    audit_record(
        actor=actor,
        action="tag.deleted",
        target=tag,
        request=request,
        before={"name": tag.name, "kind": tag.kind, "members": members},
    )
    tag.delete()
    return members
