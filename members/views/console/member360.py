"""Member 360 in the console: the page (``profile_pages``), privacy (download, erase) and the
handover of a departing colleague's members."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.access import staff_required
from members.forms import HandoverForm
from members.models import Member
from members.selectors import members_visible_to
from members.services.ownership import handover_plan, member_handover
from members.services.privacy import member_erase, member_export
from members.views.profile_pages import member_detail_page
from scrm.exceptions import ApplicationError
from scrm.parsing import int_or_none


def _member_for(request: HttpRequest, code: str) -> Member:
    return get_object_or_404(
        members_visible_to(request.user).select_related("owner", "user"), code=code.upper()
    )


@staff_required("use_console")
def member_detail(request: HttpRequest, code: str) -> HttpResponse:
    return member_detail_page(request, _member_for(request, code))


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
                    expected=int_or_none(request.POST.get("expected"), minimum=-1) or -1,
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
