"""The Member 360 page and the profile sections, shared by the shells: operators open it in the
console, clerks reach it from the counter's card (taste, skin and notes are theirs to edit), and
the portal's profile page saves the same sections through the same handler."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.phones import InvalidPhone, normalize_phone
from members.forms import ChildForm, ConsentForm, DetailsForm, OwnerForm, PetForm, ProfileForm
from members.models import (
    AttributeDefinition,
    AttributeValue,
    Child,
    ConsentRecord,
    Member,
    MemberTag,
    Note,
    Pet,
    Profile,
)
from members.selectors import member_card
from members.selectors.timeline import KINDS, member_timeline
from members.services.members import member_update
from members.services.ownership import member_assign_owner
from members.services.privacy import erasure_summary
from members.services.profiles import (
    attribute_set,
    child_save,
    marketing_opt_out,
    note_add,
    pet_save,
    profile_item_delete,
    profile_update,
    tag_add,
    tag_remove,
)
from scrm import shells
from scrm.exceptions import ApplicationError
from scrm.parsing import int_or_none


def _can_manage(user: User) -> bool:
    return user.has_perm("accounts.manage_members")


def _page(
    request: HttpRequest, member: Member, bound: dict | None = None, status: int = 200
) -> HttpResponse:
    bound = bound or {}
    manage = _can_manage(request.user)
    window = request.GET.get("window", "")
    since = timezone.now() - timedelta(days=int(window)) if window in ("30", "90", "365") else None
    kind = request.GET.get("kind", "")
    timeline = member_timeline(
        member, kinds=[kind] if kind in KINDS else None, since=since, limit=60
    )
    profile = Profile.objects.filter(member=member).first()
    attributes = list(AttributeDefinition.objects.all())
    values = {
        v.attribute_id: v
        for v in AttributeValue.objects.filter(member=member).select_related("attribute")
    }
    # Clerks see masked phones, except when they looked this member up by the exact number.
    reveal = manage
    if not reveal and request.GET.get("phone"):
        try:
            reveal = normalize_phone(request.GET["phone"]) == member.phone
        except InvalidPhone:
            reveal = False
    context = {
        "member": member,
        "card": member_card(member),
        "manage": manage,
        "is_admin": request.user.has_perm("accounts.view_audit_log"),
        "reveal_phone": reveal,
        "timeline": timeline,
        "kinds": list(KINDS.items()),
        "kind": kind,
        "window": window,
        "profile": profile,
        "children": list(Child.objects.filter(member=member)),
        "pets": list(Pet.objects.filter(member=member)),
        "tags": list(MemberTag.objects.filter(member=member).select_related("tag")),
        "notes": list(Note.objects.filter(member=member).select_related("author")[:5]),
        "attributes": [(a, values.get(a.pk)) for a in attributes],
        "consent_history": list(ConsentRecord.objects.filter(member=member)[:5]),
        "details_form": bound.get("details")
        or DetailsForm(
            initial={"name": member.name, "email": member.email, "birthday": member.birthday}
        ),
        "profile_form": bound.get("profile") or ProfileForm(instance=profile),
        "child_form": bound.get("child") or ChildForm(),
        "pet_form": bound.get("pet") or PetForm(),
        "consent_form": bound.get("consent")
        or ConsentForm(
            initial={c: getattr(member, f"consent_{c}") for c in Member.CONSENT_CHANNELS}
            | {"frequency": member.frequency}
        ),
        "owner_form": bound.get("owner") or OwnerForm(initial={"owner": member.owner_id}),
        "errors": bound.get("errors", []),
        "erasure": erasure_summary(member)
        if request.user.has_perm("accounts.view_audit_log")
        else None,
        "member_links": shells.member_links(request.user, member),  # higher apps' pages
        "active": "members",
    }
    return render(request, "members/member_detail.html", context, status=status)


def member_detail_page(request: HttpRequest, member: Member) -> HttpResponse:
    """The 360 page and its forms, for a member the caller may see."""
    if request.method != "POST":
        return _page(request, member)
    section = request.POST.get("section", "")
    manage = _can_manage(request.user)
    clerk_sections = {"profile", "note"}
    if section not in SECTIONS:
        return _page(request, member, {"errors": [_("Unknown action.")]}, status=400)
    if section not in clerk_sections and not manage:
        raise PermissionDenied
    if member.erased_at:
        messages.error(request, _("This member's data has been erased."))
        return redirect(request.path)
    bound: dict = {}
    try:
        done = _handle(request, member, section, bound)
    except ApplicationError as exc:
        bound["errors"] = [m for msgs in (exc.fields or {"": [exc.message]}).values() for m in msgs]
        done = None
    if done:
        messages.success(request, done)
        return redirect(request.path)
    return _page(request, member, bound, status=400)


PROFILE_SECTIONS = ("details", "profile", "child", "pet", "child_delete", "pet_delete")
SECTIONS = (*PROFILE_SECTIONS, "consent", "optout", "tag", "untag", "note", "owner", "attributes")


def profile_section_post(
    request: HttpRequest, member: Member, section: str, bound: dict, actor: User | None
) -> str | None:
    """The profile sections that staff and the member alike edit: details, taste and skin,
    children, pets. Fills ``bound`` with the posted form; returns the success message, or None
    when the form has errors. A child or pet of another member is not found (404)."""
    post = request.POST
    if section == "details":
        form = bound["details"] = DetailsForm(post, initial={"name": member.name})
        if form.is_valid():
            member_update(member=member, data=form.cleaned_data, actor=actor, request=request)
            return _("Details saved.")
    elif section == "profile":
        form = bound["profile"] = ProfileForm(post, instance=Profile(member=member))
        if form.is_valid():
            profile_update(member=member, data=form.cleaned_data, actor=actor, request=request)
            return _("Profile saved.")
    elif section == "child":
        form = bound["child"] = ChildForm(post)
        if form.is_valid():
            child_save(member=member, actor=actor, request=request, **form.cleaned_data)
            return _("Child added.")
    elif section == "pet":
        form = bound["pet"] = PetForm(post)
        if form.is_valid():
            d = form.cleaned_data
            pet_save(
                member=member,
                name=d["name"],
                species=d["species"],
                birthday=d["birthday"],
                vaccinations=[d["vaccination"]] if d["vaccination"] else [],
                actor=actor,
                request=request,
            )
            return _("Pet added.")
    elif section in ("child_delete", "pet_delete"):
        model = Child if section == "child_delete" else Pet
        item = get_object_or_404(model, pk=int_or_none(post.get("id")) or 0, member=member)
        profile_item_delete(member=member, item=item, actor=actor, request=request)
        return _("Removed.")
    return None


def _handle(request: HttpRequest, member: Member, section: str, bound: dict) -> str | None:
    user, post = request.user, request.POST
    if section in PROFILE_SECTIONS:
        return profile_section_post(request, member, section, bound, user)
    elif section == "consent":
        form = bound["consent"] = ConsentForm(post)
        if form.is_valid():
            form.save(member, source=ConsentRecord.Source.CONSOLE, actor=user, request=request)
            return _("Consent saved.")
    elif section == "optout":
        marketing_opt_out(
            member=member, source=ConsentRecord.Source.CONSOLE, actor=user, request=request
        )
        return _("Opted out of all marketing.")
    elif section == "tag":
        tag_add(member=member, name=post.get("tag", ""), actor=user, request=request)
        return _("Tag added.")
    elif section == "untag":
        tag_remove(
            member=member, tag_id=int_or_none(post.get("tag_id")) or 0, actor=user, request=request
        )
        return _("Tag removed.")
    elif section == "note":
        note_add(member=member, body=post.get("body", ""), actor=user, request=request)
        return _("Note added.")
    elif section == "owner":
        form = bound["owner"] = OwnerForm(post)
        if form.is_valid():
            member_assign_owner(
                member=member, owner=form.cleaned_data["owner"], actor=user, request=request
            )
            return _("Owner changed.")
    elif section == "attributes":
        for attribute in AttributeDefinition.objects.all():
            if f"attr_{attribute.key}" in post:
                attribute_set(
                    member=member,
                    attribute=attribute,
                    value=post[f"attr_{attribute.key}"],
                    actor=user,
                    request=request,
                )
        return _("Attributes saved.")
    else:
        raise ApplicationError(_("Unknown action."))
    return None
