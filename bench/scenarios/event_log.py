"""What writing the event log costs the set-based ingest: batches of 1,000 orders onto random
existing members through ``order_ingest_many``, each in a transaction that is rolled back (the
data set does not grow), alternately with the log written and with its writes switched off, so
both see the same database. Reports the median time per batch of each and the overhead."""

from __future__ import annotations

import random
import statistics
import time
import uuid
from datetime import timedelta
from decimal import Decimal

BATCH = 1000
ROUNDS = 20


def _batch(codes: list[str], run: str, n: int):
    from django.utils import timezone

    from members.services import LineIn, OrderIn

    rng = random.Random(n)
    now = timezone.now()
    items = []
    for k in range(BATCH):
        total = Decimal(20 + (k * 37) % 400)
        data = OrderIn(
            source="bench-log",
            external_id=f"{run}-{n}-{k}",
            member=rng.choice(codes),
            placed_at=now - timedelta(minutes=k),
            total=total,
            lines=[
                LineIn(
                    sku="SK-MASK-10", name="补水面膜", category="skincare", quantity=1, amount=total
                )
            ],
        )
        items.append((data, f"h{k}"))
    return items


def _timed(items, *, log: bool) -> tuple[float, int]:
    from django.db import transaction

    from members import events
    from members.models import Event
    from members.services.order_batch import order_ingest_many

    record, record_many = events.event_record, events.event_record_many
    if not log:
        events.event_record = lambda *a, **kw: None
        events.event_record_many = lambda rows: sum(1 for _ in rows)
    try:
        with transaction.atomic():
            before = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
            started = time.perf_counter()
            results = order_ingest_many(items=items)
            seconds = time.perf_counter() - started
            assert all(status == 201 for status, _body in results)
            written = Event.objects.filter(id__gt=before).count()
            transaction.set_rollback(True)
    finally:
        events.event_record, events.event_record_many = record, record_many
    return seconds, written


def run(args) -> dict:
    from members.models import Member

    rng = random.Random(7)
    max_id = Member.objects.order_by("-id").values_list("id", flat=True).first()
    ids = [rng.randint(1, max_id) for _ in range(5000)]
    codes = list(Member.objects.filter(id__in=ids).values_list("code", flat=True)[:3000])
    run_id = uuid.uuid4().hex[:8]
    _timed(_batch(codes, run_id, -1), log=True)  # warm the caches
    on: list[float] = []
    off: list[float] = []
    events_per_batch = 0
    for r in range(ROUNDS):
        order = (True, False) if r % 2 == 0 else (False, True)
        for log in order:
            seconds, written = _timed(_batch(codes, run_id, r * 2 + int(log)), log=log)
            (on if log else off).append(seconds)
            if log:
                events_per_batch = written
    with_log, without = statistics.median(on), statistics.median(off)
    return {
        "batch_orders": BATCH,
        "batches_each": ROUNDS,
        "events_per_batch": events_per_batch,
        "median_seconds_with_log": round(with_log, 3),
        "median_seconds_without_log": round(without, 3),
        "orders_per_second_with_log": round(BATCH / with_log, 1),
        "orders_per_second_without_log": round(BATCH / without, 1),
        "overhead_percent": round((with_log / without - 1) * 100, 1),
    }
