"""Every form of the members app, for the console, the counter and the portal alike. Forms parse
and check what people type; saving is a service's work (a form's ``save`` only calls one)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from members.models import ImportJob, LoyaltySettings, Member, Milestone, Pet, Profile
from members.services.ownership import Mode
from members.services.profiles import consent_set
from members.services.rules import PERK_KINDS, SETTINGS_FIELDS

# --- Member 360 and the portal's profile ------------------------------------------------------


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


# --- The counter --------------------------------------------------------------------------------


class EnrolForm(forms.Form):
    phone = forms.CharField(label=gettext_lazy("Mobile number"), max_length=20)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100, required=False)
    birthday = forms.DateField(
        label=gettext_lazy("Birthday"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    consent_sms = forms.BooleanField(label=gettext_lazy("SMS"), required=False)
    consent_wecom = forms.BooleanField(label=gettext_lazy("WeCom"), required=False)
    consent_email = forms.BooleanField(label=gettext_lazy("Email"), required=False)
    consent_portal = forms.BooleanField(label=gettext_lazy("Member portal"), required=False)

    def clean_birthday(self) -> date | None:
        birthday = self.cleaned_data.get("birthday")
        if birthday and birthday > timezone.localdate():
            raise forms.ValidationError(_("A birthday can't be in the future."))
        return birthday


# --- Points ----------------------------------------------------------------------------------


class AdjustForm(forms.Form):
    points = forms.IntegerField(
        label=gettext_lazy("Points (negative to take away)"),
        min_value=-10_000_000,
        max_value=10_000_000,
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200)


# --- Tiers and points rules ------------------------------------------------------------------


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


# --- Imports ---------------------------------------------------------------------------------


class ImportForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("The file holds"),
        choices=ImportJob.Kind.choices,
        widget=forms.RadioSelect,
        initial="orders",
    )
    file = forms.FileField(
        label=gettext_lazy("CSV file"), help_text=gettext_lazy("UTF-8 or GBK, with a header row.")
    )
