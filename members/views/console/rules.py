"""Settings → Tiers and points rules: edit, dry-run and publish the growth system."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.access import staff_required
from members import tasks
from members.forms import MilestoneRuleForm, SettingsForm, TierRuleForm
from members.models import LoyaltySettings, RulesVersion
from members.services.rules import rules_dry_run, rules_publish, rules_snapshot


def _forms(request: HttpRequest):
    snap = rules_snapshot()
    data = request.POST if request.method == "POST" else None
    tier_forms = [
        (t, TierRuleForm(data, prefix=f"tier-{t['code']}", initial=t, entry=t["rank"] == 0))
        for t in snap["tiers"]
    ]
    milestone_forms = [
        (m, MilestoneRuleForm(data, prefix=f"ms-{m['code']}", initial=m))
        for m in snap["milestones"]
    ]
    new_milestone = MilestoneRuleForm(
        data if data and data.get("new-code") else None,
        prefix="new",
        initial={"reward": "gift", "is_active": True},
    )
    settings_form = SettingsForm(data, instance=LoyaltySettings.current())
    return snap, tier_forms, milestone_forms, new_milestone, settings_form


@staff_required("use_console", "manage_members")
def rules_edit(request: HttpRequest) -> HttpResponse:
    snap, tier_forms, milestone_forms, new_milestone, settings_form = _forms(request)
    preview = None
    if request.method == "POST":
        all_forms = [f for _t, f in tier_forms] + [f for _m, f in milestone_forms] + [settings_form]
        if request.POST.get("new-code"):
            all_forms.append(new_milestone)
        if all(f.is_valid() for f in all_forms):
            tiers = [
                {"code": t["code"], "rank": t["rank"], **f.cleaned_data} for t, f in tier_forms
            ]
            preview = rules_dry_run(
                tiers=tiers,
                spend_window_days=settings_form.cleaned_data["spend_window_days"],
                one_purchase_per_day=settings_form.cleaned_data["one_purchase_per_day"],
                grace_days=settings_form.cleaned_data.get("grace_days"),
            )
            if request.POST.get("action") == "publish":
                milestones = [{"code": m["code"], **f.cleaned_data} for m, f in milestone_forms]
                if request.POST.get("new-code"):
                    milestones.append(new_milestone.cleaned_data)
                try:
                    version = rules_publish(
                        tiers=tiers,
                        milestones=milestones,
                        settings_data=settings_form.cleaned_data,
                        actor=request.user,
                        note=request.POST.get("note", ""),
                        request=request,
                    )
                except ValidationError as exc:
                    messages.error(request, "; ".join(exc.messages))
                else:
                    tasks.tiers_reevaluate_all.delay_on_commit()
                    messages.success(
                        request,
                        _(
                            "Rules version %(n)s published: %(up)s members move up, %(down)s down, %(grace)s enter the grace period. Members are being re-evaluated."
                        )
                        % {"n": version.number, **preview},
                    )
                    return redirect("members:rules")
        if request.htmx and request.POST.get("action") != "publish":
            return render(
                request,
                "members/rules.html#preview",
                {"preview": preview, "invalid": preview is None},
            )
    versions = RulesVersion.objects.select_related("published_by")[:10]
    return render(
        request,
        "members/rules.html",
        {
            "snap": snap,
            "tier_forms": tier_forms,
            "milestone_forms": milestone_forms,
            "new_milestone": new_milestone,
            "settings_form": settings_form,
            "preview": preview,
            "versions": versions,
            "active": "settings",
        },
    )
