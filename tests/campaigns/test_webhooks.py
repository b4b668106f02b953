"""Webhooks out, end to end on PostgreSQL: events from the durable log become signed POSTs to a
real receiver on a local socket, which checks the signature as a real one would. Retries with
backoff (time travels between tries), nothing from a rolled-back transaction, nothing lost when
the writer dies after its commit, one id per event, and an endpoint failing for a day turned off.
Then the API and the console pages."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import time_machine
from django.db import connection, transaction
from django.test import Client
from django.utils import translation

from accounts.models import AuditEntry
from accounts.services import apikey_create
from campaigns.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from campaigns.services import webhooks
from campaigns.services.webhooks import (
    webhook_delivery_retry,
    webhook_endpoint_create,
    webhooks_deliver_due,
    webhooks_on_events,
)
from members import events
from members.models import Event
from tests.factories import MemberFactory
from tests.members.helpers import buy

ROOT = Path(__file__).resolve().parent.parent.parent
CONSUMER = "campaigns.webhooks"
# Tomorrow 10:00 in Shanghai: after anything the test wrote before travelling there.
T0 = (datetime.now(UTC) + timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)


class Receiver:
    """A webhook receiver on a real socket (HTTP/1.1, keep-alive). It checks each request's
    signature with the endpoint's secret and answers 401 to a bad one; otherwise it answers the
    next status of ``script`` (then 200), after ``delay`` seconds when set for that request."""

    def __init__(self) -> None:
        self.secret = ""
        self.script: list[int] = []
        self.delays: dict[int, float] = {}
        self.got: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver._answer(self, raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/scrm"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _answer(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        expected = "sha256=" + hmac.new(self.secret.encode(), raw, hashlib.sha256).hexdigest()
        verified = hmac.compare_digest(handler.headers.get("X-SCRM-Signature", ""), expected)
        with self.lock:
            n = len(self.got)
            self.got.append(
                {"raw": raw, "verified": verified, "path": handler.path, "headers": handler.headers}
            )
            status = (self.script.pop(0) if self.script else 200) if verified else 401
        delay = self.delays.get(n)
        if delay:
            threading.Event().wait(delay)  # fault injection: a slow receiver
        answer = b'{"ok": true}' if status < 300 else b"<html>Internal Server Error</html>"
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(answer)))
            handler.end_headers()
            handler.wfile.write(answer)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender gave up waiting

    @property
    def bodies(self) -> list[dict]:
        return [json.loads(r["raw"]) for r in self.got]

    def ids(self) -> list[str]:
        return [b["id"] for b in self.bodies]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(autouse=True)
def _loopback_http(settings):
    settings.SCRM_WEBHOOK_ALLOW_HTTP_LOOPBACK = True


def _endpoint(receiver: Receiver, types=("order.ingested",), **kw) -> WebhookEndpoint:
    endpoint = webhook_endpoint_create(url=receiver.url, types=list(types), actor=None, **kw)
    receiver.secret = endpoint.secret
    return endpoint


def _consumer_ready() -> None:
    """The consumer starts at the end of the log: make its place before the test's events."""
    events.events_drain(CONSUMER)


def _drain_and_deliver() -> int:
    events.events_drain(CONSUMER)
    total = 0
    while n := webhooks_deliver_due():
        total += n
    return total


def _travel_to_due(traveller, delivery: WebhookDelivery) -> None:
    delivery.refresh_from_db()
    traveller.move_to(delivery.next_attempt_at + timedelta(seconds=1))


# --- Delivery ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_receiver_gets_the_event_signed_with_the_endpoint_secret(receiver):
    _consumer_ready()
    endpoint = _endpoint(receiver, types=["order.ingested"])
    member = MemberFactory(code="MHOOK23")
    buy(member, 120)
    assert _drain_and_deliver() == 1
    assert len(receiver.got) == 1
    request = receiver.got[0]
    assert request["verified"], "the signature is the HMAC-SHA256 of the raw body"
    assert request["path"] == "/hooks/scrm"
    assert request["headers"]["Content-Type"] == "application/json; charset=utf-8"
    body = json.loads(request["raw"])
    event = Event.objects.get(type=events.ORDER_INGESTED, member=member)
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["id"] == f"evt_{event.pk}" and body["type"] == "order.ingested"
    assert body["created_at"].endswith("+08:00")
    assert datetime.fromisoformat(body["created_at"]) == event.occurred_at
    assert body["data"]["member"] == "MHOOK23"
    assert body["data"] == {"member": "MHOOK23", **event.payload} and body["data"]["order_id"]
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == "delivered" and delivery.body.encode() == request["raw"]
    assert list(delivery.tries.values_list("status_code", flat=True)) == [200]
    # Only the types the endpoint chose: the lifecycle change of that order is not sent.
    assert Event.objects.filter(member=member, type=events.LIFECYCLE_CHANGED).exists()
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_receiver_with_another_secret_refuses_and_the_event_waits(receiver):
    _consumer_ready()
    endpoint = _endpoint(receiver)
    receiver.secret = "not-the-endpoint-secret"
    buy(MemberFactory(), 80)
    _drain_and_deliver()
    assert [r["verified"] for r in receiver.got] == [False]
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == "pending" and delivery.last_status_code == 401
    assert delivery.last_error.startswith("HTTP 401")


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_answers_500_twice_gets_the_event_on_the_third_try(receiver):
    _consumer_ready()
    with time_machine.travel(T0, tick=True) as traveller:
        endpoint = _endpoint(receiver)
        receiver.script = [500, 500]
        buy(MemberFactory(), 99)
        assert _drain_and_deliver() == 1
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        assert delivery.status == "pending" and delivery.attempts == 1
        wait = delivery.next_attempt_at - T0
        assert timedelta(seconds=23) < wait < timedelta(seconds=37)  # 30 s, with jitter
        endpoint.refresh_from_db()
        assert endpoint.failing_since is not None
        assert webhooks_deliver_due() == 0  # not due yet: nothing is sent
        assert len(receiver.got) == 1

        _travel_to_due(traveller, delivery)
        assert webhooks_deliver_due() == 1
        delivery.refresh_from_db()
        assert delivery.status == "pending" and delivery.attempts == 2
        assert delivery.next_attempt_at - T0 > timedelta(seconds=70)  # then 60 s, doubled

        _travel_to_due(traveller, delivery)
        assert webhooks_deliver_due() == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 3
    assert len(receiver.got) == 3 and all(r["verified"] for r in receiver.got)
    assert len({r["raw"] for r in receiver.got}) == 1  # the same bytes, the same id, each time
    codes = list(delivery.tries.order_by("at", "id").values_list("status_code", flat=True))
    assert codes == [500, 500, 200]
    assert "Internal Server Error" in delivery.tries.order_by("at").first().error
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.is_active  # the success cleared it


@pytest.mark.django_db(transaction=True)
def test_an_event_of_a_rolled_back_transaction_is_never_delivered(receiver):
    _consumer_ready()
    _endpoint(receiver)
    member = MemberFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        buy(member, 300)
        raise RuntimeError("the order's transaction rolls back")
    assert _drain_and_deliver() == 0
    assert receiver.got == [] and not WebhookDelivery.objects.exists()
    buy(member, 50)  # the next one, committed, goes
    assert _drain_and_deliver() == 1
    assert [b["data"]["total"] for b in receiver.bodies] == ["50"]


@pytest.mark.django_db(transaction=True)
def test_an_event_whose_writer_dies_right_after_its_commit_is_still_delivered(receiver):
    _consumer_ready()
    _endpoint(receiver, types=["order.ingested", "tier.changed"])
    member = MemberFactory(code="MKILL42")
    buy(member, 100)
    buy(member, 100)
    _drain_and_deliver()
    before = len(receiver.got)
    db = connection.settings_dict
    script = (
        "import os, signal, django; django.setup()\n"
        "from decimal import Decimal\n"
        "from django.utils import timezone\n"
        "from members.services import LineIn, OrderIn, order_ingest\n"
        "order_ingest(data=OrderIn(source='pos', external_id='HOOK-KILL-1', member='MKILL42',"
        " placed_at=timezone.now(), total=Decimal(100),"
        " lines=[LineIn(sku='K', quantity=1, amount=Decimal(100))]), hash_='k')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "scrm.settings.test",
    }
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert _drain_and_deliver() == 2
    new = receiver.bodies[before:]
    assert sorted(b["type"] for b in new) == ["order.ingested", "tier.changed"]  # the 3rd: VIP
    assert all(r["verified"] for r in receiver.got)
    assert {b["data"]["member"] for b in new} == {"MKILL42"}


@pytest.mark.django_db(transaction=True)
def test_two_events_never_share_an_id_at_the_receiver(receiver):
    """Many events of several types, a receiver that fails every third request, two workers
    at once, and a consumer batch handed over twice: each id the receiver sees always carries the
    same body, and the ids are exactly the log's events."""
    _consumer_ready()
    endpoint = _endpoint(receiver, types=list(webhooks.WEBHOOK_TYPES))
    members = [MemberFactory() for _ in range(6)]
    for member in members:
        for _ in range(3):
            buy(member, 100)  # orders, and a tier change at the 3rd
    receiver.script = [500 if i % 3 == 0 else 200 for i in range(200)]
    events.events_drain(CONSUMER)
    logged = list(
        Event.objects.filter(type__in=webhooks.LOG_TO_API, member__in=members).order_by("id")
    )
    webhooks_on_events(logged)  # the same batch again: nothing new
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == len(logged)

    with time_machine.travel(T0, tick=True) as traveller:
        for _round in range(6):

            def worker() -> None:
                try:
                    while webhooks_deliver_due(limit=7):
                        pass
                finally:
                    connection.close()

            threads = [threading.Thread(target=worker) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if not WebhookDelivery.objects.filter(status="pending").exists():
                break
            traveller.shift(timedelta(hours=1))
    assert not WebhookDelivery.objects.exclude(status="delivered").exists()
    bodies_by_id: dict[str, set[bytes]] = {}
    for r in receiver.got:
        bodies_by_id.setdefault(json.loads(r["raw"])["id"], set()).add(r["raw"])
    assert all(len(bodies) == 1 for bodies in bodies_by_id.values())
    assert set(bodies_by_id) == {f"evt_{e.pk}" for e in logged}
    assert len(receiver.got) > len(logged)  # retries happened: the same ids came again


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_receiver_costs_one_timeout_a_batch_and_is_retried(receiver, settings):
    settings.SCRM_WEBHOOK_TIMEOUT = 0.5
    _consumer_ready()
    endpoint = _endpoint(receiver)
    receiver.delays = {0: 2.0}  # the first request hangs past the timeout
    for _ in range(3):
        buy(MemberFactory(), 10)
    assert _drain_and_deliver() == 3
    tries = list(WebhookAttempt.objects.filter(delivery__endpoint=endpoint))
    assert len(tries) == 1, "the other two wait for the same retry instead of timing out too"
    assert tries[0].status_code is None and "timed out" in tries[0].error
    pending = WebhookDelivery.objects.filter(endpoint=endpoint, status="pending")
    assert pending.count() == 3
    assert sorted(pending.values_list("attempts", flat=True)) == [0, 0, 1]
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=2), tick=True):
        assert webhooks_deliver_due() == 3
    assert WebhookDelivery.objects.filter(endpoint=endpoint, status="delivered").count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_dies_before_recording_leaves_the_delivery_to_the_next(
    receiver, monkeypatch, settings
):
    """At-least-once: posted, then the worker dies before it records. The row stays held for the
    lease, then the next worker posts it again, with the same id for the receiver to drop."""
    settings.SCRM_OUTBOX_LEASE_SECONDS = 60
    _consumer_ready()
    endpoint = _endpoint(receiver)
    buy(MemberFactory(), 10)
    events.events_drain(CONSUMER)

    def died(*args, **kwargs):
        raise SystemExit("killed")

    with time_machine.travel(T0, tick=True) as traveller:
        monkeypatch.setattr(webhooks, "_record", died)
        with pytest.raises(SystemExit):
            webhooks_deliver_due()
        monkeypatch.undo()
        assert webhooks_deliver_due() == 0  # held by the dead worker
        traveller.shift(timedelta(seconds=61))
        assert webhooks_deliver_due() == 1
    assert len(receiver.got) == 2 and len(set(receiver.ids())) == 1
    assert WebhookDelivery.objects.get(endpoint=endpoint).status == "delivered"


@pytest.mark.django_db(transaction=True)
def test_an_endpoint_failing_for_a_day_is_turned_off_with_a_notice_and_back_on(receiver):
    admin = Client()
    from accounts import roles
    from tests.factories import make_staff

    admin.force_login(make_staff(roles.ADMIN, email="a@example.com"))
    _consumer_ready()
    with time_machine.travel(T0, tick=True) as traveller:
        endpoint = _endpoint(receiver)
        receiver.script = [500] * 1000
        buy(MemberFactory(), 10)
        _drain_and_deliver()
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        endpoint.refresh_from_db()
        assert endpoint.failing_since == delivery.tries.get().at
        page = admin.get("/console/webhooks/").content.decode()
        assert 'data-webhook-status="failing"' in page
        while True:  # keep failing, hour after hour, up to just before a day
            delivery.refresh_from_db()
            assert delivery.status == "pending", "it keeps trying for the whole day"
            if delivery.next_attempt_at > T0 + timedelta(hours=23, minutes=59):
                break
            _travel_to_due(traveller, delivery)
            webhooks_deliver_due()
        endpoint.refresh_from_db()
        assert endpoint.is_active, "23 hours of failures: still on"
        day = T0 + timedelta(hours=24, minutes=1)
        traveller.move_to(max(day, delivery.next_attempt_at + timedelta(seconds=1)))
        assert webhooks_deliver_due() == 1
        endpoint.refresh_from_db()
        assert not endpoint.is_active and endpoint.disabled_at is not None
        assert endpoint.disabled_reason.startswith("HTTP 500")
        assert AuditEntry.objects.filter(
            action="webhook.disabled", target_id=str(endpoint.pk), actor=None
        ).exists()
        sent = len(receiver.got)
        buy(MemberFactory(), 10)  # while it is off: not kept for it, nothing sent
        traveller.shift(timedelta(hours=2))
        _drain_and_deliver()
        assert len(receiver.got) == sent
        assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1

        listing = admin.get("/console/webhooks/").content.decode()
        assert "data-webhook-notice" in listing and 'data-webhook-status="off"' in listing
        detail = admin.get(f"/console/webhooks/{endpoint.pk}/").content.decode()
        assert "data-webhook-notice" in detail and "HTTP 500" in detail

        receiver.script = []  # the receiver is fixed
        response = admin.post(f"/console/webhooks/{endpoint.pk}/enable/")
        assert response.status_code == 302
        endpoint.refresh_from_db()
        assert endpoint.is_active and endpoint.failing_since is None and not endpoint.disabled_at
        assert webhooks_deliver_due() == 1  # its waiting delivery is due at once
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert AuditEntry.objects.filter(action="webhook.enabled", target_id=str(endpoint.pk)).exists()


@pytest.mark.django_db(transaction=True)
def test_a_delivery_that_gave_up_can_be_queued_again(receiver):
    _consumer_ready()
    endpoint = _endpoint(receiver)
    buy(MemberFactory(), 10)
    events.events_drain(CONSUMER)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status="failed", attempts=webhooks.MAX_ATTEMPTS, last_error="HTTP 500"
    )
    assert webhooks_deliver_due() == 0
    webhook_delivery_retry(delivery=delivery, actor=None)
    assert webhooks_deliver_due() == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 1
    from scrm.exceptions import ApplicationError

    with translation.override("en"), pytest.raises(ApplicationError, match="delivered already"):
        webhook_delivery_retry(delivery=delivery, actor=None)
    assert AuditEntry.objects.filter(action="webhook.delivery_retried").count() == 1


@pytest.mark.django_db
def test_the_last_allowed_attempt_gives_up(receiver):
    endpoint = _endpoint(receiver)
    receiver.script = [503]
    d = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=1,
        event_type="order.ingested",
        body='{"id":"evt_1"}',
        attempts=webhooks.MAX_ATTEMPTS - 1,
    )
    assert webhooks_deliver_due() == 1
    d.refresh_from_db()
    assert d.status == "failed" and d.attempts == webhooks.MAX_ATTEMPTS
    assert d.last_status_code == 503


# --- Endpoints: rules --------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.example.com/scrm", True),
        ("https://10.0.0.8:8443/in", True),
        ("http://hooks.example.com/scrm", False),
        ("http://192.168.1.5/scrm", False),
        ("ftp://hooks.example.com/", False),
        ("https://user:pw@hooks.example.com/", False),
        ("hooks.example.com", False),
    ],
)
def test_only_https_urls_are_accepted(url, allowed, settings):
    from scrm.exceptions import ApplicationError

    settings.SCRM_WEBHOOK_ALLOW_HTTP_LOOPBACK = False
    if allowed:
        assert webhook_endpoint_create(url=url, types=["tier.changed"]).url == url
    else:
        with pytest.raises(ApplicationError) as caught:
            webhook_endpoint_create(url=url, types=["tier.changed"])
        assert "url" in caught.value.fields


@pytest.mark.django_db
def test_plain_http_only_to_this_machine_and_only_when_allowed(settings):
    from scrm.exceptions import ApplicationError

    settings.SCRM_WEBHOOK_ALLOW_HTTP_LOOPBACK = False
    with pytest.raises(ApplicationError):
        webhook_endpoint_create(url="http://127.0.0.1:9000/x", types=["tier.changed"])
    settings.DEBUG = True
    assert webhook_endpoint_create(url="http://localhost:9000/x", types=["tier.changed"])


@pytest.mark.django_db
def test_types_are_checked_and_kept_in_the_contracts_order():
    from scrm.exceptions import ApplicationError

    endpoint = webhook_endpoint_create(
        url="https://h.example.com/", types=["voucher.issued", "member.created", "voucher.issued"]
    )
    assert endpoint.types == ["member.created", "voucher.issued"]
    assert re.fullmatch(r"[0-9a-f]{64}", endpoint.secret)
    for bad in ([], ["order.created"]):
        with pytest.raises(ApplicationError) as caught:
            webhook_endpoint_create(url="https://h.example.com/", types=bad)
        assert "types" in caught.value.fields
    entry = AuditEntry.objects.get(action="webhook.created")
    assert "secret" not in entry.after and endpoint.secret not in json.dumps(entry.after)


# --- API -------------------------------------------------------------------------------------


def _key_client(store=None) -> Client:
    _key, plain = apikey_create(name="integration", store=store, actor=None)
    return Client(HTTP_AUTHORIZATION=f"Bearer {plain}")


@pytest.mark.django_db
def test_the_api_creates_lists_and_deletes_endpoints():
    api = _key_client()
    created = api.post(
        "/api/v1/webhooks/",
        {"url": "https://erp.example.com/scrm", "types": ["order.ingested", "tier.changed"]},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert {"id", "url", "types", "secret"} <= set(body)
    assert re.fullmatch(r"[0-9a-f]{64}", body["secret"])
    assert body["types"] == ["order.ingested", "tier.changed"]
    assert WebhookEndpoint.objects.get(pk=body["id"]).secret == body["secret"]

    listed = api.get("/api/v1/webhooks/").json()
    assert listed["count"] == 1 and listed["next"] is None
    row = listed["results"][0]
    assert row["id"] == body["id"] and row["url"] == "https://erp.example.com/scrm"
    assert "secret" not in row and body["secret"] not in json.dumps(listed)

    assert api.delete(f"/api/v1/webhooks/{body['id']}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()
    gone = api.delete(f"/api/v1/webhooks/{body['id']}/")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    actions = set(AuditEntry.objects.values_list("action", "via"))
    assert {("webhook.created", "api"), ("webhook.deleted", "api")} <= actions


@pytest.mark.django_db
def test_a_store_scoped_key_may_not_manage_webhooks(store_sh):
    endpoint = webhook_endpoint_create(url="https://h.example.com/", types=["tier.changed"])
    api = _key_client(store=store_sh)
    for response in (
        api.get("/api/v1/webhooks/"),
        api.post(
            "/api/v1/webhooks/",
            {"url": "https://h.example.com/", "types": ["tier.changed"]},
            content_type="application/json",
        ),
        api.delete(f"/api/v1/webhooks/{endpoint.pk}/"),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
        assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert WebhookEndpoint.objects.count() == 1


@pytest.mark.django_db
def test_the_api_refuses_bad_endpoints_in_the_error_shape(settings):
    settings.SCRM_WEBHOOK_ALLOW_HTTP_LOOPBACK = False
    api = _key_client()
    for data, field in (
        ({"url": "http://erp.example.com/", "types": ["tier.changed"]}, "url"),
        ({"url": "https://erp.example.com/", "types": ["tier.created"]}, "types[0]"),
        ({"url": "https://erp.example.com/", "types": []}, "types"),
        ({"types": ["tier.changed"]}, "url"),
    ):
        response = api.post("/api/v1/webhooks/", data, content_type="application/json")
        assert response.status_code == 400, data
        assert field in response.json()["error"]["fields"], response.json()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_an_idempotent_create_replays_the_first_answer():
    api = _key_client()
    data = {"url": "https://erp.example.com/scrm", "types": ["member.created"]}
    first = api.post(
        "/api/v1/webhooks/", data, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    again = api.post(
        "/api/v1/webhooks/", data, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() and WebhookEndpoint.objects.count() == 1
    other = api.post(
        "/api/v1/webhooks/",
        {**data, "description": "changed"},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_mismatch"


@pytest.mark.django_db
def test_operators_sessions_may_use_the_webhook_api_clerks_may_not(operator_client, clerk_client):
    assert operator_client.get("/api/v1/webhooks/").status_code == 200
    assert clerk_client.get("/api/v1/webhooks/").status_code == 403


# --- Console ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_console_registers_an_endpoint_and_shows_its_secret_once(operator_client):
    empty = operator_client.get("/console/webhooks/")
    assert empty.status_code == 200 and "/console/webhooks/new/" in empty.content.decode()
    assert operator_client.get("/console/webhooks/new/").status_code == 200
    refused = operator_client.post(
        "/console/webhooks/new/", {"url": "http://erp.example.com/", "types": ["tier.changed"]}
    )
    assert refused.status_code == 200 and "https://" in refused.content.decode()
    assert not WebhookEndpoint.objects.exists()
    response = operator_client.post(
        "/console/webhooks/new/",
        {"url": "https://erp.example.com/in", "types": ["tier.changed", "voucher.issued"]},
    )
    endpoint = WebhookEndpoint.objects.get()
    assert (
        response.status_code == 302 and response["Location"] == f"/console/webhooks/{endpoint.pk}/"
    )
    shown = operator_client.get(response["Location"]).content.decode()
    assert endpoint.secret in shown and "data-webhook-secret" in shown
    again = operator_client.get(response["Location"]).content.decode()
    assert endpoint.secret not in again
    listing = operator_client.get("/console/webhooks/").content.decode()
    assert "https://erp.example.com/in" in listing and 'data-webhook-status="active"' in listing
    assert endpoint.secret not in listing
    assert AuditEntry.objects.filter(action="webhook.created", via="web").exists()


@pytest.fixture
def logged_endpoint(db):
    endpoint = webhook_endpoint_create(
        url="https://erp.example.com/in", types=["order.ingested"], description="ERP"
    )
    for i, status in enumerate(["delivered", "failed", "pending"] * 4):
        d = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event_id=1000 + i,
            event_type="order.ingested",
            body=json.dumps({"id": f"evt_{1000 + i}", "type": "order.ingested"}),
            status=status,
            attempts=2,
        )
        WebhookAttempt.objects.create(delivery=d, status_code=502, error="HTTP 502: bad gateway")
        WebhookAttempt.objects.create(
            delivery=d, status_code=200 if status == "delivered" else None
        )
    return endpoint


def test_the_detail_page_lists_deliveries_with_their_answers_and_filters(
    operator_client, logged_endpoint, django_assert_max_num_queries
):
    url = f"/console/webhooks/{logged_endpoint.pk}/"
    with django_assert_max_num_queries(12):
        page = operator_client.get(url)
    body = page.content.decode()
    assert page.status_code == 200
    assert body.count("data-delivery=") == 12 and "502" in body
    failed = operator_client.get(url, {"status": "failed"}, HTTP_HX_REQUEST="true")
    text = failed.content.decode()
    assert "<html" not in text and text.count("data-delivery=") == 4
    assert 'data-status="delivered"' not in text
    with django_assert_max_num_queries(10):
        assert operator_client.get("/console/webhooks/").status_code == 200
    one = logged_endpoint.deliveries.filter(status="failed").first()
    detail = operator_client.get(f"/console/webhooks/deliveries/{one.pk}/").content.decode()
    assert detail.count("data-attempt") == 2 and "HTTP 502: bad gateway" in detail
    assert webhooks.sign(one.body.encode(), logged_endpoint.secret) in detail


def test_a_failed_delivery_is_retried_from_the_console(operator_client, logged_endpoint):
    one = logged_endpoint.deliveries.filter(status="failed").first()
    response = operator_client.post(
        f"/console/webhooks/deliveries/{one.pk}/retry/", {"from_endpoint": logged_endpoint.pk}
    )
    assert response["Location"] == f"/console/webhooks/{logged_endpoint.pk}/"
    one.refresh_from_db()
    assert one.status == "pending" and one.attempts == 0
    done = logged_endpoint.deliveries.filter(status="delivered").first()
    operator_client.post(f"/console/webhooks/deliveries/{done.pk}/retry/")
    done.refresh_from_db()
    assert done.status == "delivered"


def test_deleting_an_endpoint_asks_first(operator_client, logged_endpoint):
    url = f"/console/webhooks/{logged_endpoint.pk}/delete/"
    confirm = operator_client.get(url)
    assert confirm.status_code == 200 and "erp.example.com" in confirm.content.decode()
    assert operator_client.post(url, {}).status_code == 200  # no confirmation: nothing goes
    assert WebhookEndpoint.objects.filter(pk=logged_endpoint.pk).exists()
    response = operator_client.post(url, {"confirm": "delete"})
    assert response.status_code == 302 and response["Location"] == "/console/webhooks/"
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    entry = AuditEntry.objects.get(action="webhook.deleted")
    assert entry.before["url"] == "https://erp.example.com/in" and "secret" not in entry.before


def test_clerks_and_members_see_no_webhook_pages(clerk_client, member_client, logged_endpoint):
    for client in (clerk_client, member_client):
        assert client.get("/console/webhooks/").status_code == 403
        assert client.get(f"/console/webhooks/{logged_endpoint.pk}/").status_code == 403
        assert (
            client.post(
                f"/console/webhooks/{logged_endpoint.pk}/delete/", {"confirm": "delete"}
            ).status_code
            == 403
        )
    assert WebhookEndpoint.objects.exists()
