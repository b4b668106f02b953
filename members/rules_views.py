from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.access import staff_required
from members import tasks
from members.models import LoyaltySettings, Milestone, RulesVersion
from members.services.rules import (
    PERK_KINDS,
    SETTINGS_FIELDS,
    rules_dry_run,
    rules_publish,
    rules_snapshot,
)


class TierRuleForm(forms.Form):
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=100)
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=100)
    min_purchases = forms.IntegerField(
        label=gettext_lazy("From purchase number"), required=False, min_value=1, max_value=1000
    )
    min_annual_spend = forms.DecimalField(
        label=gettext_lazy("From spend in the window (CNY)"),
        required=False,
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
    )
    multiplier = forms.DecimalField(
        label=gettext_lazy("Points multiplier"),
        min_value=Decimal("0.1"),
        max_value=Decimal("10"),
        max_digits=4,
        decimal_places=2,
    )
    discount_percent = forms.IntegerField(
        label=gettext_lazy("Discount (percent off)"),
        required=False,
        min_value=1,
        max_value=99,
        help_text=gettext_lazy("10 means 10 percent off (9折)."),
    )
    perks = forms.MultipleChoiceField(
        label=gettext_lazy("Other benefits"),
        choices=[(k.value, k.label) for k in PERK_KINDS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    rule_text_zh = forms.CharField(
        label=gettext_lazy("Rule text members read (Chinese)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
    )
    rule_text_en = forms.CharField(
        label=gettext_lazy("Rule text members read (English)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
    )

    def __init__(self, *args, entry: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.entry = entry

    def clean(self):
        data = super().clean()
        if (
            not self.entry
            and data.get("min_purchases") is None
            and data.get("min_annual_spend") is None
        ):
            raise ValidationError(_("Give a purchase number or a spend, or both."))
        return data


class MilestoneRuleForm(forms.Form):
    code = forms.SlugField(label=gettext_lazy("Milestone code"), max_length=40)
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=100)
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=100)
    at_purchase = forms.IntegerField(
        label=gettext_lazy("At purchase number"), required=False, min_value=1
    )
    at_spend = forms.DecimalField(
        label=gettext_lazy("At lifetime spend (CNY)"),
        required=False,
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
    )
    reward = forms.ChoiceField(label=gettext_lazy("Reward"), choices=Milestone.Reward.choices)
    gift_name_zh = forms.CharField(
        label=gettext_lazy("Gift (Chinese)"), max_length=100, required=False
    )
    gift_name_en = forms.CharField(
        label=gettext_lazy("Gift (English)"), max_length=100, required=False
    )
    points = forms.IntegerField(
        label=gettext_lazy("Bonus points"), required=False, min_value=0, initial=0
    )
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)

    def clean(self):
        data = super().clean()
        if data.get("at_purchase") is None and data.get("at_spend") is None:
            raise ValidationError(_("Give a purchase number or a spend."))
        data["points"] = data.get("points") or 0
        return data


class SettingsForm(forms.ModelForm):
    class Meta:
        model = LoyaltySettings
        fields = SETTINGS_FIELDS


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
                            "Rules version %(n)s published: %(up)s members move up, %(down)s down. Members are being re-evaluated."
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
