"""Requests refused before any view sees them, the same way for every page and the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _

PAGE_METHODS = ("GET", "HEAD", "POST")
# The shells whose pages show members' and staff's data (scrm.shells.SHELLS less the sign-in
# pages), and the API.
PRIVATE_PREFIXES = ("/console/", "/counter/", "/portal/", "/api/")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


class RequestGuardMiddleware:
    """Pages take GET and POST only (PUT, PATCH, DELETE are the API's: 405 here). A NUL byte in a
    query parameter or a form field, which PostgreSQL cannot store, is refused with a 400 naming
    the field (the API's JSON parser refuses it in a body), instead of failing in the database."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        api = _is_api(request)
        if (
            not api
            and not request.path.startswith("/admin/")
            and request.method not in PAGE_METHODS
        ):
            return HttpResponseNotAllowed(PAGE_METHODS)
        field = self._nul_field(request)
        if field is not None:
            message = _("This field contains a character that is not allowed.")
            if api:
                return JsonResponse(
                    {
                        "error": {
                            "code": "invalid",
                            "message": _("Some fields are not valid."),
                            "fields": {field: [message]},
                        }
                    },
                    status=400,
                )
            return render(request, "400.html", {"field": field, "message": message}, status=400)
        return self.get_response(request)

    @staticmethod
    def _nul_field(request: HttpRequest) -> str | None:
        if "\x00" in request.path:
            return "path"
        for key, values in request.GET.lists():
            if "\x00" in key or _has_nul(values):
                return key.replace("\x00", "")
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            try:
                post = request.POST
            except Exception:  # an unreadable body: the view's own parsing says so
                return None
            for key, values in post.lists():
                if "\x00" in key or _has_nul(values):
                    return key.replace("\x00", "")
        return None


class PrivatePagesMiddleware:
    """``Cache-Control: private, no-store`` on what may show personal data: every response of the
    console, counter and portal shells and of the API, and every response to a signed-in user. No
    shared cache keeps it, and the browser keeps no copy on disk or in its back button. Static files
    (served by WhiteNoise before this runs) and the anonymous sign-in pages stay cacheable."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if request.path.startswith(PRIVATE_PREFIXES) or (
            user is not None and user.is_authenticated
        ):
            patch_cache_control(response, private=True, no_store=True)
        return response


def json_has_nul(data: Any, path: str = "") -> str | None:
    """The path of the first string (key or value) with a NUL byte in parsed JSON, or None."""
    if isinstance(data, str):
        return (path or "body") if "\x00" in data else None
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return here
            found = json_has_nul(value, here)
            if found:
                return found
    if isinstance(data, list):
        for i, value in enumerate(data):
            found = json_has_nul(value, f"{path}[{i}]")
            if found:
                return found
    return None
