from __future__ import annotations

import secrets
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts import codes, sms
from accounts.models import User
from accounts.portal import portal_user_for_phone


class AccountAdapter(DefaultAccountAdapter):
    """Staff: email + password. Members: phone + a one-time code sent by the SMS adapter."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Staff are created by admins; members are enrolled by clerks, imports and the API.
        return False

    def get_logout_redirect_url(self, request: HttpRequest) -> str:
        """A member signing out lands on the portal's sign-in by code, staff on theirs. (Asked
        before the sign-out, so the user is still known.)"""
        from django.urls import reverse

        user = getattr(request, "user", None)
        if user is not None and getattr(user, "is_member_user", False):
            return reverse("account_request_login_code")
        return super().get_logout_redirect_url(request)

    # --- phone -------------------------------------------------------------------------------
    def phone_form_field(self, **kwargs: Any) -> Any:
        from accounts.forms import PhoneField

        return PhoneField(**kwargs)

    def get_phone(self, user: User) -> tuple[str, bool] | None:  # type: ignore[override]
        if user.phone:
            return user.phone, user.phone_verified
        return None

    def set_phone(self, user: User, phone: str, verified: bool) -> None:  # type: ignore[override]
        user.phone = phone
        user.phone_verified = verified
        user.save(update_fields=["phone", "phone_verified"])

    def set_phone_verified(self, user: User, phone: str) -> None:  # type: ignore[override]
        if user.phone == phone and not user.phone_verified:
            user.phone_verified = True
            user.save(update_fields=["phone_verified"])

    def get_user_by_phone(self, phone: str) -> User | None:
        return portal_user_for_phone(phone)

    def generate_phone_verification_code(self, *, user: Any, phone: str) -> str:
        # Six digits: what every Chinese SMS code looks like, typed from the phone's keypad.
        codes.code_issued(phone)  # its guesses are counted from zero (the phone's hour is not)
        return f"{secrets.randbelow(1_000_000):06d}"

    def send_verification_code_sms(self, user: Any, phone: str, code: str, **kwargs: Any) -> None:
        minutes = max(1, settings.ACCOUNT_LOGIN_BY_CODE_TIMEOUT // 60)
        text = _(
            "【SCRM】Your sign-in code is %(code)s. It expires in %(minutes)s minutes. "
            "Do not share it with anyone."
        ) % {"code": code, "minutes": minutes}
        sms.send_sms(to=phone, text=text)

    def send_password_reset_mail(self, user: Any, email: str, context: dict[str, Any]) -> None:
        # Members have no password: they sign in with a code. Only staff get a reset link.
        if getattr(user, "is_member_user", False):
            return
        super().send_password_reset_mail(user, email, context)

    def send_unknown_account_sms(self, phone: str, **kwargs: Any) -> None:
        text = _(
            "【SCRM】Someone asked to sign in with this number, but no membership uses it. "
            "Ask at any of our stores to join."
        )
        sms.send_sms(to=phone, text=text)
