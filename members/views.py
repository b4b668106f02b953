from __future__ import annotations

import segno
from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.access import member_required, staff_required
from accounts.models import Store
from accounts.selectors import stores_for_user, user_can_use_store
from accounts.services import audit_record
from members.models import Member, PointsEntry
from members.selectors import member_card, member_for_store, member_search, members_visible_to
from members.services import points_adjust
from members.services.context import loyalty_context
from scrm.exceptions import ApplicationError

# --- Console ----------------------------------------------------------------------------------


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


@staff_required("use_counter")
def counter_index(request: HttpRequest) -> HttpResponse:
    stores = list(stores_for_user(request.user))
    if len(stores) == 1:
        return redirect("counter:store", store_code=stores[0].code)
    return render(request, "counter/pick_store.html", {"stores": stores, "active": "counter"})


def _counter_store(request: HttpRequest, store_code: str) -> Store:
    store = get_object_or_404(Store, code=store_code)
    if not user_can_use_store(request.user, store):
        raise PermissionDenied
    return store


@staff_required("use_counter")
def counter_store(request: HttpRequest, store_code: str) -> HttpResponse:
    store = _counter_store(request, store_code)
    context = {"store": store, "active": "counter", "results": None, "q": ""}
    q = request.GET.get("q", "").strip()
    if q:
        context.update(_counter_results(request, store, q))
        if _straight_to_card(context):
            return redirect(_card_url(store, context))
    return render(request, "counter/store.html", context)


def _card_url(store: Store, context: dict) -> str:
    """The card of the one hit; an exact number travels along, so the card may show it in full."""
    url = reverse("counter:member", args=[store.code, context["results"][0].code])
    return url + ("?" + urlencode({"phone": context["q"]}) if context["kind"] == "phone" else "")


def _straight_to_card(context: dict) -> bool:
    """An exact number or member code (typed or scanned) with one hit opens the card at once."""
    return (
        context.get("kind") in ("phone", "code")
        and len(context.get("results") or []) == 1
        and (context["kind"] == "phone" or context["results"][0].code == context["q"].upper())
    )


def _counter_results(request: HttpRequest, store: Store, q: str) -> dict:
    qs, kind = member_for_store(store=store, q=q)
    results = list(qs[:20])
    audit_record(
        actor=request.user,
        action="counter.lookup",
        request=request,
        target=store,
        after={"query_kind": kind, "results": len(results)},
    )
    return {"results": results, "q": q, "kind": kind, "reveal_phone": kind == "phone"}


@staff_required("use_counter")
def counter_search(request: HttpRequest, store_code: str) -> HttpResponse:
    store = _counter_store(request, store_code)
    q = request.GET.get("q", "").strip()
    context = {"store": store, "results": None, "q": q}
    if q:
        context.update(_counter_results(request, store, q))
        if request.htmx and _straight_to_card(context):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = _card_url(store, context)
            return response
    if request.htmx:
        return render(request, "counter/store.html#results", context)
    return redirect(reverse("counter:store", args=[store.code]) + "?" + urlencode({"q": q}))


# --- Portal -----------------------------------------------------------------------------------


def _qr_svg(data: str, scale: int = 6) -> str:
    qr = segno.make(data, error="m")
    svg = qr.svg_inline(scale=scale, border=2, dark="#1f2430", light="#ffffff", omitsize=True)
    return mark_safe(svg)  # noqa: S308


def _portal_member(request: HttpRequest) -> Member:
    member = Member.objects.select_related("store").filter(user=request.user).first()
    if member is None:
        raise PermissionDenied
    return member


@member_required
def portal_home(request: HttpRequest) -> HttpResponse:
    from members.counter import next_gift, progress_percent
    from members.services.points import points_expiring_soon

    member = _portal_member(request)
    ctx = loyalty_context()
    card = member_card(member, tiers=ctx.tiers)
    expiring, expires_at = points_expiring_soon(member)
    return render(
        request,
        "portal/home.html",
        {
            "member": member,
            "card": card,
            "expiring": expiring,
            "expires_at": expires_at,
            "qr": _qr_svg(member.code, 5),
            "progress": progress_percent(card, ctx.tiers),
            "gift_ahead": next_gift(member, ctx.milestones),
            "tab": "home",
        },
    )


@member_required
def portal_card(request: HttpRequest) -> HttpResponse:
    member = _portal_member(request)
    return render(
        request,
        "portal/card.html",
        {"member": member, "qr": _qr_svg(member.code, 8), "tab": "card"},
    )


@member_required
def portal_account(request: HttpRequest) -> HttpResponse:
    member = _portal_member(request)
    return render(request, "portal/account.html", {"member": member, "tab": "account"})


# --- Console: a member's points --------------------------------------------------------------


class AdjustForm(forms.Form):
    points = forms.IntegerField(
        label=gettext_lazy("Points (negative to take away)"),
        min_value=-10_000_000,
        max_value=10_000_000,
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200)


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
