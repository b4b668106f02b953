"""Webhooks in the console (operators and admins): the endpoints with their state (active,
failing since, turned off and why), registering one (its secret shown once), an endpoint's
delivery log with each delivery's attempts, deleting (after a confirmation), turning a turned-off
endpoint back on, and queuing a failed delivery again."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.access import staff_required
from campaigns.models.webhooks import WEBHOOK_TYPES, WebhookDelivery, WebhookEndpoint
from campaigns.selectors.webhooks import (
    webhook_deliveries,
    webhook_delivery,
    webhook_endpoints_turned_off,
    webhook_endpoints_with_counts,
)
from campaigns.services.webhooks import (
    SIGNATURE_HEADER,
    sign,
    webhook_delivery_retry,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_enable,
)
from scrm.exceptions import ApplicationError, form_errors_add
from scrm.parsing import int_or_none

PERMS = ("use_console", "manage_members")
PAGE_SIZE = 25
SHOW_ONCE_SESSION = "scrm.webhook_created"


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label=gettext_lazy("URL"),
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/scrm"}),
        help_text=gettext_lazy("The receiver's address, https://."),
    )
    types = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=[(t, t) for t in WEBHOOK_TYPES],
        widget=forms.CheckboxSelectMultiple,
    )
    description = forms.CharField(label=gettext_lazy("Description"), max_length=200, required=False)


def _page(request: HttpRequest, qs):
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


@staff_required(*PERMS)
def webhook_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "campaigns/webhooks/list.html",
        {
            "page": _page(request, webhook_endpoints_with_counts()),
            "turned_off": list(webhook_endpoints_turned_off()[:5]),
            "active": "settings",
        },
    )


@staff_required(*PERMS)
def webhook_new(request: HttpRequest) -> HttpResponse:
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = webhook_endpoint_create(
                url=form.cleaned_data["url"],
                types=form.cleaned_data["types"],
                description=form.cleaned_data["description"],
                actor=request.user,
                request=request,
            )
        except ApplicationError as exc:
            form_errors_add(form, exc)
        else:
            # Post/redirect/get: the secret is shown once, on the next page; a refresh shows it
            # no more.
            request.session[SHOW_ONCE_SESSION] = {"pk": endpoint.pk}
            return redirect("webhooks:detail", pk=endpoint.pk)
    return render(
        request,
        "campaigns/webhooks/new.html",
        {"form": form, "types": WEBHOOK_TYPES, "active": "settings"},
    )


@staff_required(*PERMS)
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    status = request.GET.get("status", "")
    if status not in WebhookDelivery.Status.values:
        status = ""
    context = {
        "endpoint": endpoint,
        "page": _page(request, webhook_deliveries(endpoint, status=status)),
        "status": status,
        "active": "settings",
    }
    if request.htmx:
        return render(request, "campaigns/webhooks/detail.html#delivery-table", context)
    shown = request.session.get(SHOW_ONCE_SESSION)
    if shown and shown.get("pk") == endpoint.pk:
        del request.session[SHOW_ONCE_SESSION]
        context["secret"] = endpoint.secret
    return render(request, "campaigns/webhooks/detail.html", context)


@staff_required(*PERMS)
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """A confirmation page; the endpoint goes only with the confirming POST."""
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    if request.method == "POST" and request.POST.get("confirm") == "delete":
        webhook_endpoint_delete(endpoint=endpoint, actor=request.user, request=request)
        messages.success(
            request,
            _("Webhook endpoint %(url)s deleted. Nothing more is sent to it.")
            % {"url": endpoint.url},
        )
        return redirect("webhooks:list")
    return render(
        request,
        "campaigns/webhooks/delete.html",
        {
            "endpoint": endpoint,
            "pending": endpoint.deliveries.filter(status=WebhookDelivery.Status.PENDING).count(),
            "active": "settings",
        },
    )


@staff_required(*PERMS)
@require_POST
def webhook_enable(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    was_active = endpoint.is_active
    webhook_endpoint_enable(endpoint=endpoint, actor=request.user, request=request)
    if not was_active:
        messages.success(
            request, _("Turned back on: its waiting events are sent now, new ones from now on.")
        )
    return redirect("webhooks:detail", pk=endpoint.pk)


@staff_required(*PERMS)
def webhook_delivery_detail(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = webhook_delivery(pk)
    if delivery is None:
        raise Http404
    body = delivery.body.encode()
    return render(
        request,
        "campaigns/webhooks/delivery.html",
        {
            "delivery": delivery,
            "endpoint": delivery.endpoint,
            "tries": list(delivery.tries.all()),
            "signature_header": SIGNATURE_HEADER,
            "signature": sign(body, delivery.endpoint.secret),
            "can_retry": delivery.status != WebhookDelivery.Status.DELIVERED,
            "active": "settings",
        },
    )


@staff_required(*PERMS)
@require_POST
def webhook_delivery_retry_view(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = get_object_or_404(WebhookDelivery.objects.select_related("endpoint"), pk=pk)
    try:
        webhook_delivery_retry(delivery=delivery, actor=request.user, request=request)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        if delivery.endpoint.is_active:
            messages.success(request, _("Queued again: it is sent within a few seconds."))
        else:
            messages.warning(
                request,
                _("Queued again; it is sent when the endpoint is turned back on."),
            )
    back = int_or_none(request.POST.get("from_endpoint"))
    if back == delivery.endpoint_id:
        return redirect("webhooks:detail", pk=delivery.endpoint_id)
    return redirect("webhooks:delivery", pk=delivery.pk)


urlpatterns = [
    path("", webhook_list, name="list"),
    path("new/", webhook_new, name="new"),
    path("<int:pk>/", webhook_detail, name="detail"),
    path("<int:pk>/delete/", webhook_delete, name="delete"),
    path("<int:pk>/enable/", webhook_enable, name="enable"),
    path("deliveries/<int:pk>/", webhook_delivery_detail, name="delivery"),
    path("deliveries/<int:pk>/retry/", webhook_delivery_retry_view, name="delivery_retry"),
]
