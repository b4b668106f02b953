"""Every form of the members app, for the console, the counter and the portal alike. Forms parse
and check what people type; saving is a service's work (a form's ``save`` only calls one)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from accounts.models import User
from members.models import (
    ImportJob,
    LoyaltySettings,
    Member,
    Milestone,
    Pet,
    Product,
    Profile,
    Reward,
    Segment,
    VoucherTemplate,
)
from members.services.offers import template_problems
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

    def clean(self) -> dict:
        from members.services.members import member_details_problems

        data = super().clean()
        current = str(self.initial.get("name") or "")
        for field, messages in member_details_problems(data, current_name=current).items():
            for message in messages:
                self.add_error(field, message)
        return data


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
    name = forms.CharField(label=pgettext_lazy("pet", "Name"), max_length=50)
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


# --- Offers: voucher templates, issuing, rewards, products --------------------------------------

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def _datetime_field(label) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )


def _cny_field(label, *, required: bool = False, minimum: str = "0.01") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal(minimum),
        max_value=Decimal("10000000"),
        max_digits=10,
        decimal_places=2,
    )


class VoucherTemplateForm(forms.Form):
    """A voucher template's fields; the rules between them are the service's
    (``template_problems``), checked here too so each error sits next to its field."""

    code = forms.SlugField(
        label=gettext_lazy("Template code"),
        max_length=40,
        help_text=gettext_lazy("Letters, digits and hyphens; it can't be changed later."),
    )
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=100)
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=100)
    kind = forms.ChoiceField(
        label=gettext_lazy("The voucher gives"), choices=VoucherTemplate.Kind.choices
    )
    amount = _cny_field(gettext_lazy("Amount off (CNY)"))
    percent = forms.IntegerField(
        label=gettext_lazy("Percent off"),
        required=False,
        min_value=1,
        max_value=99,
        help_text=gettext_lazy("10 means 10 percent off (9折)."),
    )
    gift_item = forms.CharField(label=gettext_lazy("Gift item"), max_length=100, required=False)
    buy_n = forms.IntegerField(label=gettext_lazy("Buy"), required=False, min_value=1, max_value=99)
    get_m = forms.IntegerField(
        label=gettext_lazy("Get free"), required=False, min_value=1, max_value=99
    )
    min_spend = _cny_field(gettext_lazy("Minimum spend (CNY)"), minimum="0")
    valid_from = _datetime_field(gettext_lazy("Valid from"))
    valid_until = _datetime_field(gettext_lazy("Valid until"))
    valid_days = forms.IntegerField(
        label=gettext_lazy("Valid days after issue"),
        required=False,
        min_value=1,
        max_value=3650,
        help_text=gettext_lazy("With an end date too, whichever comes first."),
    )
    per_member_limit = forms.IntegerField(
        label=gettext_lazy("Per member at most"),
        required=False,
        min_value=1,
        max_value=1000,
        help_text=gettext_lazy("Empty: no limit."),
    )
    stackable = forms.BooleanField(
        label=gettext_lazy("Can be combined with other vouchers"), required=False
    )
    terms_zh = forms.CharField(
        label=gettext_lazy("Terms (Chinese)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    terms_en = forms.CharField(
        label=gettext_lazy("Terms (English)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)

    def __init__(self, *args, template: VoucherTemplate | None = None, **kwargs):
        if template is not None and "initial" not in kwargs:
            kwargs["initial"] = {n: getattr(template, n) for n in self.base_fields}
        super().__init__(*args, **kwargs)
        if template is not None:
            self.fields["code"].disabled = True
            self.fields["code"].help_text = ""
            if template.vouchers.exists():
                self.fields["kind"].disabled = True
                self.fields["kind"].help_text = gettext_lazy(
                    "Vouchers were issued from this template, so its kind stays."
                )

    def clean(self):
        data = super().clean()
        for name, messages in template_problems(data).items():
            if name in self.errors:
                continue  # already told (a value missing or out of range)
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
        return data


class VoucherIssueForm(forms.Form):
    MODES = [
        ("one", gettext_lazy("One member")),
        ("list", gettext_lazy("A pasted list")),
        ("segment", gettext_lazy("A saved segment")),
    ]
    mode = forms.ChoiceField(
        label=gettext_lazy("Issue to"), choices=MODES, widget=forms.RadioSelect, initial="one"
    )
    member = forms.CharField(
        label=gettext_lazy("Member code or mobile number"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    members = forms.CharField(
        label=gettext_lazy("Member codes or mobile numbers"),
        max_length=200_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy("One a line, or separated by commas."),
    )
    segment = forms.ModelChoiceField(
        label=gettext_lazy("Segment"), queryset=Segment.objects.order_by("name"), required=False
    )

    def clean(self):
        data = super().clean()
        mode = data.get("mode")
        if mode == "one" and not data.get("member"):
            self.add_error("member", _("Enter a member code or a mobile number."))
        elif mode == "list" and not data.get("members"):
            self.add_error("members", _("Paste member codes or mobile numbers, one a line."))
        elif mode == "segment" and data.get("segment") is None and "segment" not in self.errors:
            self.add_error("segment", _("Choose a segment."))
        return data


class RewardForm(forms.Form):
    code = forms.SlugField(label=gettext_lazy("Reward code"), max_length=40)
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=100)
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=100)
    kind = forms.ChoiceField(label=gettext_lazy("The reward is"), choices=Reward.Kind.choices)
    points_cost = forms.IntegerField(
        label=gettext_lazy("Points price"), min_value=1, max_value=10_000_000
    )
    voucher_template = forms.ModelChoiceField(
        label=gettext_lazy("Voucher it gives"),
        queryset=VoucherTemplate.objects.order_by("code"),
        required=False,
        help_text=gettext_lazy("For a voucher reward."),
    )
    is_active = forms.BooleanField(
        label=gettext_lazy("Offered in the catalogue"), required=False, initial=True
    )
    stock = forms.IntegerField(
        label=gettext_lazy("Stock"),
        required=False,
        min_value=0,
        max_value=10_000_000,
        help_text=gettext_lazy("Empty: as many as members redeem. Each redemption takes one."),
    )
    available_from = _datetime_field(gettext_lazy("Offered from"))
    available_until = _datetime_field(gettext_lazy("Offered until"))

    def __init__(self, *args, reward: Reward | None = None, **kwargs):
        if reward is not None and "initial" not in kwargs:
            kwargs["initial"] = {n: getattr(reward, n) for n in self.base_fields}
        super().__init__(*args, **kwargs)
        if reward is not None:
            self.fields["code"].disabled = True

    def clean(self):
        data = super().clean()
        if (
            data.get("kind") == Reward.Kind.VOUCHER
            and data.get("voucher_template") is None
            and "voucher_template" not in self.errors
        ):
            self.add_error("voucher_template", _("Choose the voucher this reward gives."))
        return data


class ProductForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("thing", "Name"), max_length=200)
    category = forms.CharField(label=gettext_lazy("Category"), max_length=64, required=False)
    cycle_days = forms.IntegerField(
        label=gettext_lazy("Consumption cycle (days)"),
        required=False,
        min_value=1,
        max_value=3650,
        help_text=gettext_lazy("How long one unit lasts; used to predict the next purchase."),
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Consumable or durable"),
        choices=Product.Kind.choices,
        widget=forms.RadioSelect,
    )
    price = _cny_field(gettext_lazy("Price (CNY)"), minimum="0")

    def __init__(self, *args, product: Product | None = None, **kwargs):
        if product is not None and "initial" not in kwargs:
            kwargs["initial"] = {n: getattr(product, n) for n in self.base_fields}
        super().__init__(*args, **kwargs)


class ProductImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"), help_text=gettext_lazy("UTF-8 or GBK, with a header row.")
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 10 * 1024 * 1024:
            raise ValidationError(_("At most 10 MB a file."))
        return upload
