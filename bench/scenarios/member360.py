"""Member 360 at scale: the nightly lifecycle/RFM recompute over every member, the live count of a
three-condition segment, and the console's member search by phone (search, count and first page)."""

from __future__ import annotations

import random
import statistics
import time

from bench.scenarios.counter_lookup import percentile


def run(args) -> dict:
    from django.core.paginator import Paginator

    from accounts import roles
    from accounts.models import User
    from members.models import Member
    from members.selectors import member_search, members_visible_to, segment_counts
    from members.selectors.segments import segment_clean
    from members.services.lifecycle import lifecycle_recompute_all

    started = time.monotonic()
    run_ = lifecycle_recompute_all()
    nightly = time.monotonic() - started

    operator = User.objects.filter(email="bench.operator@example.com").first()
    if operator is None:
        from accounts.services import staff_save

        operator = staff_save(
            email="bench.operator@example.com",
            name="Bench",
            role=roles.OPERATOR,
            stores=[],
            password="bench-password-123",  # noqa: S106 - a bench-only account
            actor=None,
        )
    definition = segment_clean(
        {
            "match": "all",
            "groups": [
                {
                    "match": "all",
                    "conditions": [
                        {"field": "child_stage", "op": "in", "value": ["toddler"]},
                        {"field": "lifecycle_stage", "op": "in", "value": ["dormant"]},
                        {"field": "consent", "op": "in", "value": ["sms"]},
                    ],
                }
            ],
        }
    )
    counts: list[float] = []
    result = {}
    for _ in range(7):
        t = time.perf_counter()
        result = segment_counts(user=operator, definition=definition)
        counts.append((time.perf_counter() - t) * 1000)

    rng = random.Random(11)
    max_id = Member.objects.order_by("-id").values_list("id", flat=True).first() or 0
    phones = [
        p
        for p in Member.objects.filter(
            id__in=[rng.randint(1, max_id) for _ in range(400)]
        ).values_list("phone", flat=True)
    ][:300]
    searches: list[float] = []
    for phone in phones:
        t = time.perf_counter()
        qs, _kind = member_search(qs=members_visible_to(operator), q=phone[3:])
        page = Paginator(qs.order_by("-joined_at", "-id"), 25).get_page(1)
        list(page.object_list)
        searches.append((time.perf_counter() - t) * 1000)
    return {
        "nightly_seconds": round(nightly, 1),
        "nightly_stage_changes": run_.stage_changes if run_ else None,
        "segment_matches": result.get("total"),
        "segment_reachable": result.get("reachable"),
        "segment_count_p50_ms": round(statistics.median(counts), 1),
        "segment_count_max_ms": round(max(counts), 1),
        "phone_search_p50_ms": round(statistics.median(searches), 2),
        "phone_search_p95_ms": round(percentile(searches, 0.95), 2),
    }
