"""The console's home page, and the event log with its consumers (Settings → Event log)."""

from __future__ import annotations

from datetime import timedelta

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.access import staff_required
from accounts.models import AuditEntry, Store, User
from members import events
from members.models import Event, EventConsumer, Member


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


@staff_required("use_console")
def segments_redirect(request: HttpRequest) -> HttpResponse:
    """/console/segments/, where an operator may type it: the segments."""
    return redirect("members:segment_list")


@staff_required("use_console", "view_audit_log")
def event_log(request: HttpRequest) -> HttpResponse:
    """What the engine announced, newest first (filter by type or member code), and each
    registered consumer's position, lag and last error."""
    kind = request.GET.get("type", "")
    code = request.GET.get("member", "").strip().upper()[:12]
    qs = Event.objects.select_related("member").order_by("-id")
    if kind in events.event_types():
        qs = qs.filter(type=kind)
    if code:
        qs = qs.filter(member__code=code)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    states = {c.name: c for c in EventConsumer.objects.all()}
    consumers = [
        {
            "name": c.name,
            "types": sorted(c.types) if c.types is not None else None,
            "state": states.get(c.name),
            "lag": events.consumer_lag(c.name),
        }
        for c in events.consumers()
    ]
    template = "members/event_log.html#event-table" if request.htmx else "members/event_log.html"
    return render(
        request,
        template,
        {
            "page": page,
            "types": sorted(events.event_types()),
            "type": kind,
            "member_code": code,
            "consumers": consumers,
            "active": "settings",
        },
    )
