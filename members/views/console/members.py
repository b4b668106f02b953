"""The console's member list and a member's points page."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.access import staff_required
from accounts.models import Store
from members.forms import AdjustForm
from members.models import Member, PointsEntry
from members.selectors import loyalty_context, member_card, member_search, members_visible_to
from members.services import points_adjust
from scrm.exceptions import ApplicationError


@staff_required("use_console", "manage_members")
def member_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    store_code = request.GET.get("store", "")
    qs = members_visible_to(request.user)
    if store_code:
        qs = qs.filter(store__code=store_code)
    tier, stage = request.GET.get("tier", ""), request.GET.get("stage", "")
    if tier:
        qs = qs.filter(tier__code=tier)
    if stage in Member.Stage.values:
        qs = qs.filter(lifecycle_stage=stage)
    qs, kind = member_search(qs=qs, q=q)
    page = Paginator(qs.order_by("-joined_at", "-id"), 25).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "q": q,
        "store": store_code,
        "kind": kind,
        "stores": Store.objects.filter(is_active=True),
        "tiers": loyalty_context().tiers,
        "tier": tier,
        "stages": Member.Stage.choices,
        "stage": stage,
        # Operators see whole numbers; others see them masked except on an exact look-up.
        "reveal_phone": request.user.has_perm("accounts.manage_members"),
        "active": "members",
    }
    if request.htmx:
        return render(request, "members/member_list.html#member-table", context)
    return render(request, "members/member_list.html", context)


# --- Counter ----------------------------------------------------------------------------------


# --- Portal -----------------------------------------------------------------------------------


@staff_required("use_console", "manage_members")
def member_points(request: HttpRequest, code: str) -> HttpResponse:
    member = get_object_or_404(members_visible_to(request.user), code=code.upper())
    form = AdjustForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            points_adjust(
                member=member,
                points=form.cleaned_data["points"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
                request=request,
            )
        except ApplicationError as exc:
            form.add_error("points" if exc.code == "insufficient_points" else None, exc.message)
        else:
            messages.success(request, _("Points adjusted."))
            return redirect("members:points", code=member.code)
    entries = Paginator(
        PointsEntry.objects.filter(member=member).select_related("actor", "order"), 30
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "members/member_points.html",
        {
            "member": member,
            "card": member_card(member),
            "form": form,
            "page": entries,
            "active": "members",
        },
    )
