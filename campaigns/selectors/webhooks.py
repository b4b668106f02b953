"""Reads of the webhooks pages and API: endpoints with their counts, an endpoint's delivery log
with each delivery's attempts."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from campaigns.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def webhook_endpoints() -> QuerySet[WebhookEndpoint]:
    """Every endpoint, newest first."""
    return WebhookEndpoint.objects.order_by("-created_at", "-id")


def webhook_endpoints_with_counts() -> QuerySet[WebhookEndpoint]:
    """Every endpoint with how many deliveries wait (``pending``) and gave up (``failed``)."""
    return webhook_endpoints().annotate(
        pending=Count("deliveries", filter=Q(deliveries__status=WebhookDelivery.Status.PENDING)),
        failed=Count("deliveries", filter=Q(deliveries__status=WebhookDelivery.Status.FAILED)),
    )


def webhook_endpoints_turned_off() -> QuerySet[WebhookEndpoint]:
    """Endpoints the relay turned off after a day of failures, for the console's notice."""
    return webhook_endpoints().filter(is_active=False, disabled_at__isnull=False)


def webhook_deliveries(endpoint: WebhookEndpoint, *, status: str = "") -> QuerySet[WebhookDelivery]:
    """An endpoint's delivery log, newest first, each delivery with its attempts (newest first)."""
    qs = WebhookDelivery.objects.filter(endpoint=endpoint).defer("body")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id").prefetch_related(
        Prefetch("tries", queryset=WebhookAttempt.objects.order_by("-at", "-id"))
    )


def webhook_delivery(pk: int) -> WebhookDelivery | None:
    """One delivery with its endpoint and every attempt (newest first)."""
    return (
        WebhookDelivery.objects.filter(pk=pk)
        .select_related("endpoint")
        .prefetch_related(Prefetch("tries", queryset=WebhookAttempt.objects.order_by("-at", "-id")))
        .first()
    )
