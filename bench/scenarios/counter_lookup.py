"""The clerk's look-up: one box, by full phone, last four digits or member code, within a store."""

from __future__ import annotations

import random
import statistics
import time


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct))]


def run(args) -> dict:
    from members.models import Member
    from members.selectors import member_for_store

    rng = random.Random(7)
    max_id = Member.objects.order_by("-id").values_list("id", flat=True).first() or 0
    timings: dict[str, list[float]] = {"phone": [], "last4": [], "code": []}
    samples = 0
    while samples < 300:
        member = (
            Member.objects.select_related("store").filter(id__gte=rng.randint(1, max_id)).first()
        )
        if member is None or member.store is None:
            continue
        samples += 1
        for kind, q in (
            ("phone", member.phone[3:]),
            ("last4", member.phone[-4:]),
            ("code", member.code),
        ):
            started = time.perf_counter()
            qs, _kind = member_for_store(store=member.store, q=q)
            list(qs[:20])
            timings[kind].append((time.perf_counter() - started) * 1000)
    return {
        **{f"{k}_p50_ms": round(statistics.median(v), 2) for k, v in timings.items()},
        **{f"{k}_p95_ms": round(percentile(v, 0.95), 2) for k, v in timings.items()},
    }
