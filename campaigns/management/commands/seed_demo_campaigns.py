"""``manage.py seed_demo_campaigns`` (run by ``make run`` after ``seed_demo_messages``): the
brand's own days, and campaigns in every state through the real services — a finished Mid-Autumn
campaign with its holdout and measured lift (mooncake orders booked through the order ingest in
its window, more of them in the treatment), a running 双12 campaign, a scheduled New Year one and
a draft for Laba with its dry run. Idempotent: a second run adds nothing."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.models import Store, User
from campaigns import calendar
from campaigns.models import BrandDay, Campaign, CampaignMember
from campaigns.services import campaigns as cs
from campaigns.services.outbox import outbox_relay_batch
from members.models import Segment, VoucherTemplate
from members.services.idempotency import request_hash
from members.services.orders import LineIn, OrderIn, order_ingest

SH = ZoneInfo("Asia/Shanghai")
SOURCE = "demo-campaign"


def _segment() -> Segment:
    segment = Segment.objects.filter(name="全部会员（营销）").first()
    return segment or Segment.objects.create(
        name="全部会员（营销）",
        description="全部会员；营销只触达授权且未退订的会员",
        definition={"match": "all", "groups": []},
        for_marketing=True,
    )


def _data(name: str, starts: datetime, **kw) -> dict:
    offer = VoucherTemplate.objects.filter(is_active=True, kind="amount_off").order_by("pk").first()
    data = {
        "name": name,
        "kind": "value",
        "segment": _segment(),
        "channels": ["portal", "sms"],  # the demo's relay sends the portal's; SMS would print
        "messages": {
            "portal": {
                "body": "{name}，{store}为您准备了节日礼遇：{voucher}。会员中心查看：{portal_link}"
            },
            "sms": {"body": "【SCRM】{name}，节日礼遇已到账，到店出示会员码即可使用。拒收请回复R"},
        },
        "offer": offer,
        "budget": Decimal("30000"),
        "starts_at": starts,
        "conversion_window_days": 14,
        "holdout_percent": 10,
        "owner": User.objects.filter(email="operator@scrm.example").first(),
    }
    data.update(kw)
    return data


def _mooncake_orders(campaign: Campaign, rng: random.Random) -> int:
    """Orders in the window beyond the demo's own: a treated member buys mooncakes with 40%, a
    held-out one with 5%."""
    start = campaign.starts_at
    store = Store.objects.order_by("pk").first()
    booked = 0
    groups = CampaignMember.objects.filter(campaign=campaign).select_related("member")
    for row in groups.order_by("member_id"):
        p = 0.40 if row.group == "treatment" else 0.05
        if rng.random() >= p:
            continue
        at = start + timedelta(hours=rng.randint(2, 13 * 24))
        qty = rng.choice([1, 1, 2])
        amount = Decimal("268.00") * qty
        data = OrderIn(
            source=SOURCE,
            external_id=f"MOON-{campaign.pk}-{row.member_id}",
            member=row.member.code,
            placed_at=at,
            total=amount,
            lines=[
                LineIn(
                    sku="BK-MOONCAKE",
                    name="流心奶黄月饼礼盒",
                    category="bakery",
                    quantity=qty,
                    amount=amount,
                )
            ],
            store=store,
        )
        order_ingest(data=data, hash_=request_hash(data.external_id))
        booked += 1
    return booked


class Command(BaseCommand):
    help = "Seed the demo's brand days and campaigns (finished, running, scheduled, draft)."

    def handle(self, *args, **options) -> None:
        if Campaign.objects.filter(name__startswith="【演示】").exists():
            self.stdout.write("demo campaigns: already there")
            return
        today = timezone.localdate()
        store = Store.objects.order_by("pk").first()
        BrandDay.objects.get_or_create(
            name="每月 18 日会员日",
            defaults={"kind": "member_day", "date": date(today.year, 1, 18), "repeat": "monthly"},
        )
        if store is not None:
            BrandDay.objects.get_or_create(
                name=f"{store.name}开业周年庆",
                defaults={
                    "kind": "anniversary",
                    "date": date(2019, 10, 28),
                    "repeat": "yearly",
                    "store": store,
                },
            )
        operator = User.objects.filter(email="operator@scrm.example").first()
        rng = random.Random(2026)  # noqa: S311 (demo data, not security)

        # Finished: the last Mid-Autumn whose conversion window has closed.
        moon_day = next(
            d.date
            for year in (today.year, today.year - 1)
            for d in calendar.lunar_festivals(year)
            if d.name_en == "Mid-Autumn Festival" and d.date + timedelta(days=12) < today
        )
        start = datetime.combine(
            moon_day - timedelta(days=3), datetime.min.time(), tzinfo=SH
        ).replace(hour=10)
        finished = cs.campaign_save(
            data=_data(
                "【演示】中秋团圆礼遇",
                start,
                channels=["portal"],
                holdout_percent=20,
                occasion="中秋节",
                occasion_date=moon_day,
            ),
            actor=operator,
        )
        finished = cs.campaign_launch(campaign=finished, actor=operator, now=start)
        while outbox_relay_batch(limit=500, now=start + timedelta(minutes=1)):
            pass
        booked = _mooncake_orders(finished, rng)
        cs.campaigns_advance(now=timezone.now())

        # Running: 双12, started four days ago.
        now = timezone.now()
        running = cs.campaign_save(
            data=_data(
                "【演示】双12 会员狂欢",
                now - timedelta(days=4),
                kind="promotion",
                channels=["portal"],
                occasion="双12",
                occasion_date=date(today.year, 12, 12),
            ),
            actor=operator,
        )
        running = cs.campaign_launch(campaign=running, actor=operator, now=now - timedelta(days=4))
        cs.campaign_results_refresh(running)

        # Scheduled: New Year's Day; a draft for Laba with its dry run.
        new_year = datetime(today.year + 1, 1, 1, 10, 0, tzinfo=SH) - timedelta(days=2)
        scheduled = cs.campaign_save(
            data=_data(
                "【演示】元旦新年礼",
                new_year,
                occasion="元旦",
                occasion_date=date(today.year + 1, 1, 1),
            ),
            actor=operator,
        )
        cs.campaign_launch(campaign=scheduled, actor=operator)
        draft = cs.campaign_save(
            data=_data(
                "【演示】腊八暖冬关怀",
                now + timedelta(days=20),
                offer=None,
                channels=["portal"],
                messages={"portal": {"body": "{name}，腊八节到了，天冷记得多喝热粥，注意保暖。"}},
            ),
            actor=operator,
        )
        cs.campaign_dry_run_save(campaign=draft)
        finished.refresh_from_db()
        lift = (finished.results or {}).get("lift", {})
        self.stdout.write(
            f"demo campaigns: 4 ({finished.treatment_count} treated, {finished.holdout_count} held out in"
            f" the Mid-Autumn one, {booked} orders in its window, lift {lift.get('absolute')}"
            f" {lift.get('ci95')})"
        )
