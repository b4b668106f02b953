"""The outbox relay: 100,000 queued portal messages onto random members, relayed by two worker
processes at once (each runs the relay task's loop: claim with SKIP LOCKED, judge the guard
rails, deliver). Reports messages per second from the first claim to the last delivery, and
checks that every message was delivered exactly once. The rows are removed afterwards."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

MESSAGES = 100_000
WORKERS = 2
BATCH = 500
ROOT = Path(__file__).resolve().parent.parent.parent

WORKER = """
import os, django
django.setup()
from campaigns.services.outbox import outbox_relay_batch
empty = 0
while empty < 3:
    n = outbox_relay_batch(limit=int(os.environ["BENCH_BATCH"]))
    empty = empty + 1 if n == 0 else 0
"""


def _queue(run: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM members_member")
        (max_id,) = cursor.fetchone()
        # Set-based, as a campaign's launch writes them: one INSERT ... SELECT.
        cursor.execute(
            """
            INSERT INTO campaigns_message
              (source_type, source_id, member_id, channel, kind, language, subject, text, status,
               reason, attempts, scheduled_for, created_at, updated_at, provider_id, last_error)
            SELECT 'system', %s || '-' || g, m.id, 'portal', 'service', 'zh-hans', '',
                   '您的积分即将到期，请在会员中心查看', 'queued', '', 0, now(), now(), now(), '', ''
            FROM generate_series(1, %s) AS g
            JOIN LATERAL (
              SELECT id FROM members_member WHERE id >= (g * 7919 %% %s) + 1 ORDER BY id LIMIT 1
            ) AS m ON true
            """,
            [f"bench-{run}", MESSAGES, max_id],
        )
        cursor.execute("ANALYZE campaigns_message")


def run(args) -> dict:
    from django.db import connection

    run_id = uuid.uuid4().hex[:8]
    random.seed(3)
    started = time.monotonic()
    _queue(run_id)
    queued_seconds = time.monotonic() - started
    env = {**os.environ, "BENCH_BATCH": str(BATCH)}
    started = time.monotonic()
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=env)  # noqa: S603
        for _ in range(WORKERS)
    ]
    for p in procs:
        p.wait()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(delivered_at) - min(delivered_at), count(*) FILTER (WHERE status = 'delivered'),"
            " count(*) FILTER (WHERE attempts <> 1), count(*)"
            " FROM campaigns_message WHERE source_id LIKE %s",
            [f"bench-{run_id}-%"],
        )
        span, delivered, not_once, total = cursor.fetchone()
    wall = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM campaigns_message WHERE source_id LIKE %s", [f"bench-{run_id}-%"]
        )
    assert all(p.returncode == 0 for p in procs), [p.returncode for p in procs]
    return {
        "messages": total,
        "workers": WORKERS,
        "batch": BATCH,
        "queue_seconds": round(queued_seconds, 1),
        "delivered": delivered,
        "delivered_not_exactly_once": not_once,
        "relay_wall_seconds": round(wall, 1),
        "messages_per_second": round(delivered / wall, 1),
        "first_to_last_delivery_seconds": round(span.total_seconds(), 1) if span else None,
        "goal_messages_per_second": 500,
    }
