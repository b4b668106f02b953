from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Per-key requests per minute (the key's own limit or the default); sessions per user."""

    scope = "api"

    def __init__(self) -> None:  # rate is decided per request, not from settings
        pass

    def allow_request(self, request: Request, view: Any) -> bool:
        from django.conf import settings

        if isinstance(request.auth, ApiKey):
            limit = request.auth.effective_rate
        else:
            limit = settings.SCRM_API_DEFAULT_RATE_PER_MINUTE
        self.rate = f"{limit}/m"
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, ApiKey):
            ident = f"key-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return f"throttle_api_{ident}"
