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
