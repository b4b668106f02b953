"""Reached without signing in (the "public" shell, under /public/): the unsubscribe link of a
message, and what the SMS gateway posts back (delivery receipts, members' replies)."""

from __future__ import annotations

import hmac
import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from campaigns.services.receipts import receipt_parse, sms_receipts_record, sms_reply_record
from campaigns.services.unsubscribe import unsubscribe_apply, unsubscribe_read
from members.models import Member
from scrm.exceptions import ApplicationError

ONE_CLICK = "One-Click"


@csrf_exempt  # the one-click POST comes from the mailbox provider, with no cookie (RFC 8058)
@never_cache
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a page with a button (link scanners fetch GETs, so a GET changes nothing). POST: the
    opt-out itself, at once, from the button or from the mail client's one-click."""
    try:
        scope = unsubscribe_read(token)
        done = request.method == "POST"
        if done:
            one_click = request.POST.get("List-Unsubscribe") == ONE_CLICK
            scope = unsubscribe_apply(
                token=token, source="one_click" if one_click else "link", request=request
            )
    except ApplicationError as exc:
        return render(
            request, "campaigns/unsubscribe.html", {"error": exc.message}, status=exc.status_code
        )
    # "by email", "by SMS": the consent fields' own names read well inside a sentence.
    field = (
        Member._meta.get_field(f"consent_{scope.channel}")
        if scope.channel in Member.CONSENT_CHANNELS
        else None
    )
    label = getattr(field, "verbose_name", "")
    return render(request, "campaigns/unsubscribe.html", {"done": done, "channel_label": label})


def _gateway_refusal(request: HttpRequest) -> JsonResponse | None:
    """401 unless the request carries ``Authorization: Bearer <SCRM_SMS_CALLBACK_TOKEN>``
    (always, while no token is set); 405 for anything but a POST."""
    expected = settings.SCRM_SMS_CALLBACK_TOKEN
    given = request.headers.get("Authorization", "")
    if not expected or not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        response = JsonResponse({"code": 401, "error": "unauthorized"}, status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    if request.method != "POST":
        response = JsonResponse({"code": 405, "error": "method_not_allowed"}, status=405)
        response["Allow"] = "POST"
        return response
    return None


def _json_body(request: HttpRequest) -> object:
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None


@csrf_exempt
def sms_receipts(request: HttpRequest) -> HttpResponse:
    """``[{"id": <gateway id>, "status": "delivered"|"failed", "error": "..."}, ...]``."""
    refusal = _gateway_refusal(request)
    if refusal is not None:
        return refusal
    body = _json_body(request)
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        return JsonResponse({"code": 400, "error": "expected a JSON array of receipts"}, status=400)
    receipts = [r for r in (receipt_parse(item) for item in body) if r is not None]
    updated = sms_receipts_record(receipts=receipts)
    return JsonResponse({"code": 0, "received": len(body), "updated": updated})


@csrf_exempt
def sms_inbound(request: HttpRequest) -> HttpResponse:
    """``{"from": "+8613800138000", "text": "R"}``: a member's reply."""
    refusal = _gateway_refusal(request)
    if refusal is not None:
        return refusal
    body = _json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("from"), str):
        return JsonResponse(
            {"code": 400, "error": 'expected {"from": ..., "text": ...}'}, status=400
        )
    member = sms_reply_record(phone=body["from"], text=str(body.get("text") or ""))
    return JsonResponse({"code": 0, "opted_out": member is not None})


urlpatterns = [
    path("unsubscribe/<str:token>/", unsubscribe, name="unsubscribe"),
    path("hooks/sms/receipts/", sms_receipts, name="sms_receipts"),
    path("hooks/sms/inbound/", sms_inbound, name="sms_inbound"),
]
