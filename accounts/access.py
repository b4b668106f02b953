"""Who may open what. Decided in views (never in partials), with one decorator for staff pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def staff_required(*perms: str) -> Callable:
    """Anonymous users go to sign-in; members and staff without every permission get 403."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if getattr(user, "is_member_user", False) or not all(
                user.has_perm(f"accounts.{p}") for p in perms
            ):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.staff_permissions = perms  # type: ignore[attr-defined]
        return wrapped

    return decorator


def member_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Portal pages: anonymous users go to the phone sign-in; staff get 403."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        from django.urls import reverse

        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("account_request_login_code"))
        if not getattr(user, "is_member_user", False):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapped.member_only = True  # type: ignore[attr-defined]
    return wrapped
