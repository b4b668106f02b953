"""Webhooks out: 10,000 events fanned out to one endpoint by the event log's consumer handler
(``webhooks_on_events``, one transaction), then delivered to a local receiver (a threaded
HTTP/1.1 server in this process, which checks every signature) by two worker processes, each
running ``webhooks_deliver_due`` in a loop as the periodic task does. Reports deliveries per
second from the workers' start to the last delivery, and checks that the receiver got every
event, signed, under its own id. The endpoint, its deliveries and attempts are removed afterwards.

The events are the consumer's input built in memory (``members.models.Event`` rows as the log
hands them over, on random members of the data set): the log is append-only, and the benchmark
must leave the data set as it found it."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import secrets
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

EVENTS = 10_000
WORKERS = 2
BATCH = 100
ROOT = Path(__file__).resolve().parent.parent.parent
FIRST_EVENT_ID = 9_000_000_000  # far past the log's ids: the deliveries name no real event

WORKER = """
import os, sys, django
django.setup()
from campaigns.services.webhooks import webhooks_deliver_due
from campaigns.models import WebhookDelivery
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()  # go
endpoint = int(os.environ["BENCH_ENDPOINT"])
while True:
    if webhooks_deliver_due(limit=int(os.environ["BENCH_BATCH"])) == 0:
        if not WebhookDelivery.objects.filter(endpoint_id=endpoint, status="pending").exists():
            break
"""


class _Receiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.ids: dict[str, int] = {}
        self.bad = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                ok = receiver.check(raw, self.headers.get("X-SCRM-Signature", ""))
                self.send_response(204 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def check(self, raw: bytes, signature: str) -> bool:
        expected = "sha256=" + hmac.new(self.secret, raw, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(signature, expected)
        event_id = json.loads(raw)["id"]
        with self.lock:
            if ok:
                self.ids[event_id] = self.ids.get(event_id, 0) + 1
            else:
                self.bad += 1
        return ok

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _events(n: int) -> list:
    from django.utils import timezone

    from members.models import Event, Member

    rng = random.Random(5)
    max_id = Member.objects.order_by("-id").values_list("id", flat=True).first()
    member_ids = sorted({rng.randint(1, max_id) for _ in range(n)})
    member_ids = list(Member.objects.filter(id__in=member_ids).values_list("id", flat=True))
    now = timezone.now()
    out = []
    for i in range(n):
        k = rng.random()
        if k < 0.8:
            kind, payload = "order_ingested", {"order_id": 70_000_000 + i, "total": "199.00"}
        elif k < 0.9:
            kind, payload = "tier_changed", {"from_code": "member", "to_code": "vip"}
        else:
            kind, payload = "voucher_issued", {"voucher_code": f"V{i:08d}", "source": "rule"}
        out.append(
            Event(
                pk=FIRST_EVENT_ID + i,
                type=kind,
                member_id=rng.choice(member_ids),
                payload=payload,
                occurred_at=now - timedelta(seconds=n - i),
            )
        )
    return out


def run(args) -> dict:
    from django.db import connection, transaction

    from campaigns.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
    from campaigns.services.webhooks import webhooks_on_events

    secret = secrets.token_hex(32)
    receiver = _Receiver(secret)
    endpoint = WebhookEndpoint.objects.create(
        url=receiver.url,
        types=["order.ingested", "tier.changed", "voucher.issued"],
        description="bench",
        secret=secret,
    )
    procs: list[subprocess.Popen] = []
    try:
        batch = _events(EVENTS)
        started = time.monotonic()
        with transaction.atomic():
            webhooks_on_events(batch)
        fan_out = time.monotonic() - started
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE campaigns_webhookdelivery")
        env = {**os.environ, "BENCH_BATCH": str(BATCH), "BENCH_ENDPOINT": str(endpoint.pk)}
        procs = [
            subprocess.Popen(  # noqa: S603
                [sys.executable, "-c", WORKER],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(WORKERS)
        ]
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        started = time.monotonic()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:
            p.wait(timeout=600)
        wall = time.monotonic() - started
        deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
        delivered = deliveries.filter(status="delivered").count()
        attempts = WebhookAttempt.objects.filter(delivery__endpoint=endpoint)
        tries = attempts.count()
        durations = sorted(attempts.values_list("duration_ms", flat=True))
        assert all(p.returncode == 0 for p in procs), [p.returncode for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        receiver.stop()
        # The endpoint takes its deliveries and their attempts with it.
        WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()
    left = WebhookDelivery.objects.filter(endpoint_id=endpoint.pk).count()
    received = sum(receiver.ids.values())
    return {
        "events": EVENTS,
        "workers": WORKERS,
        "batch": BATCH,
        "fan_out_seconds": round(fan_out, 2),
        "delivered": delivered,
        "attempts": tries,
        "received_signed": received,
        "received_unsigned": receiver.bad,
        "distinct_ids_received": len(receiver.ids),
        "ids_received_more_than_once": sum(1 for n in receiver.ids.values() if n > 1),
        "p50_post_ms": durations[len(durations) // 2] if durations else None,
        "deliver_wall_seconds": round(wall, 2),
        "deliveries_per_second": round(delivered / wall, 1),
        "goal_deliveries_per_second": 200,
        "rows_left_after_cleanup": left,
    }
