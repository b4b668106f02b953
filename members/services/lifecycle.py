"""Lifecycle stage, RFM, value class, price sensitivity and the next purchase due date.

Recomputed set-based in SQL every night (one run at a time) and for the members of each order and
refund, from the orders themselves: counted orders (paid, or partly refunded), their dates, whether
they were bought with a discount, and the consumption cycles of what the last one held.

The rules:
- stage: no purchase → prospect; 180+ days since the last purchase (local dates) → lapsed; 90+ →
  dormant; else by purchases: 1 first, 2 second, 3–4 repeat, 5+ loyal (the 5th-purchase gift).
- R, F and M score 1–5 against quintile cutoffs over all buyers (days idle, purchases, lifetime
  spend), taken by the nightly run and reused by the per-order update until the next night.
- value class A: lifetime spend at or above the 80th percentile; B: at or above the 50th; else C.
- price sensitivity: share of counted orders bought with a discount.
- next purchase due: the last purchase date plus the mean of the member's own average interval
  (2+ purchases) and the consumption cycle of the last order (the longest cycle × quantity among its
  consumable lines); empty when neither is known.

PostgreSQL runs ``_SELECT``; other databases (the SQLite demo) run ``_compute_python``, which the tests
prove gives the same values.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from members import events
from members.loyalty import DORMANT_DAYS, LAPSED_DAYS, LOYAL_PURCHASES, stage_for
from members.models import LifecycleRun, Member, Order, OrderLine, Product

logger = logging.getLogger("scrm.lifecycle")

COUNTED = (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED)
UPDATE_CHUNK = 100_000
LOCK_KEY = 48_151_623  # pg advisory lock: one nightly run at a time

# Used until a nightly run has measured the real distribution.
DEFAULT_CUTOFFS: dict[str, list[Any]] = {
    "r": [14, 30, 60, 120],  # days idle at the 20/40/60/80th percentile
    "f": [1, 2, 3, 5],  # purchases
    "m": ["100.00", "300.00", "800.00", "2000.00"],  # lifetime spend
    "value": ["2000.00", "500.00"],  # A at or above, B at or above
}

FIELDS = [
    "lifecycle_stage",
    "rfm_r",
    "rfm_f",
    "rfm_m",
    "value_class",
    "price_sensitivity",
    "purchase_interval_days",
    "next_purchase_due",
]


@dataclass
class Reading:
    stage: str
    r: int
    f: int
    m: int
    value_class: str
    price_sensitivity: Decimal | None
    interval: int | None
    next_due: date | None

    def as_fields(self) -> dict[str, Any]:
        return dict(
            zip(
                FIELDS,
                [
                    self.stage,
                    self.r,
                    self.f,
                    self.m,
                    self.value_class,
                    self.price_sensitivity,
                    self.interval,
                    self.next_due,
                ],
                strict=True,
            )
        )


def local_date(at: datetime) -> date:
    return timezone.localtime(at).date()


def _score_up(value, cuts) -> int:
    """Higher is better: 5 at or above the 80th percentile cut, ..., 1 below the 20th."""
    return 1 + sum(1 for c in cuts if value >= c)


def _score_down(value, cuts) -> int:
    """Lower is better (days idle): 5 at or below the 20th percentile cut."""
    return 5 - sum(1 for c in cuts if value > c)


CUTOFFS_CACHE_KEY = "scrm:lifecycle:cutoffs"


def cutoffs_current() -> dict[str, list[Any]]:
    """The last nightly run's cutoffs; cached, as every order reads them."""
    cutoffs = cache.get(CUTOFFS_CACHE_KEY)
    if cutoffs is None:
        run = LifecycleRun.objects.filter(finished_at__isnull=False).first()
        cutoffs = run.cutoffs if run and run.cutoffs else DEFAULT_CUTOFFS
        cache.set(CUTOFFS_CACHE_KEY, cutoffs, timeout=3600)
    return cutoffs


def read(
    *,
    purchases: int,
    spend: Decimal,
    first_at: datetime | None,
    last_at: datetime | None,
    discounted: int,
    cycle_days: int | None,
    today: date,
    cutoffs: dict[str, list[Any]],
) -> Reading:
    if purchases <= 0 or last_at is None:
        return Reading(Member.Stage.PROSPECT, 0, 0, 0, "", None, None, None)
    last = local_date(last_at)
    idle = (today - last).days
    interval = None
    if purchases >= 2 and first_at is not None:
        span = last_at - first_at
        micros = (span.days * 86400 + span.seconds) * 1_000_000 + span.microseconds
        interval = math.floor(
            Decimal(micros) / Decimal(86_400_000_000 * (purchases - 1)) + Decimal("0.5")
        )
    estimates = [e for e in (interval, cycle_days) if e]
    next_due = (
        last + timedelta(days=math.floor(Decimal(sum(estimates)) / len(estimates) + Decimal("0.5")))
        if estimates
        else None
    )
    m_cuts = [Decimal(c) for c in cutoffs["m"]]
    a_cut, b_cut = (Decimal(c) for c in cutoffs["value"])
    value_class = "A" if spend >= a_cut else "B" if spend >= b_cut else "C"
    return Reading(
        stage=stage_for(purchases, idle),
        r=_score_down(idle, cutoffs["r"]),
        f=_score_up(purchases, cutoffs["f"]),
        m=_score_up(spend, m_cuts),
        value_class=value_class,
        price_sensitivity=(Decimal(discounted) / Decimal(purchases)).quantize(
            Decimal("0.001"), ROUND_HALF_UP
        ),
        interval=interval,
        next_due=next_due,
    )


# --- One member, or a few: in Python over the ORM (every database) ----------------------------


def _compute_python(
    member_ids: Iterable[int] | None, *, today: date, cutoffs: dict
) -> dict[int, Reading]:
    members = Member.objects.all()
    if member_ids is not None:
        members = members.filter(pk__in=list(member_ids))
    aggregates = {
        row["member_id"]: row
        for row in Order.objects.filter(status__in=COUNTED, member__in=members)
        .values("member_id")
        .annotate(
            n=Count("id"),
            first_at=Min("placed_at"),
            last_at=Max("placed_at"),
            disc=Count("id", filter=Q(discounted=True)),
        )
    }
    last_orders: dict[int, int] = {}
    for member_id, order_id in (
        Order.objects.filter(status__in=COUNTED, member_id__in=list(aggregates))
        .order_by("member_id", "-placed_at", "-id")
        .values_list("member_id", "id")
    ):
        last_orders.setdefault(member_id, order_id)
    cycles: dict[int, int] = {}
    member_of = {o: m for m, o in last_orders.items()}
    for order_id, cycle, qty, refunded in OrderLine.objects.filter(
        order_id__in=list(member_of),
        product__kind=Product.Kind.CONSUMABLE,
        product__cycle_days__isnull=False,
    ).values_list("order_id", "product__cycle_days", "quantity", "refunded_quantity"):
        if cycle and qty > refunded:
            m = member_of[order_id]
            cycles[m] = max(cycles.get(m, 0), cycle * (qty - refunded))
    out: dict[int, Reading] = {}
    for pk, spend in members.values_list("pk", "lifetime_spend"):
        agg = aggregates.get(pk)
        out[pk] = read(
            purchases=agg["n"] if agg else 0,
            spend=spend,
            first_at=agg["first_at"] if agg else None,
            last_at=agg["last_at"] if agg else None,
            discounted=agg["disc"] if agg else 0,
            cycle_days=cycles.get(pk) or None,
            today=today,
            cutoffs=cutoffs,
        )
    return out


def _cutoffs_python(today: date) -> dict[str, list[Any]]:
    rows = list(
        Member.objects.filter(purchase_count__gt=0, last_purchase_at__isnull=False).values_list(
            "last_purchase_at", "purchase_count", "lifetime_spend"
        )
    )
    if not rows:
        return DEFAULT_CUTOFFS

    def disc(values: list, p: float):
        values = sorted(values)
        return values[max(0, math.ceil(p * len(values)) - 1)]  # percentile_disc

    idle = [(today - local_date(r[0])).days for r in rows if r[0] is not None]
    counts = [r[1] for r in rows]
    spend = [r[2] for r in rows]
    q = (0.2, 0.4, 0.6, 0.8)
    return {
        "r": [disc(idle, p) for p in q],
        "f": [disc(counts, p) for p in q],
        "m": [f"{disc(spend, p):.2f}" for p in q],
        "value": [f"{disc(spend, 0.8):.2f}", f"{disc(spend, 0.5):.2f}"],
    }


# The consumption cycle of each member's last order. Over every member a join (one pass over the
# lines); for a few members a lookup per order, so the planner never scans every line for them.
_CYCLE_ALL = """
  SELECT lo.member_id, max(p.cycle_days * (l.quantity - l.refunded_quantity)) AS days
  FROM last_order lo
  JOIN members_orderline l ON l.order_id = lo.id
  JOIN members_product p ON p.id = l.product_id
  WHERE p.kind = 'consumable' AND p.cycle_days IS NOT NULL AND l.quantity > l.refunded_quantity
  GROUP BY lo.member_id"""
_CYCLE_FEW = """
  SELECT lo.member_id, (
    SELECT max(p.cycle_days * (l.quantity - l.refunded_quantity))
    FROM members_orderline l JOIN members_product p ON p.id = l.product_id
    WHERE l.order_id = lo.id AND p.kind = 'consumable' AND p.cycle_days IS NOT NULL
      AND l.quantity > l.refunded_quantity) AS days
  FROM last_order lo"""


# --- The set-based run on PostgreSQL -----------------------------------------------------------

_CUTOFFS_SQL = """
SELECT
  percentile_disc(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (
    ORDER BY (%(today)s::date - (last_purchase_at AT TIME ZONE %(tz)s)::date)),
  percentile_disc(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY purchase_count),
  percentile_disc(ARRAY[0.2, 0.4, 0.6, 0.8, 0.5]) WITHIN GROUP (ORDER BY lifetime_spend)
FROM members_member WHERE purchase_count > 0 AND last_purchase_at IS NOT NULL
"""

# One row per member in scope; {order_scope} and {member_scope} narrow it to some members.
_SELECT = """
WITH agg AS (
  SELECT member_id, count(*) AS n, min(placed_at) AS first_at, max(placed_at) AS last_at,
         count(*) FILTER (WHERE discounted) AS disc
  FROM members_order WHERE status IN ('paid', 'partially_refunded') {order_scope}
  GROUP BY member_id
), last_order AS (
  SELECT DISTINCT ON (member_id) member_id, id FROM members_order
  WHERE status IN ('paid', 'partially_refunded') {order_scope}
  ORDER BY member_id, placed_at DESC, id DESC
), cycle AS ({cycle}
), base AS (
  SELECT m.id, m.lifecycle_stage AS old_stage, m.purchase_count AS seen_count,
         m.last_purchase_at AS seen_last, m.lifetime_spend AS spend,
         coalesce(a.n, 0) AS n, a.first_at, a.last_at, coalesce(a.disc, 0) AS disc,
         nullif(c.days, 0) AS cycle_days,
         (%(today)s::date - (a.last_at AT TIME ZONE %(tz)s)::date) AS idle,
         CASE WHEN a.n >= 2 THEN floor(extract(epoch FROM a.last_at - a.first_at) / 86400 / (a.n - 1) + 0.5)::int END AS interval
  FROM members_member m
  LEFT JOIN agg a ON a.member_id = m.id
  LEFT JOIN cycle c ON c.member_id = m.id
  {member_scope}
)
SELECT id, old_stage, seen_count, seen_last,
  CASE WHEN n = 0 OR last_at IS NULL THEN 'prospect'
       WHEN idle >= %(lapsed)s THEN 'lapsed'
       WHEN idle >= %(dormant)s THEN 'dormant'
       WHEN n >= %(loyal)s THEN 'loyal'
       WHEN n >= 3 THEN 'repeat'
       WHEN n = 2 THEN 'second_purchase'
       ELSE 'first_purchase' END AS stage,
  CASE WHEN n = 0 OR last_at IS NULL THEN 0 ELSE
    5 - ((idle > %(r1)s)::int + (idle > %(r2)s)::int + (idle > %(r3)s)::int + (idle > %(r4)s)::int) END AS r,
  CASE WHEN n = 0 OR last_at IS NULL THEN 0 ELSE
    1 + ((n >= %(f1)s)::int + (n >= %(f2)s)::int + (n >= %(f3)s)::int + (n >= %(f4)s)::int) END AS f,
  CASE WHEN n = 0 OR last_at IS NULL THEN 0 ELSE
    1 + ((spend >= %(m1)s)::int + (spend >= %(m2)s)::int + (spend >= %(m3)s)::int + (spend >= %(m4)s)::int) END AS m,
  CASE WHEN n = 0 OR last_at IS NULL THEN ''
       WHEN spend >= %(va)s THEN 'A' WHEN spend >= %(vb)s THEN 'B' ELSE 'C' END AS value_class,
  CASE WHEN n = 0 OR last_at IS NULL THEN NULL ELSE round(disc::numeric / n, 3) END AS price_sensitivity,
  CASE WHEN n = 0 OR last_at IS NULL THEN NULL ELSE interval END AS interval,
  CASE WHEN n = 0 OR last_at IS NULL OR coalesce(nullif(interval, 0), cycle_days) IS NULL THEN NULL
       ELSE (last_at AT TIME ZONE %(tz)s)::date + floor(
         (coalesce(nullif(interval, 0), 0) + coalesce(cycle_days, 0))::numeric
         / ((nullif(interval, 0) IS NOT NULL)::int + (cycle_days IS NOT NULL)::int) + 0.5)::int
  END AS next_due
FROM base
"""

_UPDATE_SQL = """
UPDATE members_member AS m SET lifecycle_stage = n.stage, rfm_r = n.r, rfm_f = n.f, rfm_m = n.m,
  value_class = n.value_class, price_sensitivity = n.price_sensitivity,
  purchase_interval_days = n.interval, next_purchase_due = n.next_due,
  lifecycle_since = CASE WHEN m.lifecycle_stage <> n.stage THEN %(now)s ELSE m.lifecycle_since END
FROM lc_new n
WHERE m.id = n.id AND n.id >= %(lo)s AND n.id < %(hi)s
  -- an order that came in since the snapshot has refreshed its member already
  AND m.purchase_count = n.seen_count AND m.last_purchase_at IS NOT DISTINCT FROM n.seen_last
  AND (m.lifecycle_stage, m.rfm_r, m.rfm_f, m.rfm_m, m.value_class, m.price_sensitivity,
       m.purchase_interval_days, m.next_purchase_due)
      IS DISTINCT FROM (n.stage, n.r, n.f, n.m, n.value_class, n.price_sensitivity, n.interval, n.next_due)
RETURNING m.id
"""


def _params(today: date, cutoffs: dict) -> dict[str, Any]:
    r, f, m, v = cutoffs["r"], cutoffs["f"], cutoffs["m"], cutoffs["value"]
    return {
        "today": today,
        "tz": django_settings.TIME_ZONE,
        "lapsed": LAPSED_DAYS,
        "dormant": DORMANT_DAYS,
        "loyal": LOYAL_PURCHASES,
        **{f"r{i + 1}": int(x) for i, x in enumerate(r)},
        **{f"f{i + 1}": int(x) for i, x in enumerate(f)},
        **{f"m{i + 1}": Decimal(x) for i, x in enumerate(m)},
        "va": Decimal(v[0]),
        "vb": Decimal(v[1]),
    }


def _cutoffs_sql(today: date) -> dict[str, list[Any]]:
    with connection.cursor() as cursor:
        cursor.execute(_CUTOFFS_SQL, {"today": today, "tz": django_settings.TIME_ZONE})
        r, f, m = cursor.fetchone()
    if r is None:
        return DEFAULT_CUTOFFS
    return {
        "r": [int(x) for x in r],
        "f": [int(x) for x in f],
        "m": [f"{x:.2f}" for x in m[:4]],
        "value": [f"{m[3]:.2f}", f"{m[4]:.2f}"],
    }


def _changes_from_temp(cursor) -> list[tuple[int, str, str]]:
    cursor.execute("SELECT id, old_stage, stage FROM lc_new WHERE old_stage <> stage")
    return list(cursor.fetchall())


def _emit(changes: list[tuple[int, str, str]]) -> None:
    events.event_record_many(
        (events.LIFECYCLE_CHANGED, member_id, {"from_stage": old, "to_stage": new}, None)
        for member_id, old, new in changes
    )


def lifecycle_refresh(*, member_ids: Iterable[int], today: date | None = None) -> int:
    """Recompute the members of an order or refund, inside its transaction. Returns stage changes."""
    ids = sorted(set(member_ids))
    if not ids:
        return 0
    today = today or timezone.localdate()
    cutoffs = cutoffs_current()
    if connection.vendor != "postgresql":
        return _apply_python(_compute_python(ids, today=today, cutoffs=cutoffs))
    sql = _SELECT.format(
        order_scope="AND member_id = ANY(%(ids)s)",
        member_scope="WHERE m.id = ANY(%(ids)s)",
        cycle=_CYCLE_FEW,
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # A few index look-ups; JIT would spend half a second compiling them (for the rest of
        # the order's transaction too, which is as well).
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, _params(today, cutoffs) | {"ids": ids})
        rows = cursor.fetchall()
    readings = {row[0]: Reading(*row[4:]) for row in rows}
    return _apply_python(readings)


def _apply_python(readings: dict[int, Reading]) -> int:
    """Write readings that differ from what is stored; emit a stage change where there is one."""
    now = timezone.now()
    changes: list[tuple[int, str, str]] = []
    members = Member.objects.filter(pk__any=list(readings)).only("pk", *FIELDS, "lifecycle_since")
    dirty = []
    for member in members:
        new = readings[member.pk].as_fields()
        if all(getattr(member, k) == v for k, v in new.items()):
            continue
        if member.lifecycle_stage != new["lifecycle_stage"]:
            changes.append((member.pk, member.lifecycle_stage, new["lifecycle_stage"]))
            member.lifecycle_since = now
        for k, v in new.items():
            setattr(member, k, v)
        dirty.append(member)
    if connection.vendor == "postgresql" and dirty:
        # One UPDATE from arrays: ten parameters however many members.
        columns = [
            list(c)
            for c in zip(
                *[(m.pk, *(getattr(m, f) for f in FIELDS), m.lifecycle_since) for m in dirty],
                strict=True,
            )
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                """UPDATE members_member AS m SET lifecycle_stage = v.stage, rfm_r = v.r, rfm_f = v.f,
                      rfm_m = v.m, value_class = v.vc, price_sensitivity = v.ps,
                      purchase_interval_days = v.iv, next_purchase_due = v.nd, lifecycle_since = v.ls
                    FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::int[], %s::int[], %s::text[],
                                %s::numeric[], %s::int[], %s::date[], %s::timestamptz[])
                         AS v(id, stage, r, f, m, vc, ps, iv, nd, ls)
                    WHERE m.id = v.id""",
                columns,
            )
    else:
        Member.objects.bulk_update(dirty, [*FIELDS, "lifecycle_since"], batch_size=500)
    _emit(changes)
    return len(changes)


def lifecycle_recompute_all(*, today: date | None = None) -> LifecycleRun | None:
    """The nightly run: every member, set-based. Returns None when another run holds the lock."""
    today = today or timezone.localdate()
    postgres = connection.vendor == "postgresql"
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
            if not cursor.fetchone()[0]:
                logger.info("lifecycle run skipped: another run holds the lock")
                return None
    try:
        run = LifecycleRun.objects.create()
        changed = updated = 0
        if postgres:
            run.cutoffs = _cutoffs_sql(today)
            params = _params(today, run.cutoffs) | {"now": timezone.now()}
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS lc_new")
                cursor.execute(
                    "CREATE TEMP TABLE lc_new AS "
                    + _SELECT.format(order_scope="", member_scope="", cycle=_CYCLE_ALL),
                    params,
                )
                cursor.execute("CREATE INDEX ON lc_new (id)")
                cursor.execute("ANALYZE lc_new")
                stage_of = {c[0]: c for c in _changes_from_temp(cursor)}
                cursor.execute("SELECT coalesce(max(id), 0) FROM lc_new")
                top = cursor.fetchone()[0]
                # Chunks commit one by one: an order waits for at most one chunk's row locks.
                for lo in range(0, top + 1, UPDATE_CHUNK):
                    with transaction.atomic():
                        cursor.execute(_UPDATE_SQL, params | {"lo": lo, "hi": lo + UPDATE_CHUNK})
                        ids = [r[0] for r in cursor.fetchall()]
                        updated += len(ids)
                        chunk_changes = [stage_of[i] for i in ids if i in stage_of]
                        changed += len(chunk_changes)
                        _emit(chunk_changes)
                cursor.execute("DROP TABLE lc_new")
        else:
            run.cutoffs = _cutoffs_python(today)
            readings = _compute_python(None, today=today, cutoffs=run.cutoffs)
            with transaction.atomic():
                changed = _apply_python(readings)
            updated = len(readings)
        run.members = Member.objects.count()
        run.stage_changes = changed
        run.finished_at = timezone.now()
        run.save()
        cache.delete(CUTOFFS_CACHE_KEY)
        logger.info("lifecycle run: %s rows updated, %s stage changes", updated, changed)
        return run
    finally:
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
