"""Who may open what. Decided in views (never in partials), with one decorator for staff pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


# --- Who is acting, and over which stores ------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who is acting — a member, a clerk, an operator, an admin, an integration's key, or nobody —
    and over which stores' members. The one place that decides scope: pages, the API and exports
    all ask it (``members.selectors.scope``).

    ``store_ids`` None means the whole brand (operators, admins, a key without a store); a clerk
    has their stores; a store-scoped key its store; members and nobody have none."""

    kind: str  # anonymous | member | clerk | operator | admin | key
    user: Any = None
    key: Any = None
    store_ids: frozenset[int] | None = frozenset()
    store: Any = None  # the store a store-scoped key acts in

    @property
    def whole_brand(self) -> bool:
        return self.store_ids is None

    @property
    def is_staff_or_key(self) -> bool:
        return self.kind in ("clerk", "operator", "admin", "key")

    def covers_store(self, store_id: int | None) -> bool:
        """Whether members of ``store_id`` are this actor's to browse and change."""
        return self.store_ids is None or (store_id is not None and store_id in self.store_ids)


def actor_for_user(user: Any) -> Actor:
    from accounts import roles
    from accounts.selectors import stores_for_user

    if user is None or not user.is_authenticated:
        return Actor("anonymous")
    if getattr(user, "is_member_user", False):
        return Actor("member", user=user)
    role = user.role
    if role == roles.ADMIN or user.is_superuser:
        return Actor("admin", user=user, store_ids=None)
    if user.has_perm("accounts.manage_members"):
        return Actor("operator", user=user, store_ids=None)
    if user.has_perm("accounts.use_counter"):
        ids = frozenset(stores_for_user(user).values_list("pk", flat=True))
        return Actor("clerk", user=user, store_ids=ids)
    return Actor("anonymous", user=user)  # staff without a role


def actor_of(request: HttpRequest) -> Actor:
    """The actor of a page request or an API request (``request.auth`` is an API key there)."""
    from accounts.models import ApiKey

    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiKey):
        if auth.store_id is None:
            return Actor("key", key=auth, store_ids=None)
        return Actor("key", key=auth, store_ids=frozenset({auth.store_id}), store=auth.store)
    return actor_for_user(getattr(request, "user", None))
