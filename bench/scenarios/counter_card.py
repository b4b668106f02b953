"""The counter's member card as a clerk opens it: server time of the whole request (middleware,
session, permissions, the card's queries and the template), and the queries it costs."""

from __future__ import annotations

import random
import statistics
import time

from bench.scenarios.counter_lookup import percentile


def run(args) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts import roles
    from accounts.models import Store, User
    from members.models import Member
    from tests.factories import make_staff

    rng = random.Random(11)
    clients: dict[int, Client] = {}

    def client_for(store: Store) -> Client:
        if store.pk not in clients:
            email = f"bench-clerk-{store.code.lower()}@example.com"
            user = User.objects.filter(email=email).first() or make_staff(
                roles.CLERK, stores=[store], email=email, name="Bench clerk"
            )
            c = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
            c.force_login(user)
            clients[store.pk] = c
        return clients[store.pk]

    max_id = Member.objects.order_by("-id").values_list("id", flat=True).first() or 0
    picks: list[Member] = []
    while len(picks) < 330:
        m = Member.objects.select_related("store").filter(id__gte=rng.randint(1, max_id)).first()
        if m is not None and m.store is not None and m.erased_at is None:
            picks.append(m)
    timings, queries = [], []
    for i, m in enumerate(picks):
        c = client_for(m.store)
        url = f"/counter/{m.store.code}/members/{m.code}/"
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = c.get(url)
            elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (url, response.status_code)
        if i >= 30:  # the first requests warm the per-process caches
            timings.append(elapsed)
            queries.append(len(captured))
    return {
        "requests": len(timings),
        "card_p50_ms": round(statistics.median(timings), 2),
        "card_p95_ms": round(percentile(timings, 0.95), 2),
        "card_max_ms": round(max(timings), 2),
        "queries_max": max(queries),
        "queries_p50": statistics.median(queries),
    }
