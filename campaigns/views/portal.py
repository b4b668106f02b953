"""The member portal's inbox: the messages sent to the member on the portal channel, newest first,
unread ones marked; opening one marks it read. Only the signed-in member's own messages: another
member's is not found."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.access import member_required
from campaigns.selectors.messages import inbox_message, inbox_messages, inbox_unread_count
from campaigns.services.inbox import inbox_message_read
from members.models import Member

PAGE_SIZE = 20


def _member(request: HttpRequest) -> Member:
    member = Member.objects.filter(user=request.user).first()
    if member is None:
        raise PermissionDenied
    return member


@member_required
@require_GET
def inbox_list(request: HttpRequest) -> HttpResponse:
    member = _member(request)
    page = Paginator(inbox_messages(member), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "campaigns/portal/inbox.html",
        {"page": page, "unread": inbox_unread_count(request.user), "tab": "home"},
    )


@member_required
@require_GET
def inbox_detail(request: HttpRequest, pk: int) -> HttpResponse:
    message = inbox_message(_member(request), pk)
    if message is None:
        raise Http404
    was_unread = message.read_at is None
    inbox_message_read(message=message)
    return render(
        request,
        "campaigns/portal/message.html",
        {"m": message, "was_unread": was_unread, "tab": "home"},
    )


urlpatterns = [
    path("", inbox_list, name="list"),
    path("<int:pk>/", inbox_detail, name="detail"),
]


def portal_tiles(request: HttpRequest) -> list[dict[str, Any]]:
    """The portal home's tile: the unread messages, in one query (by the signed-in user)."""
    unread = inbox_unread_count(request.user)
    return [
        {
            "label": _("Messages"),
            "url": reverse("inbox:list"),
            "count": unread,
            "key": "inbox",
            "icon": "chat",
        }
    ]
