"""Benchmark-scale data on PostgreSQL: members and orders generated set-based in SQL, with ledgers
and tiers computed set-based under the shipped rules, so ``ledger_verify`` passes.

Purchase-count milestones with a gift are reached at their order, and their gifts booked as handed
over. Simplifications, said plainly: one line per order, no refunds, no vouchers, no spend or
points milestones, no expiry entries (the nightly job would book them), and the shipped ladder
(VIP at the 3rd purchase, Gold at CNY 3000 in 365 days, x1.2 / x1.5) hard-wired in the SQL.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import connection, transaction

from accounts.models import Store
from members.demo.data import catalogue_ensure
from members.models import Tier

BULK_SOURCE = "bulk"


def dataset_load(
    *, members: int, orders_per_member: int = 10, log: Callable[[str], None] = print
) -> dict:
    if connection.vendor != "postgresql":
        raise RuntimeError("The bulk loader needs PostgreSQL.")
    stores = list(Store.objects.order_by("pk").values_list("pk", flat=True))
    products = [p.pk for p in catalogue_ensure()]
    tiers = {t.code: t.pk for t in Tier.objects.all()}
    with connection.cursor() as c:
        c.execute("SELECT COALESCE(MAX(id), 0) FROM members_member")
        start_member = c.fetchone()[0]
        c.execute("SELECT COUNT(*) FROM members_member WHERE phone LIKE '+86192%%'")
        already = c.fetchone()[0]
    first, last = already + 1, already + members
    timings: dict[str, float] = {}

    def step(name: str, sql: str, params: list | None = None) -> None:
        t = time.monotonic()
        with connection.cursor() as c:
            c.execute(sql, params or [])
        timings[name] = round(time.monotonic() - t, 1)
        log(f"  {name}: {timings[name]}s")

    with transaction.atomic():
        with connection.cursor() as c:
            c.execute("SET LOCAL synchronous_commit = off")
            c.execute("SET LOCAL work_mem = '256MB'")
        step(
            "members",
            f"""
            INSERT INTO members_member (code, phone, phone_last4, name, email, store_id, channel, joined_at,
                points_balance, points_debt, purchase_count, lifetime_spend, tier_id,
                consent_sms, consent_email, consent_wecom, consent_portal, marketing_opt_out, frequency,
                lifecycle_stage, rfm_r, rfm_f, rfm_m, value_class)
            SELECT 'MB' || lpad(i::text, 9, '0'), '+86192' || lpad(i::text, 8, '0'), right(lpad(i::text, 8, '0'), 4),
                   (ARRAY['王','李','张','刘','陈','杨','黄','赵','吴','周'])[1 + i %% 10] ||
                   (ARRAY['芳','伟','娜','敏','静','磊','洋','婷','杰','涛','晓雨','思琪'])[1 + (i / 10) %% 12],
                   '', (ARRAY{stores})[1 + i %% {len(stores)}], 'store', now() - ((i::bigint * 7919) %% 730) * interval '1 day',
                   0, 0, 0, 0, {tiers["member"]},
                   i %% 10 < 6, i %% 10 < 2, i %% 3 = 0, i %% 4 = 0, i %% 50 = 0, 'any',
                   'prospect', 0, 0, 0, ''
            FROM generate_series(%s, %s) AS i
        """,
            [first, last],
        )
        # Orders are computed in a temporary table first (ids drawn from the real sequence), so
        # points and tiers are known before the rows are written: no second pass over them.
        step(
            "orders_plan",
            f"""
            CREATE TEMP TABLE bulk_orders ON COMMIT DROP AS
            SELECT nextval(pg_get_serial_sequence('members_order', 'id')) AS id, m.id AS member_id, m.code,
                   m.store_id, k,
                   m.joined_at + (k * ((now() - m.joined_at) / ({orders_per_member} * 2 + 1))) AS placed_at,
                   (20 + ((m.id * 31 + k * 17) %% 480))::numeric(12,2) AS total
            FROM members_member m
            CROSS JOIN LATERAL generate_series(1, (m.id::bigint * 7919 + 17) %% ({orders_per_member} * 2 + 1)) AS k
            WHERE m.id > %s;
            CREATE TEMP TABLE bulk_earn ON COMMIT DROP AS
            WITH ranked AS (
                SELECT o.*, row_number() OVER (PARTITION BY o.member_id ORDER BY o.placed_at, o.id) AS n,
                       sum(o.total) OVER (PARTITION BY o.member_id ORDER BY o.placed_at
                           RANGE BETWEEN INTERVAL '365 days' PRECEDING AND CURRENT ROW) AS window_spend
                FROM bulk_orders o
            ), after AS (
                SELECT *, CASE WHEN window_spend >= 3000 THEN 2 WHEN n >= 3 THEN 1 ELSE 0 END AS rank_after FROM ranked
            ), before AS (
                SELECT *, COALESCE(max(rank_after) OVER (PARTITION BY member_id ORDER BY placed_at, id
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS rank_before FROM after
            ), earned AS (
                SELECT *, floor(total * CASE rank_before WHEN 2 THEN 1.5 WHEN 1 THEN 1.2 ELSE 1 END)::int AS points
                FROM before
            )
            SELECT *, sum(points) OVER (PARTITION BY member_id ORDER BY placed_at, id)::int AS balance_after
            FROM earned;
        """,
            [start_member],
        )
        step(
            "orders",
            f"""
            INSERT INTO members_order (id, source, external_id, member_id, store_id, placed_at, total, refunded_amount,
                status, discounted, tier_code, points_earned, points_reversed, request_hash, result, created_at)
            SELECT id, '{BULK_SOURCE}', code || '-' || k, member_id, store_id, placed_at, total, 0, 'paid', false,
                   CASE rank_before WHEN 2 THEN 'gold' WHEN 1 THEN 'vip' ELSE 'member' END, points, 0, 'bulk',
                   '{{}}'::jsonb, now()
            FROM bulk_earn ORDER BY id
        """,
        )
        step(
            "lines",
            f"""
            INSERT INTO members_orderline (order_id, product_id, quantity, amount, refunded_quantity, refunded_amount)
            SELECT id, (ARRAY{products})[1 + id %% {len(products)}], 1, total, 0, 0 FROM bulk_earn ORDER BY id
        """,
        )
        step(
            "ledger",
            """
            INSERT INTO members_pointsentry (member_id, kind, points, balance_after, reason, reason_code,
                reason_args, order_id, idempotency_key, expires_at, created_at)
            SELECT member_id, 'earn', points, balance_after, 'Order ' || code || '-' || k, 'order',
                   jsonb_build_object('order', code || '-' || k), id, 'order:' || id || ':earn',
                   (date_trunc('year', placed_at AT TIME ZONE 'Asia/Shanghai') + interval '2 years' - interval '1 microsecond')
                       AT TIME ZONE 'Asia/Shanghai',
                   placed_at
            FROM bulk_earn ORDER BY member_id, placed_at, id
        """,
        )
        step(
            "members_totals",
            f"""
            UPDATE members_member m SET points_balance = s.points, purchase_count = s.n, lifetime_spend = s.spend,
                   last_purchase_at = s.last,
                   tier_id = CASE WHEN s.window_spend >= 3000 THEN {tiers["gold"]} WHEN s.n >= 3 THEN {tiers["vip"]}
                                  ELSE {tiers["member"]} END
            FROM (
                SELECT member_id, count(*) AS n, sum(total) AS spend, max(placed_at) AS last, sum(points) AS points,
                       sum(total) FILTER (WHERE placed_at > now() - interval '365 days') AS window_spend
                FROM bulk_earn GROUP BY member_id
            ) s
            WHERE s.member_id = m.id
        """,
        )
        t = time.monotonic()
        dataset_profiles_backfill(after_member_id=start_member)
        timings["profiles"] = round(time.monotonic() - t, 1)
        log(f"  profiles: {timings['profiles']}s")
    with transaction.atomic():
        t = time.monotonic()
        dataset_milestones_backfill(after_member_id=start_member)
        timings["milestones"] = round(time.monotonic() - t, 1)
        log(f"  milestones: {timings['milestones']}s")
    with connection.cursor() as c:
        c.execute(
            "ANALYZE members_member; ANALYZE members_order; ANALYZE members_orderline; ANALYZE members_pointsentry;"
            " ANALYZE members_child; ANALYZE members_profile"
        )
        c.execute("SELECT count(*) FROM members_order WHERE member_id > %s", [start_member])
        n_orders = c.fetchone()[0]
    return {"members": members, "orders": n_orders, "seconds": timings}


def dataset_milestones_backfill(*, after_member_id: int) -> None:
    """Milestones at purchase N (gift rewards) for bulk members: reached at their Nth order, gift handed over."""
    from members.models import Milestone

    for ms in Milestone.objects.filter(
        is_active=True, reward=Milestone.Reward.GIFT, at_purchase__isnull=False
    ):
        with connection.cursor() as c:
            c.execute(
                """
                INSERT INTO members_milestonereached (member_id, milestone_id, order_id, reached_at)
                SELECT member_id, %s, id, placed_at FROM (
                    SELECT o.member_id, o.id, o.placed_at,
                           row_number() OVER (PARTITION BY o.member_id ORDER BY o.placed_at, o.id) AS n
                    FROM members_order o WHERE o.member_id > %s AND o.source = %s
                ) x WHERE n = %s
                ON CONFLICT DO NOTHING
                """,
                [ms.pk, after_member_id, BULK_SOURCE, ms.at_purchase],
            )
            c.execute(
                """
                INSERT INTO members_giftgrant (member_id, name_zh, name_en, milestone_id, order_id, status,
                    granted_at, fulfilled_at)
                SELECT r.member_id, %s, %s, r.milestone_id, r.order_id, 'fulfilled', r.reached_at,
                       r.reached_at + interval '2 days'
                FROM members_milestonereached r
                WHERE r.milestone_id = %s AND r.member_id > %s
                  AND NOT EXISTS (SELECT 1 FROM members_giftgrant g
                                  WHERE g.member_id = r.member_id AND g.milestone_id = r.milestone_id)
                """,
                [
                    ms.gift_name_zh or ms.name_zh,
                    ms.gift_name_en or ms.name_en,
                    ms.pk,
                    after_member_id,
                ],
            )


def dataset_profiles_backfill(*, after_member_id: int, consent: bool = False) -> None:
    """Profiles for segments: a child for about one member in six (due dates to 8-year-olds), a
    taste and skin profile for one in three; with ``consent``, the consent pattern the loader gives
    new members (for data sets loaded before consent existed)."""
    with connection.cursor() as c:
        c.execute(
            """
            INSERT INTO members_child (member_id, name, birth_date, due_date, created_at)
            SELECT m.id, '宝宝',
                   CASE WHEN m.id %% 12 = 0 THEN NULL ELSE current_date - ((m.id * 37) %% 2920)::int END,
                   CASE WHEN m.id %% 12 = 0 THEN current_date + ((m.id * 13) %% 270)::int END,
                   now()
            FROM members_member m WHERE m.id > %s AND m.id %% 6 = 0
            """,
            [after_member_id],
        )
        c.execute(
            """
            INSERT INTO members_profile (member_id, likes, dislikes, sweetness, allergies, diet, skin_type,
                skin_concerns, skin_sensitivity, updated_at)
            SELECT m.id, (ARRAY['抹茶','芒果','草莓','巧克力'])[1 + m.id %% 4], '', 'normal', '', '',
                   (ARRAY['dry','oily','combination','sensitive','normal'])[1 + m.id %% 5], '', '', now()
            FROM members_member m WHERE m.id > %s AND m.id %% 3 = 0
            """,
            [after_member_id],
        )
        if consent:
            c.execute(
                """UPDATE members_member SET consent_sms = id %% 10 < 6, consent_email = id %% 10 < 2,
                       consent_wecom = id %% 3 = 0, consent_portal = id %% 4 = 0, marketing_opt_out = id %% 50 = 0
                   WHERE id > %s AND phone LIKE '+86192%%'""",
                [after_member_id],
            )
        c.execute("ANALYZE members_child; ANALYZE members_profile; ANALYZE members_member")
