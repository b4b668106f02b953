from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiKey
from accounts.services import apikey_authenticate


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer scrm_<prefix>_<secret>``. request.user is anonymous, request.auth the key."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if parts[0].lower() != self.keyword.lower():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                _("Send the key as: Authorization: Bearer <key>.")
            )
        key = apikey_authenticate(parts[1])
        if key is None:
            raise exceptions.AuthenticationFailed(
                _("This API key is not valid or has been revoked.")
            )
        return AnonymousUser(), key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
