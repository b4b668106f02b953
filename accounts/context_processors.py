from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


def _console_nav(user: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if user.has_perm("accounts.use_console"):
        items += [
            {
                "key": "dashboard",
                "label": _("Dashboard"),
                "url": reverse("console:home"),
                "icon": "chart",
            },
            {
                "key": "members",
                "label": _("Members"),
                "url": reverse("members:list"),
                "icon": "users",
            },
            {
                "key": "segments",
                "label": _("Segments"),
                "url": reverse("members:segment_list"),
                "icon": "filter",
            },
            {
                "key": "campaigns",
                "label": _("Campaigns"),
                "url": reverse("console:section", args=["campaigns"]),
                "icon": "megaphone",
            },
            {
                "key": "community",
                "label": _("Community"),
                "url": reverse("console:section", args=["community"]),
                "icon": "chat",
            },
        ]
    if user.has_perm("accounts.use_counter"):
        items.append(
            {
                "key": "counter",
                "label": _("Counter"),
                "url": reverse("counter:index"),
                "icon": "store",
            }
        )
    if user.has_perm("accounts.use_console"):
        items.append(
            {
                "key": "settings",
                "label": _("Settings"),
                "url": reverse("console:settings"),
                "icon": "gear",
            }
        )
    return items


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    nav: list[dict[str, Any]] = []
    if user is not None and user.is_authenticated and not getattr(user, "is_member_user", True):
        nav = _console_nav(user)
    return {"staff_nav": nav, "SCRM_DEBUG": settings.DEBUG}
