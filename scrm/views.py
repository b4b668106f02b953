from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import requires_csrf_token

from accounts.access import staff_required
from accounts.models import AuditEntry, Store, User
from members.models import Member
from scrm.tasks import HEARTBEAT_CACHE_KEY


def home(request: HttpRequest) -> HttpResponse:
    """Where '/' and sign-in land: each kind of user goes to their own shell."""
    user = request.user
    if not user.is_authenticated:
        return redirect("account_login")
    if getattr(user, "is_member_user", False):
        return redirect("portal:home")
    if user.has_perm("accounts.use_console"):
        return redirect("console:home")
    if user.has_perm("accounts.use_counter"):
        return redirect("counter:index")
    return render(request, "no_role.html", status=403)


def _check(fn) -> dict:
    started = time.monotonic()
    try:
        detail = fn()
        return {
            "status": "ok",
            "ms": round((time.monotonic() - started) * 1000, 1),
            **(detail or {}),
        }
    except Exception as exc:
        return {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _cache() -> dict:
    key = "scrm:healthz"
    token = str(time.time())
    cache.set(key, token, timeout=30)
    if cache.get(key) != token:
        raise RuntimeError("cache did not return what was written")
    return {"backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}


def _broker() -> dict:
    from scrm.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        transport = conn.transport_cls
    stamp = cache.get(HEARTBEAT_CACHE_KEY)
    last = parse_datetime(stamp) if stamp else None
    return {
        "transport": str(transport),
        "worker_heartbeat": stamp,
        "worker_recent": bool(last and timezone.now() - last < timedelta(minutes=3)),
    }


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check(_database), "cache": _check(_cache), "broker": _check(_broker)}
    ok = all(c["status"] == "ok" for c in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "error", "checks": checks}, status=200 if ok else 503
    )


@staff_required("use_console")
def console_home(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    week_ago = now - timedelta(days=7)
    stats = {
        "members": Member.objects.count(),
        "members_week": Member.objects.filter(joined_at__gte=week_ago).count(),
        "portal_users": Member.objects.filter(user__isnull=False).count(),
        "stores": Store.objects.filter(is_active=True).count(),
        "staff": User.objects.filter(kind=User.Kind.STAFF, is_active=True).count(),
    }
    recent_members = Member.objects.select_related("store")[:6]
    recent_audit = (
        AuditEntry.objects.select_related("actor")[:8]
        if request.user.has_perm("accounts.view_audit_log")
        else []
    )
    return render(
        request,
        "console/home.html",
        {
            "stats": stats,
            "recent_members": recent_members,
            "recent_audit": recent_audit,
            "active": "dashboard",
        },
    )


SECTIONS = {
    "segments": (
        _("Segments"),
        _("Build audiences from profiles, purchases, tiers and lifecycle, with a live count."),
    ),
    "campaigns": (
        _("Campaigns"),
        _("Plan campaigns on a calendar with holidays and commerce days, and automate journeys."),
    ),
    "community": (
        _("Community"),
        _("Groups, events, polls, referrals, badges, NPS and service tickets."),
    ),
}


@staff_required("use_console")
def console_section(request: HttpRequest, section: str) -> HttpResponse:
    if section not in SECTIONS:
        raise Http404
    title, blurb = SECTIONS[section]
    return render(
        request, "console/section.html", {"title": title, "blurb": blurb, "active": section}
    )


@staff_required("use_console")
def console_settings(request: HttpRequest) -> HttpResponse:
    return render(request, "console/settings.html", {"active": "settings"})


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


@requires_csrf_token
def error_500(request: HttpRequest) -> HttpResponse:
    # No context processors and no database: whatever broke may be one of them.
    return HttpResponse(loader.get_template("500.html").render({}), status=500)
