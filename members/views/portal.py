"""The member portal: home, the QR card, wallet, points, rewards, profile, preferences, privacy
and the tier rules. Every page works on the signed-in member only: no URL carries a
member id, so there is nothing to enumerate."""

from __future__ import annotations

import uuid

import segno
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from accounts.access import member_required
from members.forms import ChildForm, ConsentForm, DetailsForm, PetForm, ProfileForm
from members.models import Child, ConsentRecord, Member, Pet, PointsEntry, Profile, Reward, Voucher
from members.selectors import (
    card_progress_percent,
    loyalty_context,
    member_card,
    next_gift,
    usable_vouchers,
)
from members.selectors.cards import standing_and_tier_hold
from members.services.points import points_expiring_soon, points_redeem
from members.services.privacy import erasure_summary, member_erase, member_export
from members.services.profiles import marketing_opt_out
from members.views.profile_pages import profile_section_post
from scrm import shells
from scrm.exceptions import ApplicationError


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
    member = _portal_member(request)
    ctx = loyalty_context()
    # The standing and what keeps the tier in one query (the window's orders) for a tier by spend.
    current, hold = standing_and_tier_hold(member, tiers=ctx.tiers, settings=ctx.settings)
    card = member_card(member, tiers=ctx.tiers, current_standing=current)
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
            "progress": card_progress_percent(card, ctx.tiers),
            "gift_ahead": next_gift(member, ctx.milestones),
            "tier_hold": hold,
            "tiles": shells.portal_tiles(request),  # higher apps' tiles (the inbox's unread)
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


@member_required
def portal_vouchers(request: HttpRequest) -> HttpResponse:
    """Usable vouchers with their QR; those not usable yet with the day they start; then the used
    and expired ones (an expired voucher shows as expired even before the nightly job marks it)."""
    member = _portal_member(request)
    now = timezone.now()
    usable = list(usable_vouchers(member, now))
    vouchers = [(v, _qr_svg(v.code, 4)) for v in usable]
    upcoming = list(
        Voucher.objects.filter(member=member, status=Voucher.Status.AVAILABLE, valid_from__gt=now)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .select_related("template")
        .order_by("valid_from")
    )
    used = (
        Voucher.objects.filter(member=member)
        .filter(~Q(status=Voucher.Status.AVAILABLE) | Q(expires_at__lte=now))
        .select_related("template")
        .order_by("-issued_at")[:10]
    )
    return render(
        request,
        "portal/vouchers.html",
        {
            "member": member,
            "vouchers": vouchers,
            "upcoming": upcoming,
            "used": used,
            "now": now,
            "tab": "wallet",
        },
    )


@member_required
def portal_points(request: HttpRequest) -> HttpResponse:
    member = _portal_member(request)
    expiring, expires_at = points_expiring_soon(member)
    page = Paginator(
        PointsEntry.objects.filter(member=member).select_related("order").order_by("-id"), 20
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "portal/points.html",
        {
            "member": member,
            "page": page,
            "expiring": expiring,
            "expires_at": expires_at,
            "tab": "home",
        },
    )


@member_required
def portal_rewards(request: HttpRequest) -> HttpResponse:
    member = _portal_member(request)
    rewards = Reward.offered().select_related("voucher_template")
    if request.method == "POST":
        reward = rewards.filter(code=request.POST.get("reward", "")[:40]).first()
        if reward is None:
            messages.error(request, _("This reward is no longer offered."))
            return redirect("portal:rewards")
        token = request.POST.get("token", "")[:64] or uuid.uuid4().hex
        try:
            _entry, created = points_redeem(
                member=member,
                points=reward.points_cost,
                key=f"portal:{token}",
                reward=reward,
                actor=None,
            )
        except ApplicationError as exc:
            messages.error(
                request,
                _("Not enough points for this reward yet.")
                if exc.code == "insufficient_points"
                else exc.message,
            )
        else:
            if created:
                messages.success(
                    request,
                    _("Thank you for your donation: %(name)s.") % {"name": reward.name}
                    if reward.kind == Reward.Kind.DONATION
                    else _("Redeemed: %(name)s. Find it in your wallet or ask at the counter.")
                    % {"name": reward.name},
                )
        return redirect("portal:rewards")
    member.refresh_from_db(fields=["points_balance"])
    return render(
        request,
        "portal/rewards.html",
        {
            "member": member,
            "rewards": rewards,
            "token": uuid.uuid4().hex,
            "tab": "rewards",
        },
    )


@member_required
def portal_tiers(request: HttpRequest) -> HttpResponse:
    member = _portal_member(request)
    ctx = loyalty_context()
    return render(
        request,
        "portal/tiers.html",
        {
            "member": member,
            "tiers": ctx.tiers,
            "settings": ctx.settings,
            "milestones": [m for m in ctx.milestones if m.at_purchase or m.at_spend],
            "gift_ahead": next_gift(member, ctx.milestones),
            "tab": "home",
        },
    )


# --- Profile and preferences ------------------------------------------------------------------


@member_required
def portal_profile(request: HttpRequest) -> HttpResponse:
    member = _portal_member(request)
    profile = Profile.objects.filter(member=member).first()
    forms_ = {
        "details": DetailsForm(
            initial={"name": member.name, "email": member.email, "birthday": member.birthday}
        ),
        "profile": ProfileForm(instance=profile),
        "child": ChildForm(),
        "pet": PetForm(),
    }
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        done = None
        try:
            done = profile_section_post(
                request, member, request.POST.get("section", ""), forms_, actor=None
            )
        except ApplicationError as exc:
            errors = [m for msgs in (exc.fields or {"": [exc.message]}).values() for m in msgs]
        if done:
            messages.success(request, done)
            return redirect("portal:profile")
        status = 400
    return render(
        request,
        "portal/profile.html",
        {
            "member": member,
            "forms": forms_,
            "errors": errors,
            "children": Child.objects.filter(member=member),
            "pets": Pet.objects.filter(member=member),
            "tab": "account",
        },
        status=status,
    )


@member_required
def portal_preferences(request: HttpRequest) -> HttpResponse:
    member = _portal_member(request)
    initial = {c: getattr(member, f"consent_{c}") for c in Member.CONSENT_CHANNELS} | {
        "frequency": member.frequency
    }
    form = ConsentForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if request.POST.get("action") == "opt_out":
            marketing_opt_out(member=member, source=ConsentRecord.Source.PORTAL, actor=None)
            messages.success(request, _("Done: you will get no more marketing messages."))
            return redirect("portal:preferences")
        if form.is_valid():
            form.save(member, source=ConsentRecord.Source.PORTAL, actor=None, request=request)
            messages.success(request, _("Your preferences are saved."))
            return redirect("portal:preferences")
    return render(
        request,
        "portal/preferences.html",
        {"member": member, "form": form, "tab": "account"},
        status=400 if request.method == "POST" else 200,
    )


@member_required
def portal_privacy(request: HttpRequest) -> HttpResponse:
    member = _portal_member(request)
    error = ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "export":
            body = member_export(member=member, actor=None, request=request)
            response = HttpResponse(body, content_type="application/zip")
            stamp = timezone.localdate().isoformat()
            response["Content-Disposition"] = f'attachment; filename="my-data-{stamp}.zip"'
            return response
        if action == "delete":
            if request.POST.get("confirm", "").strip().upper() != member.code:
                error = _("Type your member code %(code)s to confirm.") % {"code": member.code}
            else:
                member_erase(member=member, actor=None, request=request)
                logout(request)
                messages.success(
                    request, _("Your account is deleted. Thank you for being with us.")
                )
                return redirect("account_request_login_code")
    return render(
        request,
        "portal/privacy.html",
        {
            "member": member,
            "summary": erasure_summary(member),
            "error": error,
            "tab": "account",
        },
        status=400 if error else 200,
    )
