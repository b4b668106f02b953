"""The clerk's look-up: one box, by full phone, last four digits or member code, within a store."""

from __future__ import annotations

import random
import statistics
import time

DEFAULT_SIZE = 200_000


def _percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct))]


def run(size: int) -> dict:
    from accounts.models import Store
    from members.models import Member
    from members.selectors import member_for_store

    rng = random.Random(7)
    stores = [
        Store.objects.create(code=f"B{i:02d}", name=f"Bench {i}", city="上海") for i in range(20)
    ]
    batch: list[Member] = []
    phones: list[tuple[int, str, str]] = []
    for i in range(size):
        phone = f"+861{rng.randint(3, 9)}{i:09d}"
        code = f"MB{i:07d}"
        store_ix = i % len(stores)
        batch.append(
            Member(
                code=code,
                phone=phone,
                phone_last4=phone[-4:],
                name=f"会员{i}",
                store=stores[store_ix],
            )
        )
        phones.append((store_ix, phone, code))
        if len(batch) == 10_000:
            Member.objects.bulk_create(batch)
            batch.clear()
    Member.objects.bulk_create(batch)

    timings: dict[str, list[float]] = {"phone": [], "last4": [], "code": []}
    for _ in range(300):
        store_ix, phone, code = rng.choice(phones)
        store = stores[store_ix]
        for kind, q in (("phone", phone[3:]), ("last4", phone[-4:]), ("code", code)):
            started = time.perf_counter()
            qs, _kind = member_for_store(store=store, q=q)
            list(qs[:20])
            timings[kind].append((time.perf_counter() - started) * 1000)
    return {
        "members": size,
        "stores": len(stores),
        **{f"{k}_p50_ms": round(statistics.median(v), 2) for k, v in timings.items()},
        **{f"{k}_p95_ms": round(_percentile(v, 0.95), 2) for k, v in timings.items()},
    }
