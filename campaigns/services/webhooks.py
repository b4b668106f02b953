"""Webhooks out (API.md, *Webhooks (out)*): endpoints operators register, one delivery per
(endpoint, event) written from the durable event log, and a relay that posts them.

Writing. ``webhooks_on_events`` is the event log's consumer ``campaigns.webhooks``: it runs in the
consumer's transaction, so a delivery exists exactly when the consumer's position moved past its
event; a batch handed over twice writes nothing twice (unique (endpoint, event)). The body is
built once and stored as sent: every retry posts and signs the same bytes, under the same ``id``
(``evt_<event log id>``, never reused: one id never names two events).

Delivering (``webhooks_deliver_due``), in the outbox relay's shape:

1. **Claim**, in one short transaction: the oldest due pending deliveries of active endpoints,
   ``FOR UPDATE SKIP LOCKED`` (any number of workers take disjoint rows), held for the lease
   (``claimed_until``), then commit.
2. **Post** each outside any transaction (keep-alive per receiver, ``SCRM_WEBHOOK_TIMEOUT``), with
   ``X-SCRM-Signature: sha256=<HMAC-SHA256 of the raw body with the endpoint's secret>``. A batch
   stops posting at half the lease and hands the rest back, so a slow receiver never outlives it.
   When a receiver cannot be reached at all (refused, timed out), its other deliveries of the
   batch wait for the same retry instead of each waiting out the timeout.
3. **Record** every attempt (status code, error, duration) and each outcome in one transaction,
   only where the hold is still this worker's. 2xx: delivered. Anything else (redirects are not
   followed): retried with exponential backoff (30 s doubling, at most an hour, with jitter)
   until ``MAX_ATTEMPTS``. An endpoint's ``failing_since`` is set at the first failure of a run
   and cleared by any success; an endpoint failing for ``DISABLE_AFTER`` is turned off, with an
   audit row and a notice in the console.

A worker killed after posting and before recording leaves its rows held; when the lease passes
another worker posts them again: at-least-once, and the receiver drops the repeat by ``id``.

URLs. ``https`` only. Plain ``http`` is accepted for a receiver on this machine (``localhost``,
``127.0.0.1``, ``::1``) when ``DEBUG`` is on or ``SCRM_WEBHOOK_ALLOW_HTTP_LOOPBACK`` is set (the
test suite and the benchmark): nothing else travels unencrypted.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import random
import secrets
import ssl
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from accounts.models import AuditEntry, register_audit_actions
from accounts.services import audit_record, snapshot
from campaigns.models.webhooks import (
    WEBHOOK_TYPES,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from scrm.exceptions import ApplicationError

logger = logging.getLogger("scrm.webhooks")

LOG_TO_API = {log: api for api, log in WEBHOOK_TYPES.items()}
SIGNATURE_HEADER = "X-SCRM-Signature"
BASE_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
# 30 s, 1, 2, 4 ... 32 min, then hourly: about 30 hours, past the day that turns a failing
# endpoint off (its deliveries then wait for it, rather than give up).
MAX_ATTEMPTS = 36
DISABLE_AFTER = timedelta(hours=24)
MAX_URL_LENGTH = 500  # WebhookEndpoint.url
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
RESPONSE_SNIPPET = 300  # characters of a failing answer kept with its attempt
AUDIT_SKIP = ("secret",)  # the secret is never written to the audit log

register_audit_actions(
    {
        "webhook.created": pgettext_lazy("audit action", "Webhook endpoint created"),
        "webhook.deleted": pgettext_lazy("audit action", "Webhook endpoint deleted"),
        "webhook.enabled": pgettext_lazy("audit action", "Webhook endpoint turned back on"),
        "webhook.disabled": pgettext_lazy(
            "audit action", "Webhook endpoint turned off after a day of failures"
        ),
        "webhook.delivery_retried": pgettext_lazy("audit action", "Webhook delivery queued again"),
    }
)


def _endpoint_snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    data = snapshot(endpoint)
    for field in AUDIT_SKIP:
        data.pop(field, None)
    return data


def sign(body: bytes, secret: str) -> str:
    """The value of ``X-SCRM-Signature`` for ``body``: what a receiver recomputes to verify."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- Endpoints ---------------------------------------------------------------------------------


def _http_allowed() -> bool:
    return bool(settings.DEBUG or settings.SCRM_WEBHOOK_ALLOW_HTTP_LOOPBACK)


def webhook_url_problem(url: str) -> str | None:
    """Why ``url`` cannot receive webhooks, or None."""
    if not url:
        return _("Enter the receiver's URL.")
    if len(url) > MAX_URL_LENGTH:
        return _("At most 500 characters.")
    try:
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError:
        return _("Enter a full URL, like https://example.com/hooks/scrm.")
    parts = urlsplit(url)
    if parts.username or parts.password:
        return _(
            "Leave the user name and password out of the URL: the signature proves the sender."
        )
    if parts.scheme == "https":
        return None
    if (parts.hostname or "") in LOOPBACK_HOSTS and _http_allowed():
        return None
    return _("Use an https:// URL: events carry members' data and must travel encrypted.")


def webhook_types_clean(types: Iterable[str]) -> list[str]:
    """The API types chosen, known ones only, in the contract's order, each once."""
    chosen = list(types)
    unknown = sorted(set(chosen) - set(WEBHOOK_TYPES))
    if unknown:
        raise ApplicationError(
            _("Unknown event type: %(types)s.") % {"types": ", ".join(unknown)},
            fields={"types": [_("Choose among: %(types)s.") % {"types": ", ".join(WEBHOOK_TYPES)}]},
        )
    if not chosen:
        raise ApplicationError(
            _("Choose at least one event type."),
            fields={"types": [_("Choose at least one event type.")]},
        )
    return [t for t in WEBHOOK_TYPES if t in chosen]


@transaction.atomic
def webhook_endpoint_create(
    *,
    url: str,
    types: Iterable[str],
    description: str = "",
    actor: Any = None,
    request: HttpRequest | None = None,
    via: str | None = None,
) -> WebhookEndpoint:
    """Register an endpoint with a new secret (``endpoint.secret``, 64 hex characters), which
    the caller shows once. It receives the events that happen from now on."""
    url = (url or "").strip()
    problem = webhook_url_problem(url)
    if problem:
        raise ApplicationError(problem, fields={"url": [problem]})
    chosen = webhook_types_clean(types)
    description = (description or "").strip()
    if len(description) > 200:
        raise ApplicationError(
            _("At most 200 characters."), fields={"description": [_("At most 200 characters.")]}
        )
    endpoint = WebhookEndpoint(
        url=url,
        types=chosen,
        description=description,
        secret=secrets.token_hex(32),
        created_by=actor if actor is not None and getattr(actor, "pk", None) else None,
    )
    endpoint.full_clean()
    endpoint.save()
    audit_record(
        actor=actor,
        action="webhook.created",
        target=endpoint,
        after=_endpoint_snapshot(endpoint),
        request=request,
        via=via,
    )
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(
    *,
    endpoint: WebhookEndpoint,
    actor: Any = None,
    request: HttpRequest | None = None,
    via: str | None = None,
) -> None:
    """Delete an endpoint with its delivery log. A worker posting one of its deliveries right now
    finishes that post; nothing is sent to it afterwards."""
    locked = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
    if locked is None:
        return
    before = _endpoint_snapshot(locked)
    audit_record(
        actor=actor,
        action="webhook.deleted",
        target=locked,
        before=before,
        request=request,
        via=via,
    )
    locked.delete()


@transaction.atomic
def webhook_endpoint_enable(
    *,
    endpoint: WebhookEndpoint,
    actor: Any = None,
    request: HttpRequest | None = None,
    via: str | None = None,
) -> WebhookEndpoint:
    """Turn an endpoint back on after it was turned off: its pending deliveries are due at once,
    and its failures count afresh."""
    locked = WebhookEndpoint.objects.select_for_update(no_key=True).get(pk=endpoint.pk)
    if locked.is_active:
        return locked
    before = _endpoint_snapshot(locked)
    now = timezone.now()
    locked.is_active = True
    locked.failing_since = None
    locked.disabled_at = None
    locked.disabled_reason = ""
    locked.save(update_fields=["is_active", "failing_since", "disabled_at", "disabled_reason"])
    WebhookDelivery.objects.filter(endpoint=locked, status=WebhookDelivery.Status.PENDING).update(
        next_attempt_at=now, claimed_until=None
    )
    audit_record(
        actor=actor,
        action="webhook.enabled",
        target=locked,
        before=before,
        after=_endpoint_snapshot(locked),
        request=request,
        via=via,
    )
    return locked


@transaction.atomic
def webhook_delivery_retry(
    *,
    delivery: WebhookDelivery,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> WebhookDelivery:
    """An operator queues a failed (or waiting) delivery again, due now, with a fresh schedule of
    retries; its past attempts stay in the log. A delivered one is not sent again."""
    locked = (
        WebhookDelivery.objects.select_for_update().select_related("endpoint").get(pk=delivery.pk)
    )
    if locked.status == WebhookDelivery.Status.DELIVERED:
        raise ApplicationError(
            _("This event was delivered already."), code="already_delivered", status_code=409
        )
    now = timezone.now()
    if locked.claimed_until is not None and locked.claimed_until > now:
        raise ApplicationError(
            _("This event is being sent right now. Look again in a minute."),
            code="in_flight",
            status_code=409,
        )
    before = {"status": locked.status, "attempts": locked.attempts}
    locked.status = WebhookDelivery.Status.PENDING
    locked.attempts = 0
    locked.next_attempt_at = now
    locked.claimed_until = None
    locked.save(update_fields=["status", "attempts", "next_attempt_at", "claimed_until"])
    audit_record(
        actor=actor,
        action="webhook.delivery_retried",
        target=locked,
        target_label=f"evt_{locked.event_id} → {locked.endpoint.url}",
        before=before,
        after={"status": locked.status, "attempts": 0},
        request=request,
    )
    return locked


def _endpoint_disable(endpoint_id: int, *, now: datetime, reason: str) -> bool:
    """Turn off an endpoint that has failed for ``DISABLE_AFTER`` (in the caller's transaction).
    Returns whether this call turned it off."""
    endpoint = (
        WebhookEndpoint.objects.select_for_update(no_key=True)
        .filter(
            pk=endpoint_id,
            is_active=True,
            failing_since__isnull=False,
            failing_since__lte=now - DISABLE_AFTER,
        )
        .first()
    )
    if endpoint is None:
        return False
    before = _endpoint_snapshot(endpoint)
    endpoint.is_active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason[:2000]
    endpoint.save(update_fields=["is_active", "disabled_at", "disabled_reason"])
    audit_record(
        actor=None,
        action="webhook.disabled",
        target=endpoint,
        before=before,
        after=_endpoint_snapshot(endpoint),
        via=AuditEntry.Via.SYSTEM,
    )
    logger.warning(
        "webhook endpoint %s turned off after a day of failures: %s", endpoint.pk, reason
    )
    return True


# --- From the event log ------------------------------------------------------------------------


def webhook_body(event: Any, member_code: str | None) -> str:
    """The JSON posted for one event, exactly as it is signed and sent."""
    return json.dumps(
        {
            "id": f"evt_{event.pk}",
            "type": LOG_TO_API[event.type],
            "created_at": timezone.localtime(event.occurred_at).isoformat(),
            "data": {"member": member_code, **(event.payload or {})},
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def webhooks_on_events(events: list[Any]) -> None:
    """The event log's consumer: one delivery per (active endpoint subscribed to the event's
    type, event), in the consumer's transaction. Idempotent on (endpoint, event)."""
    from members.models import Member

    wanted = [e for e in events if e.type in LOG_TO_API]
    if not wanted:
        return
    active = WebhookEndpoint.objects.filter(is_active=True)
    # Held (FOR KEY SHARE) to the consumer's commit: an endpoint deleted meanwhile waits.
    endpoints = list(
        active.filter(pk__in=_endpoints_alive(set(active.values_list("pk", flat=True)))).only(
            "pk", "types"
        )
    )
    if not endpoints:
        return
    listeners: dict[str, list[int]] = defaultdict(list)
    for endpoint in endpoints:
        for api_type in endpoint.types or ():
            listeners[api_type].append(endpoint.pk)
    codes = dict(
        Member.objects.filter(pk__in={e.member_id for e in wanted if e.member_id}).values_list(
            "pk", "code"
        )
    )
    now = timezone.now()
    rows = []
    for e in wanted:
        api_type = LOG_TO_API[e.type]
        targets = listeners.get(api_type)
        if not targets:
            continue
        body = webhook_body(e, codes.get(e.member_id))
        rows += [
            WebhookDelivery(
                endpoint_id=pk,
                event_id=e.pk,
                event_type=api_type,
                body=body,
                next_attempt_at=now,
                created_at=now,
            )
            for pk in targets
        ]
    if rows:
        WebhookDelivery.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


# --- The relay ---------------------------------------------------------------------------------


@dataclass
class _Result:
    delivery: WebhookDelivery
    at: datetime
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _Receivers:
    """Open connections of one batch, one per receiver (scheme, host, port), kept alive."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.open: dict[tuple[str, str, int | None], http.client.HTTPConnection] = {}
        self._tls: ssl.SSLContext | None = None

    def _connect(self, key: tuple[str, str, int | None]) -> http.client.HTTPConnection:
        scheme, host, port = key
        if scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._tls)
        return http.client.HTTPConnection(host, port, timeout=self.timeout)

    def drop(self, key: tuple[str, str, int | None]) -> None:
        conn = self.open.pop(key, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        for key in list(self.open):
            self.drop(key)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        """POST ``body``; the status and the start of the answer. Raises OSError (and
        http.client's errors) when there is no answer."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        for fresh in (False, True):
            reused = key in self.open and not fresh
            if not reused:
                self.drop(key)
                self.open[key] = self._connect(key)
            conn = self.open[key]
            try:
                conn.request("POST", target, body=body, headers=headers)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.drop(key)
                if reused:  # the receiver closed an idle kept-alive connection: once more
                    continue
                raise
            except Exception:
                self.drop(key)
                raise
            try:
                text = response.read(64 * 1024)
            except Exception:
                self.drop(key)
                raise
            if not response.isclosed() or response.will_close:
                self.drop(key)  # a longer answer than we read, or the receiver closes
            return response.status, text[: RESPONSE_SNIPPET * 4].decode("utf-8", "replace")
        raise http.client.HTTPException("no answer")  # pragma: no cover (the loop returns)


def _backoff(attempts: int) -> timedelta:
    delay = min(BASE_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF)
    return delay * random.uniform(0.8, 1.2)  # noqa: S311  (jitter, not security)


def _claim(*, limit: int, now: datetime, hold: datetime) -> list[WebhookDelivery]:
    with transaction.atomic():
        claimed = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(
                Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
                status=WebhookDelivery.Status.PENDING,
                next_attempt_at__lte=now,
                endpoint__is_active=True,
            )
            .order_by("next_attempt_at", "id")[:limit]
        )
        if claimed:
            WebhookDelivery.objects.filter(pk__in=[d.pk for d in claimed]).update(
                claimed_until=hold
            )
    return claimed


def webhooks_deliver_due(*, limit: int = 100) -> int:
    """Claim, post and record one batch of due deliveries. Returns how many were claimed (0: none
    due, or every due one is held by another worker)."""
    now = timezone.now()
    lease = timedelta(seconds=settings.SCRM_OUTBOX_LEASE_SECONDS)
    hold = now + lease
    claimed = _claim(limit=limit, now=now, hold=hold)
    if not claimed:
        return 0
    budget = lease.total_seconds() / 2
    started = time.monotonic()
    receivers = _Receivers(float(settings.SCRM_WEBHOOK_TIMEOUT))
    results: list[_Result] = []
    unreachable: dict[int, _Result] = {}  # endpoint -> the try that found it unreachable
    postponed: list[tuple[WebhookDelivery, int]] = []
    released: list[WebhookDelivery] = []
    try:
        for d in claimed:
            if d.endpoint_id in unreachable:
                postponed.append((d, d.endpoint_id))
                continue
            if time.monotonic() - started > budget:
                released.append(d)
                continue
            result = _delivery_post(receivers, d)
            results.append(result)
            if result.status_code is None:
                unreachable[d.endpoint_id] = result
    finally:
        receivers.close()
    _record(results, postponed, released, unreachable, hold)
    return len(claimed)


def _delivery_post(receivers: _Receivers, d: WebhookDelivery) -> _Result:
    body = d.body.encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "SCRM-Webhooks/1",
        "X-SCRM-Event": d.event_type,
        "X-SCRM-Event-Id": f"evt_{d.event_id}",
        SIGNATURE_HEADER: sign(body, d.endpoint.secret),
    }
    at = timezone.now()
    began = time.perf_counter()
    try:
        code, text = receivers.post(d.endpoint.url, body, headers)
    except Exception as exc:  # no answer: refused, reset, timed out, TLS, a bad host
        took = int((time.perf_counter() - began) * 1000)
        return _Result(d, at, None, f"{type(exc).__name__}: {exc}"[:2000], took)
    took = int((time.perf_counter() - began) * 1000)
    error = ""
    if not 200 <= code < 300:
        error = f"HTTP {code}"
        if 300 <= code < 400:
            error += " (redirects are not followed)"
        snippet = " ".join(text.split())[:RESPONSE_SNIPPET]
        if snippet:
            error += f": {snippet}"
    return _Result(d, at, code, error, took)


def _endpoints_alive(ids: set[int]) -> set[int]:
    """The endpoints of ``ids`` that still exist, held (FOR KEY SHARE) until the recording
    commits: a delete waits for it, or has already taken its deliveries and their attempts
    away. Key-share locks of workers recording at once do not wait for each other."""
    if not ids:
        return set()
    if connection.vendor != "postgresql":
        return set(WebhookEndpoint.objects.filter(pk__in=ids).values_list("pk", flat=True))
    table = WebhookEndpoint._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT id FROM "{table}" WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE',  # noqa: S608
            [sorted(ids)],
        )
        return {row[0] for row in cursor.fetchall()}


@transaction.atomic
def _record(
    results: list[_Result],
    postponed: list[tuple[WebhookDelivery, int]],
    released: list[WebhookDelivery],
    unreachable: dict[int, _Result],
    hold: datetime,
) -> None:
    now = timezone.now()
    alive = _endpoints_alive(
        {r.delivery.endpoint_id for r in results}
        | {e for _d, e in postponed}
        | {d.endpoint_id for d in released}
    )
    results = [r for r in results if r.delivery.endpoint_id in alive]
    postponed = [(d, e) for d, e in postponed if e in alive]
    released = [d for d in released if d.endpoint_id in alive]
    WebhookAttempt.objects.bulk_create(
        [
            WebhookAttempt(
                delivery_id=r.delivery.pk,
                at=r.at,
                status_code=r.status_code,
                error=r.error,
                duration_ms=r.duration_ms,
            )
            for r in results
        ],
        batch_size=1000,
    )
    delivered: dict[int, list[int]] = defaultdict(list)  # status code -> deliveries
    succeeded: set[int] = set()
    failed: dict[int, _Result] = {}  # endpoint -> its last failure of the batch
    first_failure: dict[int, datetime] = {}
    retry_at: dict[int, datetime] = {}
    for r in results:
        d = r.delivery
        if r.ok:
            delivered[r.status_code or 200].append(d.pk)
            succeeded.add(d.endpoint_id)
            continue
        failed[d.endpoint_id] = r
        first_failure.setdefault(d.endpoint_id, r.at)
        attempts = d.attempts + 1
        mine = WebhookDelivery.objects.filter(pk=d.pk, claimed_until=hold)
        if attempts >= MAX_ATTEMPTS:
            mine.update(
                status=WebhookDelivery.Status.FAILED,
                attempts=attempts,
                claimed_until=None,
                last_status_code=r.status_code,
                last_error=r.error,
            )
        else:
            retry_at[d.pk] = now + _backoff(attempts)
            mine.update(
                attempts=attempts,
                next_attempt_at=retry_at[d.pk],
                claimed_until=None,
                last_status_code=r.status_code,
                last_error=r.error,
            )
    for code, pks in delivered.items():
        WebhookDelivery.objects.filter(pk__in=pks, claimed_until=hold).update(
            status=WebhookDelivery.Status.DELIVERED,
            attempts=F("attempts") + 1,
            delivered_at=now,
            claimed_until=None,
            last_status_code=code,
            last_error="",
        )
    by_endpoint: dict[int, list[int]] = defaultdict(list)
    for d, endpoint_id in postponed:
        by_endpoint[endpoint_id].append(d.pk)
    for endpoint_id, pks in by_endpoint.items():
        # Not tried: due with the try that found the receiver unreachable.
        first = unreachable[endpoint_id].delivery.pk
        WebhookDelivery.objects.filter(pk__in=pks, claimed_until=hold).update(
            next_attempt_at=retry_at.get(first) or now + _backoff(1), claimed_until=None
        )
    if released:
        WebhookDelivery.objects.filter(pk__in=[d.pk for d in released], claimed_until=hold).update(
            claimed_until=None
        )
    if succeeded:
        WebhookEndpoint.objects.filter(pk__in=succeeded, failing_since__isnull=False).update(
            failing_since=None
        )
    down = {pk: r for pk, r in failed.items() if pk not in succeeded}
    if down:
        for endpoint_id in sorted(down):  # the run of failures began with this batch's first
            WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=True).update(
                failing_since=first_failure[endpoint_id]
            )
        for endpoint_id, r in sorted(down.items()):
            _endpoint_disable(endpoint_id, now=now, reason=r.error)
