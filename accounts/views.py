from __future__ import annotations

import logging
from smtplib import SMTPException

from allauth.account import views as allauth_views
from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import roles, selectors, services
from accounts.access import staff_required
from accounts.forms import ApiKeyForm, AuditFilterForm, StaffForm, StoreForm
from accounts.models import ApiKey, Store, User
from scrm.exceptions import ApplicationError

logger = logging.getLogger("scrm.accounts")
PAGE_SIZE = 25


# --- Sign-in -----------------------------------------------------------------------------------


class ConfirmSignInCodeView(allauth_views.ConfirmLoginCodeView):
    """allauth's code confirmation, with the member's phone and address handed to the form, which
    counts every guess in the shared cache (``accounts.codes``); a refused guess ends the pending
    sign-in and says why."""

    def get_form_kwargs(self) -> dict:
        kwargs = super().get_form_kwargs()
        if self._action != "resend":
            kwargs["phone"] = self._process.state.get("phone")
            kwargs["ip"] = get_adapter(self.request).get_client_ip(self.request)
        return kwargs

    def form_invalid(self, form) -> HttpResponse:
        if form.has_error("code", "locked"):
            self._process.abort()
            messages.error(self.request, form.errors["code"][0])
            return redirect("account_request_login_code")
        return super().form_invalid(form)


confirm_sign_in_code = ConfirmSignInCodeView.as_view()


def _staff_only(view):
    """Password pages are for staff: members have no password (they sign in with a code)."""

    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if getattr(request.user, "is_member_user", False):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


staff_password_change = _staff_only(allauth_views.password_change)


@_staff_only
def staff_password_reset(request: HttpRequest) -> HttpResponse:
    """Reset by email, for staff. Where no mail server is configured, or it fails, the page says
    so (and that an admin can set a new password) instead of failing."""
    if not settings.SCRM_EMAIL_CONFIGURED:
        return render(request, "account/password_reset_unavailable.html", status=200)
    try:
        return allauth_views.password_reset(request)
    except (OSError, SMTPException) as exc:
        logger.warning("password reset mail not sent: %s", exc)
        messages.error(
            request,
            _(
                "The reset email could not be sent just now. Try again in a few minutes, or ask "
                "an admin to set a new password for you."
            ),
        )
        return redirect("account_reset_password")


def _page(request: HttpRequest, qs, size: int = PAGE_SIZE):
    return Paginator(qs, size).get_page(request.GET.get("page"))


def _apply_error(form, exc: ApplicationError | ValidationError) -> None:
    if isinstance(exc, ApplicationError):
        if exc.fields:
            for field, errors in exc.fields.items():
                for err in errors:
                    form.add_error(field if field in form.fields else None, err)
        else:
            form.add_error(None, exc.message)
        return
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for err in errors:
                form.add_error(field if field in form.fields else None, err)
    else:
        for err in exc.messages:
            form.add_error(None, err)


# --- Stores ---------------------------------------------------------------------------------


@staff_required("use_console", "manage_stores")
def store_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    qs = Store.objects.all()
    if q:
        qs = (
            qs.filter(code__icontains=q)
            | qs.filter(name__icontains=q)
            | qs.filter(city__icontains=q)
        )
    return render(
        request,
        "accounts/store_list.html",
        {"page": _page(request, qs.order_by("-is_active", "code")), "q": q, "active": "settings"},
    )


@staff_required("use_console", "manage_stores")
def store_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    store = get_object_or_404(Store, pk=pk) if pk else None
    form = StoreForm(request.POST or None, instance=store)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.store_save(
                store=store, data=form.cleaned_data, actor=request.user, request=request
            )
        except ValidationError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, _("Store %(code)s saved.") % {"code": saved.code})
            return redirect("accounts:store_list")
    return render(
        request, "accounts/store_form.html", {"form": form, "store": store, "active": "settings"}
    )


# --- Staff ----------------------------------------------------------------------------------


@staff_required("use_console", "manage_staff")
def staff_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    role = request.GET.get("role", "")
    store = request.GET.get("store", "")
    qs = selectors.staff_list(q=q, role=role if role in roles.STAFF_ROLES else "", store=store)
    return render(
        request,
        "accounts/staff_list.html",
        {
            "page": _page(request, qs),
            "q": q,
            "role": role,
            "store": store,
            "roles": [(r, roles.ROLE_LABELS[r]) for r in roles.STAFF_ROLES],
            "stores": Store.objects.filter(is_active=True),
            "active": "settings",
        },
    )


@staff_required("use_console", "manage_staff")
def staff_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = get_object_or_404(User, pk=pk, kind=User.Kind.STAFF) if pk else None
    form = StaffForm(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = services.staff_save(
                user=user,
                email=data["email"],
                name=data["name"],
                role=data["role"],
                stores=data["stores"],
                is_active=data["is_active"],
                password=data["password"] or None,
                actor=request.user,
                request=request,
            )
        except (ApplicationError, ValidationError) as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, _("%(name)s saved.") % {"name": saved.display_name})
            return redirect("accounts:staff_list")
    return render(
        request, "accounts/staff_form.html", {"form": form, "staff": user, "active": "settings"}
    )


# --- API keys -------------------------------------------------------------------------------


CREATED_KEY_SESSION = "scrm.apikey_created"


@staff_required("use_console", "manage_api_keys")
def apikey_list(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    created_key = None
    if request.method == "POST" and form.is_valid():
        try:
            key, plain = services.apikey_create(
                name=form.cleaned_data["name"],
                store=form.cleaned_data["store"],
                rate_per_minute=form.cleaned_data["rate_per_minute"],
                actor=request.user,
                request=request,
            )
        except (ApplicationError, ValidationError) as exc:
            _apply_error(form, exc)
        else:
            # Post/redirect/get: shown once on the next page; a refresh shows it no more and
            # creates no second key.
            request.session[CREATED_KEY_SESSION] = {"pk": key.pk, "plain": plain}
            return redirect("accounts:apikey_list")
    shown = request.session.pop(CREATED_KEY_SESSION, None) if request.method == "GET" else None
    if shown:
        key = ApiKey.objects.filter(pk=shown["pk"]).first()
        if key is not None:
            created_key = {"key": key, "plain": shown["plain"]}
    return render(
        request,
        "accounts/apikey_list.html",
        {
            "form": form,
            "created": created_key,
            "page": _page(request, selectors.apikey_list()),
            "active": "settings",
        },
    )


@staff_required("use_console", "manage_api_keys")
@require_POST
def apikey_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=pk)
    services.apikey_revoke(key=key, actor=request.user, request=request)
    messages.success(
        request, _('Key "%(name)s" revoked. Calls with it now get 401.') % {"name": key.name}
    )
    return redirect("accounts:apikey_list")


# --- Audit log ------------------------------------------------------------------------------


@staff_required("use_console", "view_audit_log")
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    qs = selectors.audit_list(**{k: v for k, v in filters.items() if v})
    context = {
        "form": form,
        "page": _page(request, qs, 50),
        "actions": selectors.audit_action_choices(),
        "target_types": selectors.audit_target_type_choices(),
        "active": "settings",
        "querystring": request.GET.copy(),
    }
    if request.htmx:
        return render(request, "accounts/audit_list.html#audit-table", context)
    return render(request, "accounts/audit_list.html", context)
