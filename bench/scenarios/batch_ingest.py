"""The set-based batch ingest on its own, as the batch API and the CSV import use it: batches of
1,000 orders onto random existing members, each in a transaction that is rolled back, so repeated
runs (of this code and, for a comparison, of an earlier checkout) see the same data set. Reports
the median time per batch."""

from __future__ import annotations

import random
import statistics
import time
import uuid
from datetime import timedelta
from decimal import Decimal

BATCH = 1000
ROUNDS = 16


def _ingest_many():
    try:
        from members.services.order_batch import order_ingest_many
    except ImportError:  # a checkout from before the rename, for comparisons
        from members.services.bulk_orders import orders_ingest_many as order_ingest_many
    return order_ingest_many


def run(args) -> dict:
    from django.db import transaction
    from django.utils import timezone

    from members.models import Member
    from members.services import LineIn, OrderIn

    ingest = _ingest_many()
    rng = random.Random(5)
    max_id = Member.objects.order_by("-id").values_list("id", flat=True).first()
    ids = [rng.randint(1, max_id) for _ in range(5000)]
    codes = list(Member.objects.filter(id__in=ids).values_list("code", flat=True)[:3000])
    run_id = uuid.uuid4().hex[:8]
    now = timezone.now()
    timings = []
    for r in range(ROUNDS + 1):
        items = []
        for k in range(BATCH):
            total = Decimal(20 + (k * 37) % 400)
            data = OrderIn(
                source="bench-batch",
                external_id=f"{run_id}-{r}-{k}",
                member=rng.choice(codes),
                placed_at=now - timedelta(minutes=k),
                total=total,
                lines=[
                    LineIn(
                        sku="SK-MASK-10",
                        name="补水面膜",
                        category="skincare",
                        quantity=1,
                        amount=total,
                    )
                ],
            )
            items.append((data, f"h{k}"))
        with transaction.atomic():
            started = time.perf_counter()
            results = ingest(items=items)
            seconds = time.perf_counter() - started
            assert all(status == 201 for status, _body in results)
            transaction.set_rollback(True)
        if r:  # the first warms the caches
            timings.append(seconds)
    median = statistics.median(timings)
    return {
        "batch_orders": BATCH,
        "batches": ROUNDS,
        "median_seconds": round(median, 3),
        "orders_per_second": round(BATCH / median, 1),
        "min_seconds": round(min(timings), 3),
        "max_seconds": round(max(timings), 3),
    }
