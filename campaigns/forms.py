"""Forms of the messages pages: the template editor, the guard rails' defaults and the message
log's filters. Forms parse what people type; the rules and the saving are the services'."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy

from campaigns.models import Message, MessageTemplate
from campaigns.models.messages import Channel, Kind
from campaigns.selectors.messages import REASONS
from campaigns.services.templates import SETTINGS_RANGES
from members.selectors.members import MEMBER_CODE


def _any(label: Any) -> list[tuple[str, Any]]:
    return [("", label)]


class MessageTemplateForm(forms.Form):
    """A template's fields. The checks of the text (variables, SMS parts, the opt-out text) are
    the service's and the preview's (``campaigns.templating.template_problems``)."""

    code = forms.SlugField(
        label=gettext_lazy("Template code"),
        max_length=64,
        help_text=gettext_lazy(
            "Letters, digits, hyphens and underscores; it can't be changed later. A system"
            " message uses the event's name, such as gift_granted."
        ),
    )
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), choices=Channel.choices)
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=settings.LANGUAGES)
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        choices=Kind.choices,
        help_text=gettext_lazy(
            "Value and promotion messages are marketing: they need consent and meet the guard"
            " rails at send time."
        ),
    )
    subject = forms.CharField(
        label=gettext_lazy("Subject"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Emails need one; the portal inbox shows it as the title."),
    )
    body = forms.CharField(
        label=gettext_lazy("Text"),
        max_length=4000,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 7, "data-template-body": ""}),
    )
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)

    def __init__(self, data: Any = None, *, template: MessageTemplate | None = None, **kwargs: Any):
        if template is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                name: getattr(template, name)
                for name in ("code", "name", "channel", "language", "kind", "subject", "body")
            } | {"is_active": template.is_active}
        super().__init__(data, **kwargs)
        if template is not None:  # the code of a saved template is fixed
            self.fields["code"].disabled = True
            self.fields["code"].required = False
            self.fields["code"].initial = template.code


class MessageSettingsForm(forms.Form):
    """The guard rails' defaults; the service checks the ranges and the time zone again."""

    quiet_start = forms.TimeField(
        label=gettext_lazy("Quiet hours start"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=gettext_lazy("The same start and end: no quiet hours."),
    )
    quiet_end = forms.TimeField(
        label=gettext_lazy("Quiet hours end"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    time_zone = forms.CharField(
        label=gettext_lazy("Members' time zone"),
        max_length=64,
        help_text=gettext_lazy("A time zone name, such as Asia/Shanghai."),
    )
    cap_count = forms.IntegerField(
        label=gettext_lazy("Marketing messages at most"),
        help_text=gettext_lazy("Across every channel; 0: no cap."),
    )
    cap_days = forms.IntegerField(label=gettext_lazy("In any number of days"))
    value_per_promotion = forms.IntegerField(
        label=gettext_lazy("Value messages per promotion"),
        help_text=gettext_lazy(
            "A promotion waits until the member received this many value messages for each"
            " promotion in the window; 0: off."
        ),
    )
    ratio_window_days = forms.IntegerField(label=gettext_lazy("Window of that rule (days)"))
    expiry_days = forms.IntegerField(
        label=gettext_lazy("A deferred marketing message expires after (days)"),
    )
    max_attempts = forms.IntegerField(label=gettext_lazy("Tries before a message fails"))
    retry_base_seconds = forms.IntegerField(
        label=gettext_lazy("First retry after (seconds)"),
        help_text=gettext_lazy("Each further retry waits twice as long."),
    )
    sms_opt_out_text = forms.CharField(
        label=gettext_lazy("Opt-out text of a marketing SMS"),
        max_length=30,
        help_text=gettext_lazy("Every marketing SMS must end with it."),
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for name, (least, most) in SETTINGS_RANGES.items():
            field = self.fields[name]
            field.widget.attrs.update({"min": least, "max": most, "class": "u-w-8em"})
            field.validators += [MinValueValidator(least), MaxValueValidator(most)]


class MessageFilterForm(forms.Form):
    """The message log's filters; an empty field filters nothing."""

    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=_any(gettext_lazy("Every status")) + list(Message.Status.choices),
    )
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"),
        required=False,
        choices=_any(gettext_lazy("Every channel")) + list(Channel.choices),
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        required=False,
        choices=_any(gettext_lazy("Every kind")) + list(Kind.choices),
    )
    source = forms.ChoiceField(
        label=gettext_lazy("Source"),
        required=False,
        choices=_any(gettext_lazy("Every source")) + list(Message.SourceType.choices),
    )
    reason = forms.ChoiceField(
        label=gettext_lazy("Reason"),
        required=False,
        choices=_any(gettext_lazy("Any reason")) + list(REASONS.items()),
    )
    member = forms.CharField(
        label=gettext_lazy("Member code"),
        required=False,
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    # Messages exist from 2000 on and not past 2100: a date outside is a typo, not a filter.
    since = forms.DateField(
        label=gettext_lazy("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[MinValueValidator(date(2000, 1, 1)), MaxValueValidator(date(2100, 12, 31))],
    )
    until = forms.DateField(
        label=gettext_lazy("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[MinValueValidator(date(2000, 1, 1)), MaxValueValidator(date(2100, 12, 31))],
    )

    def clean_member(self) -> str:
        value = (self.cleaned_data.get("member") or "").strip()
        if value and not MEMBER_CODE.fullmatch(value):
            raise forms.ValidationError(gettext_lazy("Enter a member code, such as MABC234."))
        return value.upper()

    def filters(self) -> dict[str, Any]:
        """The valid filters (an invalid one is left out, and shown with its error)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v}


# --- Campaigns ---------------------------------------------------------------------------------

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class CampaignForm(forms.Form):
    """A campaign's fields as the console asks them. The rules (texts, ranges, the list's
    members) are the service's (``campaigns.services.campaigns.campaign_problems``)."""

    TEMPLATE_LABELS = {
        "sms": gettext_lazy("SMS template"),
        "email": gettext_lazy("Email template"),
        "wecom": gettext_lazy("WeCom template"),
        "portal": gettext_lazy("Portal inbox template"),
    }
    AUDIENCE = [
        ("segment", gettext_lazy("A saved segment")),
        ("list", gettext_lazy("An uploaded list")),
    ]

    name = forms.CharField(label=gettext_lazy("Campaign name"), max_length=120)
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        choices=[(Kind.PROMOTION, Kind.PROMOTION.label), (Kind.VALUE, Kind.VALUE.label)],
        help_text=gettext_lazy(
            "The 3:1 rule asks for three value messages for each promotion a member receives."
        ),
    )
    audience = forms.ChoiceField(
        label=gettext_lazy("Audience"),
        choices=AUDIENCE,
        widget=forms.RadioSelect,
        initial="segment",
    )
    segment = forms.ModelChoiceField(
        label=gettext_lazy("Segment"),
        queryset=None,
        required=False,
        empty_label=gettext_lazy("Choose a segment"),
    )
    members = forms.CharField(
        label=gettext_lazy("Phones or member codes"),
        required=False,
        max_length=2_000_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("One a line, or separated by commas; up to 100,000."),
    )
    members_file = forms.FileField(
        label=gettext_lazy("Or a CSV or text file of them"), required=False
    )
    channels = forms.MultipleChoiceField(
        label=gettext_lazy("Channels"),
        choices=Channel.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    sms_body = forms.CharField(
        label=gettext_lazy("SMS text"),
        required=False,
        max_length=4000,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    email_subject = forms.CharField(
        label=gettext_lazy("Email subject"), required=False, max_length=200
    )
    email_body = forms.CharField(
        label=gettext_lazy("Email text"),
        required=False,
        max_length=4000,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    wecom_body = forms.CharField(
        label=gettext_lazy("WeCom text"),
        required=False,
        max_length=4000,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    portal_body = forms.CharField(
        label=gettext_lazy("Portal inbox text"),
        required=False,
        max_length=4000,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    offer = forms.ModelChoiceField(
        label=gettext_lazy("Offer"),
        queryset=None,
        required=False,
        empty_label=gettext_lazy("No offer"),
        help_text=gettext_lazy("Each treated member is issued one voucher when the message goes."),
    )
    budget = forms.DecimalField(
        label=gettext_lazy("Budget (CNY)"),
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
    )
    starts_at = forms.DateTimeField(
        label=gettext_lazy("Starts at"),
        input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    repeat = forms.ChoiceField(label=gettext_lazy("Repeats"), choices=[])
    repeat_until = forms.DateField(
        label=gettext_lazy("Repeats until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    conversion_window_days = forms.IntegerField(
        label=gettext_lazy("Conversion window (days)"), initial=14, min_value=1, max_value=90
    )
    holdout_percent = forms.IntegerField(
        label=gettext_lazy("Holdout (%)"),
        initial=10,
        min_value=0,
        max_value=50,
        help_text=gettext_lazy(
            "Members drawn at random who get nothing: what they buy shows what the campaign added."
        ),
    )
    owner = forms.ModelChoiceField(
        label=gettext_lazy("Owner"), queryset=None, required=False, empty_label=gettext_lazy("Me")
    )
    occasion = forms.CharField(label=gettext_lazy("Occasion"), required=False, max_length=60)
    occasion_date = forms.DateField(
        label=gettext_lazy("Occasion date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from accounts.models import User
        from campaigns.models import Campaign
        from members.models import Segment, VoucherTemplate

        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = Segment.objects.order_by("name")
        self.fields["offer"].queryset = VoucherTemplate.objects.filter(is_active=True).order_by(
            "code"
        )
        self.fields["owner"].queryset = User.objects.filter(
            is_active=True, kind=User.Kind.STAFF
        ).order_by("email")
        self.fields["repeat"].choices = Campaign.Repeat.choices
        for channel, label in self.TEMPLATE_LABELS.items():  # start a channel's text from one
            self.fields[f"{channel}_template"] = forms.ModelChoiceField(
                label=label,
                queryset=MessageTemplate.objects.filter(
                    channel=channel, is_active=True, kind__in=("value", "promotion")
                ).order_by("code", "language"),
                required=False,
                empty_label=gettext_lazy("Write my own"),
                help_text=gettext_lazy("A template fills the text when you leave the text empty.")
                if channel == "portal"
                else "",
            )

    def clean_members_file(self) -> str:
        """The uploaded list's text (UTF-8 or GBK, as Excel saves it)."""
        from scrm.csv_safe import csv_decode

        upload = self.cleaned_data.get("members_file")
        if upload is None:
            return ""
        text = csv_decode(upload.read(4_000_001))
        if text is None or upload.size > 4_000_000:
            raise forms.ValidationError(
                gettext_lazy("Upload a CSV or text file of phones or member codes (at most 4 MB).")
            )
        return text

    @staticmethod
    def initial_of(campaign: Any) -> dict[str, Any]:
        from django.utils import timezone

        texts = {m.channel: m for m in campaign.messages.all()}
        initial = {
            "name": campaign.name,
            "kind": campaign.kind,
            "audience": "list" if campaign.uses_list else "segment",
            "segment": campaign.segment_id,
            "channels": campaign.channels,
            "offer": campaign.offer_id,
            "budget": campaign.budget,
            "starts_at": timezone.localtime(campaign.starts_at).replace(tzinfo=None),
            "repeat": campaign.repeat,
            "repeat_until": campaign.repeat_until,
            "conversion_window_days": campaign.conversion_window_days,
            "holdout_percent": campaign.holdout_percent,
            "owner": campaign.owner_id,
            "occasion": campaign.occasion,
            "occasion_date": campaign.occasion_date,
        }
        for channel, m in texts.items():
            initial[f"{channel}_body"] = m.body
            initial[f"{channel}_template"] = m.template_id
            if channel == "email":
                initial["email_subject"] = m.subject
        return initial

    def data_for_service(self, *, keep_list: bool = False) -> dict[str, Any]:
        """The checked values as ``campaign_save`` takes them. An uploaded list is read from
        the text box and the file; ``keep_list`` keeps a saved list when neither is given."""
        from members.services.offers import pasted_tokens

        d = self.cleaned_data
        members = None
        if d["audience"] == "list":
            text = (d.get("members") or "") + "\n" + (d.get("members_file") or "")
            tokens = pasted_tokens(text)
            members = tokens if tokens or not keep_list else None
            if members is not None and not members:
                members = []
        return {
            "name": d["name"],
            "kind": d["kind"],
            "segment": d.get("segment") if d["audience"] == "segment" else None,
            "members": members,
            "keep_list": keep_list and d["audience"] == "list" and members is None,
            "channels": d["channels"],
            "messages": {ch: self._message(ch) for ch in d["channels"]},
            "offer": d.get("offer"),
            "budget": d.get("budget"),
            "starts_at": d["starts_at"],
            "repeat": d["repeat"],
            "repeat_until": d.get("repeat_until"),
            "conversion_window_days": d["conversion_window_days"],
            "holdout_percent": d["holdout_percent"],
            "owner": d.get("owner"),
            "occasion": d.get("occasion") or "",
            "occasion_date": d.get("occasion_date"),
        }

    def _message(self, channel: str) -> dict[str, Any]:
        """A channel's text as typed, or its template's when the text is left empty."""
        d = self.cleaned_data
        template = d.get(f"{channel}_template")
        body = d.get(f"{channel}_body") or ""
        subject = (d.get("email_subject") or "") if channel == "email" else ""
        if template is not None and not body.strip():
            body = template.body
        if template is not None and channel == "email" and not subject.strip():
            subject = template.subject
        return {"body": body, "subject": subject, "template": template}


class BrandDayForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=60)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=[])
    date = forms.DateField(
        label=gettext_lazy("Date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    repeat = forms.ChoiceField(label=gettext_lazy("Repeats"), choices=[])
    store = forms.ModelChoiceField(
        label=gettext_lazy("Store"),
        queryset=None,
        required=False,
        empty_label=gettext_lazy("All stores"),
    )
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=200)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from accounts.models import Store
        from campaigns.models import BrandDay

        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = BrandDay.Kind.choices
        self.fields["repeat"].choices = BrandDay.Repeat.choices
        self.fields["store"].queryset = Store.objects.order_by("code")
