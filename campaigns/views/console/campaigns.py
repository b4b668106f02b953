"""Campaigns in the console: the list, the editor, a campaign's page (message previews on sample
members, the dry run, launch and cancel with a confirmation), its results against the holdout with
the members behind every figure, and the brand's own days for the calendar."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import actor_of, staff_required
from campaigns import templating
from campaigns.forms import BrandDayForm, CampaignForm
from campaigns.models import BrandDay, Campaign, CampaignMember, Message
from campaigns.models.messages import Channel
from campaigns.selectors import campaigns as selectors
from campaigns.services import campaigns as services
from campaigns.services.outbox import member_context
from scrm.exceptions import ApplicationError, form_errors_add
from scrm.masking import mask_name, mask_phone
from scrm.parsing import int_or_none, typed

VIEW = ("use_console",)
PERMS = ("use_console", "manage_members")
PAGE_SIZE = 50
STATUS_BADGES = {
    "draft": "",
    "scheduled": "badge-brand",
    "running": "badge-ok",
    "finished": "badge-gold",
    "cancelled": "badge-err",
}


def _whole_brand(request: HttpRequest) -> None:
    """Campaigns reach the whole brand's members: store-bound staff may not run them."""
    if not actor_of(request).whole_brand:
        raise Http404


def _campaign(request: HttpRequest, pk: int) -> Campaign:
    _whole_brand(request)
    return get_object_or_404(
        Campaign.objects.select_related("segment", "offer", "owner", "created_by"), pk=pk
    )


# --- The list ----------------------------------------------------------------------------------


@staff_required(*VIEW)
def campaign_list(request: HttpRequest) -> HttpResponse:
    _whole_brand(request)
    q = typed(request.GET.get("q", ""))[:60]
    status = request.GET.get("status", "")
    qs = Campaign.objects.select_related("owner").order_by("-starts_at", "-id")
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(occasion__icontains=q))
    if status in Campaign.Status.values:
        qs = qs.filter(status=status)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    for c in page.object_list:
        c.badge = STATUS_BADGES.get(c.status, "")
        lift = (c.results or {}).get("lift") or {}
        c.lift_text = lift.get("absolute")
        c.lift_significant = lift.get("significant")
    return render(
        request,
        "campaigns/campaign_list.html",
        {
            "active": "campaigns",
            "page": page,
            "q": q,
            "status": status,
            "statuses": Campaign.Status.choices,
        },
    )


# --- The editor --------------------------------------------------------------------------------


def _initial_from_calendar(request: HttpRequest) -> dict[str, Any]:
    """A campaign planned from the calendar: named after the occasion, starting three days
    before it at 10:00, with the shipped defaults."""
    initial: dict[str, Any] = {"kind": "promotion", "channels": ["portal"], "repeat": "once"}
    raw = request.GET.get("date", "")
    try:
        day = date.fromisoformat(raw) if raw else None
    except ValueError:
        day = None
    if day is not None and 2000 <= day.year <= 2100:
        occasion = typed(request.GET.get("occasion", ""))[:60]
        start = max(day - timedelta(days=3), timezone.localdate())
        initial |= {
            "occasion": occasion,
            "occasion_date": day,
            "name": occasion,
            "starts_at": datetime.combine(start, time(10, 0)),
        }
    return initial


@staff_required(*PERMS)
def campaign_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    _whole_brand(request)
    campaign = _campaign(request, pk) if pk is not None else None
    if campaign is not None and not campaign.is_editable:
        messages.error(request, _("A campaign that has started can no longer be changed."))
        return redirect("campaigns:detail", campaign.pk)
    if request.method == "POST":
        form = CampaignForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                saved = services.campaign_save(
                    data=form.data_for_service(keep_list=campaign is not None),
                    actor=request.user,
                    campaign=campaign,
                    request=request,
                )
            except ApplicationError as exc:
                _errors_onto(form, exc)
            else:
                if campaign is not None and campaign.status == Campaign.Status.SCHEDULED:
                    messages.warning(
                        request,
                        _("Saved. The campaign is a draft again: run the dry run and launch it."),
                    )
                else:
                    messages.success(request, _("Campaign saved."))
                return redirect("campaigns:detail", saved.pk)
    else:
        initial = (
            CampaignForm.initial_of(campaign)
            if campaign is not None
            else _initial_from_calendar(request)
        )
        form = CampaignForm(initial=initial)
    return render(
        request,
        "campaigns/campaign_form.html",
        {
            "active": "campaigns",
            "form": form,
            "campaign": campaign,
            "variables": list(templating.VARIABLES),
            "channel_fields": [
                ("sms", [form["sms_template"], form["sms_body"]]),
                ("email", [form["email_template"], form["email_subject"], form["email_body"]]),
                ("wecom", [form["wecom_template"], form["wecom_body"]]),
                ("portal", [form["portal_template"], form["portal_body"]]),
            ],
        },
    )


def _errors_onto(form: CampaignForm, exc: ApplicationError) -> None:
    """The service's field names onto the form's (``sms_body``, ``audience`` ...)."""
    names = {"subject": "email_subject", "email_subject": "email_subject", "audience": "segment"}
    fields = {}
    for name, errors in (exc.fields or {"": [exc.message]}).items():
        target = names.get(name, name)
        fields[target if target in form.fields else ""] = errors
    if "members" in (exc.fields or {}):
        fields["members"] = exc.fields["members"]
    form_errors_add(form, ApplicationError(exc.message, fields=fields))


# --- A campaign's page ---------------------------------------------------------------------------


def _previews(campaign: Campaign) -> list[dict[str, Any]]:
    """Each channel's text as three members of the audience will read it."""
    sample = list(
        selectors.audience_reachable(campaign).select_related("store", "tier").order_by("pk")[:3]
    )
    out = []
    for m in campaign.messages.all():
        rendered = []
        for member in sample:
            context = member_context(
                member, {"voucher": campaign.offer.name if campaign.offer else ""}
            )
            rendered.append(
                {
                    "who": mask_name(member.name) or member.code,
                    "code": member.code,
                    "text": templating.render(m.body, context),
                    "subject": templating.render(m.subject, context),
                }
            )
        _length, parts = templating.sms_parts(m.body) if m.channel == "sms" else (0, 0)
        out.append(
            {
                "channel": m.channel,
                "label": dict(Channel.choices).get(m.channel, m.channel),
                "body": m.body,
                "subject": m.subject,
                "samples": rendered,
                "parts": parts,
            }
        )
    return out


def _dry_run_view(campaign: Campaign) -> dict[str, Any] | None:
    """The stored dry run, with labels for the page."""
    d = campaign.dry_run
    if not d:
        return None
    labels = dict(Channel.choices)
    rows = [
        dict(line, label=labels.get(line["channel"], line["channel"])) for line in d["channels"]
    ]
    zh = (translation.get_language() or "").startswith("zh")
    warnings = []
    for w in d.get("warnings", []):
        w = dict(w)
        if w["code"] == "holiday_quiet_hours":
            w["holiday"] = w["holiday_zh"] if zh else w["holiday_en"]
            w["until_dt"] = datetime.fromisoformat(w["until"])
        warnings.append(w)
    return {
        **d,
        "rows": rows,
        "warnings": warnings,
        "at_dt": datetime.fromisoformat(d["at"]),
        "send_at_dt": datetime.fromisoformat(d["send_at"]),
    }


@staff_required(*VIEW)
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    campaign.badge = STATUS_BADGES.get(campaign.status, "")
    return render(
        request,
        "campaigns/campaign_detail.html",
        {
            "active": "campaigns",
            "campaign": campaign,
            "previews": _previews(campaign),
            "dry": _dry_run_view(campaign),
            "rounds": campaign.round_starts(),
            "can_change": request.user.has_perm("accounts.manage_members"),
            "list_size": campaign.uses_list and selectors.audience_all(campaign).count(),
        },
    )


@staff_required(*PERMS)
@require_POST
def campaign_dry_run(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    if campaign.status != Campaign.Status.DRAFT:
        messages.error(request, _("The dry run is for drafts: this campaign was launched already."))
    else:
        services.campaign_dry_run_save(campaign=campaign)
        messages.success(request, _("Dry run done: nothing was sent."))
    return redirect(reverse("campaigns:detail", args=[campaign.pk]) + "#dry-run")


@staff_required(*PERMS)
@require_POST
def campaign_launch(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    try:
        campaign = services.campaign_launch(campaign=campaign, actor=request.user, request=request)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        if campaign.status == Campaign.Status.SCHEDULED:
            messages.success(
                request,
                _("Launched: %(n)s members will get the messages when the campaign starts.")
                % {"n": f"{campaign.treatment_count:,}"},
            )
        else:
            messages.success(
                request,
                _("Launched: %(n)s members get the messages now; %(h)s are held out.")
                % {"n": f"{campaign.treatment_count:,}", "h": f"{campaign.holdout_count:,}"},
            )
    return redirect("campaigns:detail", campaign.pk)


@staff_required(*PERMS)
@require_POST
def campaign_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    try:
        services.campaign_cancel(campaign=campaign, actor=request.user, request=request)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Campaign cancelled: the sends not yet made were stopped."))
    return redirect("campaigns:detail", campaign.pk)


# --- Results -----------------------------------------------------------------------------------


@staff_required(*VIEW)
def campaign_results(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    if campaign.launched_at is None:
        messages.info(request, _("Results come once the campaign is launched."))
        return redirect("campaigns:detail", campaign.pk)
    r = services.campaign_results_current(campaign)
    chart = {
        "days": r["daily"]["days"],
        "treatment": r["daily"]["treatment"],
        "holdout": r["daily"]["holdout"],
        "labels": {"treatment": _("Treatment"), "holdout": _("Holdout")},
    }
    return render(
        request,
        "campaigns/campaign_results.html",
        {
            "active": "campaigns",
            "campaign": campaign,
            "r": r,
            "chart": chart,
            "as_of": campaign.results_at,
            "window_start": datetime.fromisoformat(r["window"]["start"]),
            "window_end": datetime.fromisoformat(r["window"]["end"]),
            "frozen": campaign.status == Campaign.Status.FINISHED,
            "pct": {k: _percent(r[k]["conversion_rate"]) for k in ("treatment", "holdout")},
            "lift_pct": _percent(r["lift"]["absolute"]),
            "ci_pct": [_percent(x) for x in (r["lift"]["ci95"] or [])],
            "relative_pct": _percent(r["lift"]["relative"]),
            "daily_rows": [
                (day, _percent(t), _percent(h))
                for day, t, h in zip(
                    r["daily"]["days"], r["daily"]["treatment"], r["daily"]["holdout"], strict=True
                )
            ],
            "message_rows": [
                (label, r["messages"].get(value, 0)) for value, label in Message.Status.choices
            ],
        },
    )


def _percent(x: str | None) -> str | None:
    """A rate as percent points with one decimal: "0.1340" -> "13.4"."""
    if x is None:
        return None
    from decimal import ROUND_HALF_UP, Decimal

    return str((Decimal(x) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@staff_required(*VIEW)
@require_POST
def campaign_results_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    if campaign.launched_at is not None and campaign.status != Campaign.Status.FINISHED:
        services.campaign_results_refresh(campaign)
    return redirect("campaigns:results", campaign.pk)


@staff_required(*VIEW)
def campaign_members(request: HttpRequest, pk: int) -> HttpResponse:
    """The members behind a figure, a page at a time (no count over a million rows: the figure
    itself is the count)."""
    campaign = _campaign(request, pk)
    group = request.GET.get("group", "treatment")
    if group not in CampaignMember.Group.values:
        group = "treatment"
    which = request.GET.get("which", "all")
    if which not in selectors.DRILL:
        which = "all"
    number = max(1, min(int_or_none(request.GET.get("page")) or 1, 10_000))
    rows = list(
        selectors.campaign_members(campaign, group=group, which=which)[
            (number - 1) * PAGE_SIZE : number * PAGE_SIZE + 1
        ]
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    statuses = selectors.message_statuses(campaign, [r.member_id for r in rows])
    for r in rows:
        r.name_masked = mask_name(r.member.name)
        r.phone_masked = mask_phone(r.member.phone)
        r.message_status = statuses.get(r.member_id, "")
    return render(
        request,
        "campaigns/campaign_members.html",
        {
            "active": "campaigns",
            "campaign": campaign,
            "rows": rows,
            "group": group,
            "which": which,
            "number": number,
            "more": more,
            "groups": CampaignMember.Group.choices,
            "filters": [
                ("all", _("Everyone")),
                ("converted", _("Converted")),
                ("not_converted", _("Not converted")),
                ("sent", _("Sent a message")),
                ("not_sent", _("Not sent")),
            ],
        },
    )


# --- The brand's own days ---------------------------------------------------------------------


@staff_required(*VIEW)
def brand_days(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    day = get_object_or_404(BrandDay, pk=pk) if pk is not None else None
    if request.method == "POST":
        if not request.user.has_perm("accounts.manage_members"):
            raise Http404
        if request.POST.get("action") == "delete" and day is not None:
            services.brand_day_delete(day=day, actor=request.user, request=request)
            messages.success(request, _("Day removed from the calendar."))
            return redirect("campaigns:days")
        form = BrandDayForm(request.POST)
        if form.is_valid():
            try:
                services.brand_day_save(
                    data=form.cleaned_data, actor=request.user, day=day, request=request
                )
            except ApplicationError as exc:
                form_errors_add(form, exc)
            else:
                messages.success(request, _("Day saved: it shows on the calendar."))
                return redirect("campaigns:days")
    else:
        initial = (
            {f: getattr(day, f) for f in ("name", "kind", "date", "repeat", "note")}
            | {"store": day.store_id}
            if day is not None
            else {"repeat": "yearly", "kind": "member_day"}
        )
        form = BrandDayForm(initial=initial)
    page = Paginator(BrandDay.objects.select_related("store"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "campaigns/brand_days.html",
        {"active": "campaigns", "form": form, "day": day, "page": page},
    )


urlpatterns = [
    path("all/", campaign_list, name="list"),
    path("new/", campaign_edit, name="new"),
    path("<int:pk>/", campaign_detail, name="detail"),
    path("<int:pk>/edit/", campaign_edit, name="edit"),
    path("<int:pk>/dry-run/", campaign_dry_run, name="dry_run"),
    path("<int:pk>/launch/", campaign_launch, name="launch"),
    path("<int:pk>/cancel/", campaign_cancel, name="cancel"),
    path("<int:pk>/results/", campaign_results, name="results"),
    path("<int:pk>/results/refresh/", campaign_results_refresh, name="results_refresh"),
    path("<int:pk>/members/", campaign_members, name="members"),
    path("days/", brand_days, name="days"),
    path("days/<int:pk>/", brand_days, name="day_edit"),
]
