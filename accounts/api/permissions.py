from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import ApiKey


class IsIntegrationOrStaff(BasePermission):
    """An API key, or a signed-in session of console staff (operators, admins). Clerks serve at
    the counter, whose pages are fenced to their stores; the API is not theirs."""

    message = _("Use an API key, or sign in as an operator. Clerks use the counter.")

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, ApiKey):
            return True
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and not getattr(user, "is_member_user", True)
            and user.has_perm("accounts.use_console")
        )


def key_store(request: Request) -> Any:
    """The store a store-scoped key is limited to, else None."""
    return request.auth.store if isinstance(request.auth, ApiKey) else None
