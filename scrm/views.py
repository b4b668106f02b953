from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import requires_csrf_token

from scrm.shells import landing_url, settings_cards
from scrm.tasks import HEARTBEAT_CACHE_KEY


def home(request: HttpRequest) -> HttpResponse:
    """Where '/' and sign-in land: each kind of user goes to their own shell (the landings the
    apps registered)."""
    user = request.user
    if not user.is_authenticated:
        return redirect("account_login")
    url = landing_url(user)
    if url is None:
        return render(request, "no_role.html", status=403)
    return redirect(url)


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


def section_placeholder(request: HttpRequest, title: str, blurb: str, active: str) -> HttpResponse:
    """A console area an app has announced but not opened yet (a coming release)."""
    user = request.user
    if not user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    if getattr(user, "is_member_user", False) or not user.has_perm("accounts.use_console"):
        raise PermissionDenied
    return render(
        request, "console/section.html", {"title": title, "blurb": blurb, "active": active}
    )


def console_settings(request: HttpRequest) -> HttpResponse:
    """The settings page: a card for each page the apps registered (``scrm.shells``)."""
    user = request.user
    if not user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    if getattr(user, "is_member_user", False) or not user.has_perm("accounts.use_console"):
        raise PermissionDenied
    return render(
        request, "console/settings.html", {"active": "settings", "cards": settings_cards(user)}
    )


def _api_error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": {}}}, status=status)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def error_400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return _api_error("bad_request", str(_("The request could not be read.")), 400)
    return render(request, "400.html", status=400)


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return _api_error("permission_denied", str(_("You may not do this.")), 403)
    return render(request, "403.html", status=403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return _api_error("not_found", str(_("Not found.")), 404)
    return render(request, "404.html", status=404)


@requires_csrf_token
def error_500(request: HttpRequest) -> HttpResponse:
    # No context processors and no database: whatever broke may be one of them. The API answers
    # in its own error shape, never with a page.
    if _is_api(request):
        return _api_error("server_error", "An unexpected error occurred; it has been logged.", 500)
    return HttpResponse(loader.get_template("500.html").render({}), status=500)
