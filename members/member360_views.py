"""Member 360: everything staff know about one member, the forms that change it, handover and
privacy. Operators edit everything; clerks (their stores' members only) edit taste, skin and notes."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.access import staff_required
from accounts.models import User
from accounts.phones import InvalidPhone, normalize_phone
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
from members.selectors import member_card, members_visible_to
from members.services.members import member_update
from members.services.ownership import Mode, handover_plan, member_assign_owner, member_handover
from members.services.privacy import erasure_summary, member_erase, member_export
from members.services.profiles import (
    attribute_set,
    child_save,
    consent_set,
    marketing_opt_out,
    note_add,
    pet_save,
    profile_item_delete,
    profile_update,
    tag_add,
    tag_remove,
)
from members.timeline import KINDS, member_timeline
from scrm.exceptions import ApplicationError


def _staff_qs():
    return User.objects.filter(kind=User.Kind.STAFF, is_active=True).order_by("name", "email")


class DetailsForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100, required=False)
    email = forms.EmailField(label=gettext_lazy("Email"), required=False)
    birthday = forms.DateField(
        label=gettext_lazy("Birthday"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = list(Profile.TASTE_FIELDS + Profile.SKIN_FIELDS)
        widgets = {
            f: forms.TextInput()
            for f in ("likes", "dislikes", "allergies", "diet", "skin_concerns", "skin_sensitivity")
        }


class ChildForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=50, required=False)
    birth_date = forms.DateField(
        label=gettext_lazy("Birth date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    due_date = forms.DateField(
        label=gettext_lazy("Due date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class PetForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=50)
    species = forms.ChoiceField(label=gettext_lazy("Species"), choices=Pet.Species.choices)
    birthday = forms.DateField(
        label=gettext_lazy("Birthday"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    vaccination = forms.DateField(
        label=gettext_lazy("Last vaccination"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class ConsentForm(forms.Form):
    sms = forms.BooleanField(label=gettext_lazy("SMS"), required=False)
    email = forms.BooleanField(label=gettext_lazy("Email"), required=False)
    wecom = forms.BooleanField(label=gettext_lazy("WeCom"), required=False)
    portal = forms.BooleanField(label=gettext_lazy("Portal messages"), required=False)
    frequency = forms.ChoiceField(label=gettext_lazy("Frequency"), choices=Member.Frequency.choices)

    def save(self, member: Member, *, source: str, actor: User | None, request=None) -> None:
        d = self.cleaned_data
        consent_set(
            member=member,
            consent={c: d[c] for c in Member.CONSENT_CHANNELS},
            frequency=d["frequency"],
            source=source,
            actor=actor,
            request=request,
        )


class OwnerForm(forms.Form):
    owner = forms.ModelChoiceField(
        label=gettext_lazy("Owner"), queryset=_staff_qs(), required=False
    )


def _member_for(request: HttpRequest, code: str) -> Member:
    return get_object_or_404(
        members_visible_to(request.user).select_related("owner", "user"), code=code.upper()
    )


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
        "active": "members",
    }
    return render(request, "members/member_detail.html", context, status=status)


@staff_required("use_console")
def member_detail(request: HttpRequest, code: str) -> HttpResponse:
    return member_detail_page(request, _member_for(request, code))


def member_detail_page(request: HttpRequest, member: Member) -> HttpResponse:
    """The 360 page and its forms, for a member the caller may see."""
    if request.method != "POST":
        return _page(request, member)
    section = request.POST.get("section", "")
    manage = _can_manage(request.user)
    clerk_sections = {"profile", "note"}
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


def profile_section_post(
    request: HttpRequest, member: Member, section: str, bound: dict, actor: User | None
) -> str | None:
    """The profile sections that staff and the member alike edit: details, taste and skin,
    children, pets. Fills ``bound`` with the posted form; returns the success message, or None
    when the form has errors. A child or pet of another member is not found (404)."""
    post = request.POST
    if section == "details":
        form = bound["details"] = DetailsForm(post)
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
        item = get_object_or_404(model, pk=post.get("id") or 0, member=member)
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
        tag_remove(member=member, tag_id=int(post.get("tag_id") or 0), actor=user, request=request)
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


@staff_required("use_console", "view_audit_log")
def member_privacy_export(request: HttpRequest, code: str) -> HttpResponse:
    member = _member_for(request, code)
    if request.method != "POST":
        return redirect("members:detail", code=member.code)
    data = member_export(member=member, actor=request.user, request=request)
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="member-{member.code}.zip"'
    return response


@staff_required("use_console", "view_audit_log")
def member_privacy_erase(request: HttpRequest, code: str) -> HttpResponse:
    member = _member_for(request, code)
    if request.method != "POST":
        return redirect("members:detail", code=member.code)
    if request.POST.get("confirm_code", "").strip().upper() != member.code:
        messages.error(request, _("Type the member code to confirm the erasure."))
        return redirect("members:detail", code=member.code)
    try:
        member_erase(member=member, actor=request.user, request=request)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The member's personal data was erased."))
    return redirect("members:detail", code=member.code)


# --- Handover ---------------------------------------------------------------------------------


class HandoverForm(forms.Form):
    from_owner = forms.ModelChoiceField(
        label=gettext_lazy("Departing staff member"),
        queryset=User.objects.filter(kind=User.Kind.STAFF).order_by("name"),
    )
    mode = forms.ChoiceField(
        label=gettext_lazy("How"),
        choices=[
            (Mode.ONE, gettext_lazy("All to one colleague")),
            (Mode.ROUND_ROBIN, gettext_lazy("Evenly across colleagues (round-robin)")),
            (Mode.BY_STORE, gettext_lazy("By store: to the colleagues of each member's store")),
        ],
        widget=forms.RadioSelect,
        initial=Mode.ONE,
    )
    to_owners = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Colleagues"), queryset=_staff_qs(), widget=forms.CheckboxSelectMultiple
    )


@staff_required("use_console", "manage_members")
def handover(request: HttpRequest) -> HttpResponse:
    form = HandoverForm(request.POST or request.GET or None)
    plan = None
    error = ""
    owners = {}
    if form.is_bound and form.is_valid():
        d = form.cleaned_data
        try:
            if request.method == "POST" and request.POST.get("confirm"):
                plan = member_handover(
                    from_owner=d["from_owner"],
                    mode=d["mode"],
                    to_owners=list(d["to_owners"]),
                    actor=request.user,
                    expected=int(request.POST.get("expected") or -1),
                    request=request,
                )
                messages.success(
                    request,
                    _("%(n)s members handed over from %(name)s.")
                    % {"n": plan.total, "name": d["from_owner"].display_name},
                )
                return redirect("members:handover")
            plan = handover_plan(
                from_owner=d["from_owner"], mode=d["mode"], to_owners=list(d["to_owners"])
            )
            owners = {u.pk: u for u in d["to_owners"]}
        except ApplicationError as exc:
            error = exc.message
            for f, msgs in (exc.fields or {}).items():
                if f in form.fields:
                    for m in msgs:
                        form.add_error(f, m)
    return render(
        request,
        "members/handover.html",
        {
            "form": form,
            "plan": plan,
            "per_owner": [(owners.get(pk), n) for pk, n in plan.per_owner.most_common()]
            if plan
            else [],
            "error": error,
            "active": "handover",
        },
    )
