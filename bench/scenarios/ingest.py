"""Order ingest through the API: p95 of single orders, and orders per second through the batch
endpoint with two client processes (one per core), on the benchmark data set."""

from __future__ import annotations

import multiprocessing
import random
import statistics
import time
import uuid

BATCH = 1000


def _order(member_code: str, i: int, run_id: str) -> dict:
    total = f"{20 + (i * 37) % 400}.00"
    return {
        "source": "bench",
        "external_id": f"{run_id}-{i}",
        "member": member_code,
        "placed_at": "2026-11-22T10:31:00+08:00",
        "total": total,
        "lines": [
            {
                "sku": "SK-MASK-10",
                "name": "补水面膜",
                "category": "skincare",
                "quantity": 1,
                "amount": total,
            }
        ],
    }


def _client(key: str):
    from django.test import Client

    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def _codes(n: int) -> list[str]:
    from members.models import Member

    rng = random.Random(11)
    max_id = Member.objects.order_by("-id").values_list("id", flat=True).first()
    ids = [rng.randint(1, max_id) for _ in range(n)]
    return list(Member.objects.filter(id__in=ids).values_list("code", flat=True))


def _batch_worker(args: tuple) -> int:
    key, codes, start, count, run_id = args
    import django
    from django.db import connection

    django.setup()
    client = _client(key)
    sent = 0
    for offset in range(start, start + count, BATCH):
        size = min(BATCH, start + count - offset)
        orders = [_order(codes[(offset + j) % len(codes)], offset + j, run_id) for j in range(size)]
        r = client.post(
            "/api/v1/orders/batch/", {"orders": orders}, content_type="application/json"
        )
        assert r.status_code == 200, r.content[:300]
        assert all(x["status"] == 201 for x in r.json()["results"]), r.content[:300]
        sent += size
    connection.close()
    return sent


def run(args) -> dict:
    from django.db import connection

    from accounts.services import apikey_create

    _key, plain = apikey_create(
        name=f"bench-{uuid.uuid4().hex[:6]}", rate_per_minute=10_000_000, actor=None
    )
    codes = _codes(5000)
    run_id = uuid.uuid4().hex[:8]

    client = _client(plain)
    latencies = []
    for i in range(300):
        body = _order(codes[i % len(codes)], i, f"{run_id}-single")
        started = time.perf_counter()
        r = client.post("/api/v1/orders/", body, content_type="application/json")
        latencies.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 201, r.content[:300]

    total = args.orders
    workers = 2
    per = total // workers
    connection.close()
    started = time.monotonic()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        sent = sum(
            pool.map(
                _batch_worker,
                [(plain, codes, w * per, per, f"{run_id}-batch") for w in range(workers)],
            )
        )
    seconds = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "single_orders": len(latencies),
        "single_p50_ms": round(statistics.median(latencies), 1),
        "single_p95_ms": round(ordered[int(len(ordered) * 0.95)], 1),
        "batch_orders": sent,
        "batch_seconds": round(seconds, 1),
        "batch_orders_per_second": round(sent / seconds, 1),
        "client_processes": workers,
    }
