from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter
from allauth.account.forms import ConfirmLoginCodeForm, LoginForm, RequestLoginCodeForm
from allauth.core import context, ratelimit
from allauth.core.internal.cryptokit import compare_user_code
from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from accounts import codes
from accounts.models import Store, User
from accounts.phones import InvalidPhone, normalize_phone
from accounts.roles import ROLE_LABELS, STAFF_ROLES

LOCKED_MESSAGE = gettext_lazy("Too many wrong codes for this number. Try again in 15 minutes.")


class PhoneField(forms.CharField):
    """Accepts 13800138000, +8613800138000 or +86 138 0013 8000; cleans to E.164."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label", gettext_lazy("Mobile number"))
        kwargs.setdefault("max_length", 24)
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={
                    "type": "tel",
                    "inputmode": "numeric",
                    "autocomplete": "tel",
                    "placeholder": gettext_lazy("11-digit mobile number"),
                }
            ),
        )
        kwargs.pop("validators", None)
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> str:
        value = super().to_python(value)
        if not value:
            return value
        try:
            return normalize_phone(value)
        except InvalidPhone as exc:
            raise forms.ValidationError(str(exc), code="invalid_phone") from exc


class StaffLoginForm(LoginForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        login = self.fields["login"]
        login.label = _("Work email")
        login.widget = forms.EmailInput(
            attrs={"autocomplete": "email", "placeholder": _("name@company.com"), "autofocus": True}
        )
        self.fields["password"].label = _("Password")
        if "remember" in self.fields:
            self.fields["remember"].label = _("Keep me signed in on this device")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        user = getattr(self, "user", None)
        if user is not None and getattr(user, "is_member_user", False):
            # Members sign in with their phone and a code, never on the staff form.
            raise forms.ValidationError(_("Members sign in with their phone number and a code."))
        return data


class PhoneLoginCodeForm(RequestLoginCodeForm):
    """The member's sign-in: a phone number, rate limited per number, locked after wrong codes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.pop("email", None)
        self.fields["phone"] = PhoneField(required=True)
        self.fields["phone"].widget.attrs["autofocus"] = True

    def clean(self) -> dict[str, Any]:
        return forms.Form.clean(self)

    def clean_phone(self) -> str:
        phone = self.cleaned_data["phone"]
        if codes.phone_locked(phone):
            raise forms.ValidationError(LOCKED_MESSAGE, code="locked")
        if not ratelimit.consume(context.request, action="request_login_code", key=phone):
            raise forms.ValidationError(
                _("A code was just sent to this number. Wait a minute before asking for another."),
                code="too_soon",
            )
        self._user = get_adapter().get_user_by_phone(phone)
        return phone


class ConfirmSignInCodeForm(ConfirmLoginCodeForm):
    """The code a member types. Each guess is counted in the shared cache before it is compared
    (``accounts.codes``): a code, a phone's hour or an address used up refuses the guess unread."""

    def __init__(self, *args: Any, phone: str | None = None, ip: str | None = None, **kwargs):
        self.phone, self.ip = phone, ip
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs.update(
            {"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 12}
        )

    def clean_code(self) -> str:
        import unicodedata

        # Full-width digits from a Chinese input method are the same digits.
        code = "".join(unicodedata.normalize("NFKC", self.cleaned_data["code"]).split())
        if self.phone:
            refused = codes.guess_refused(phone=self.phone, ip=self.ip)
            if refused in ("locked", "code", "phone"):
                raise forms.ValidationError(LOCKED_MESSAGE, code="locked")
            if refused == "ip":
                raise forms.ValidationError(
                    _("Too many codes were tried from this network. Try again in an hour."),
                    code="locked",
                )
        if not compare_user_code(actual=code, expected=self.expected_code):
            if self.phone and codes.code_used_up(self.phone):
                codes.phone_lock(self.phone)
            raise get_adapter().validation_error("incorrect_code")
        return code


# --- Console forms --------------------------------------------------------------------------


class StoreForm(forms.ModelForm):
    class Meta:
        model = Store
        fields = ["code", "name", "city", "time_zone", "is_active"]

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip().upper()


class StaffForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Work email"))
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    role = forms.ChoiceField(
        label=gettext_lazy("Role"), choices=[(r, ROLE_LABELS[r]) for r in STAFF_ROLES]
    )
    stores = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Stores"),
        queryset=Store.objects.filter(is_active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Clerks see only the members of their stores."),
    )
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)
    password = forms.CharField(
        label=gettext_lazy("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("At least 12 characters. Leave empty to keep the current one."),
    )

    def __init__(self, *args: Any, instance: User | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "email": instance.email,
                "name": instance.name,
                "role": instance.role,
                "stores": list(instance.stores.all()),
                "is_active": instance.is_active,
            }
        super().__init__(*args, **kwargs)
        if instance is None:
            self.fields["password"].required = True
            self.fields["password"].help_text = _("At least 12 characters.")


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=pgettext_lazy("thing", "Name"),  # 名称: the name of a thing, not a person's
        max_length=100,
        help_text=gettext_lazy('Who uses it, e.g. "POS Shanghai" or "Tmall shop"'),
    )
    store = forms.ModelChoiceField(
        label=gettext_lazy("Limit to store"),
        queryset=Store.objects.filter(is_active=True),
        required=False,
        empty_label=gettext_lazy("All stores"),
    )
    rate_per_minute = forms.IntegerField(
        label=gettext_lazy("Requests per minute"),
        required=False,
        min_value=1,
        max_value=1_000_000,
        help_text=gettext_lazy("Leave empty for the default."),
    )


class AuditFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search"), required=False)
    action = forms.CharField(label=gettext_lazy("Action"), required=False)
    actor = forms.CharField(label=gettext_lazy("Actor"), required=False)
    target_type = forms.CharField(label=gettext_lazy("Target type"), required=False)
    date_from = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
