from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from scrm.shells import staff_menu


def shell(request: HttpRequest) -> dict[str, Any]:
    """The staff menu (from the apps' registrations) for staff pages."""
    user = getattr(request, "user", None)
    nav: list[dict[str, Any]] = []
    if user is not None and user.is_authenticated and not getattr(user, "is_member_user", True):
        nav = staff_menu(user)
    return {"staff_nav": nav, "SCRM_DEBUG": settings.DEBUG}
