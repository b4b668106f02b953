"""Demo catalogue, members and two years of orders, passed through the real services so tiers,
gifts and ledgers are consistent. Deterministic: the same seed gives the same data, and running
it again replays the same orders (nothing changes)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import AuditEntry, Store
from members.models import Member, Product
from members.services import LineIn, OrderIn, member_enrol, order_ingest
from members.services.idempotency import request_hash

# sku, name, category, cycle days, kind, price
CATALOGUE = [
    ("SK-MASK-10", "补水面膜 10 片装", "skincare", 30, "consumable", "129.00"),
    ("SK-SERUM-30", "修护精华 30ml", "skincare", 60, "consumable", "399.00"),
    ("SK-CREAM-50", "保湿面霜 50g", "skincare", 75, "consumable", "299.00"),
    ("SK-SUN-50", "轻薄防晒乳 SPF50", "skincare", 45, "consumable", "168.00"),
    ("SK-DEVICE", "美容仪", "skincare", None, "durable", "1299.00"),
    ("MB-DIAPER-L", "纸尿裤 L 码 52 片", "mother_baby", 14, "consumable", "139.00"),
    ("MB-FORMULA-2", "婴儿配方奶粉 2 段 800g", "mother_baby", 12, "consumable", "289.00"),
    ("MB-WIPES", "婴儿湿巾 80 抽 x6", "mother_baby", 20, "consumable", "59.00"),
    ("MB-STROLLER", "轻便婴儿推车", "mother_baby", None, "durable", "1680.00"),
    ("BK-TOAST", "北海道吐司", "bakery", 3, "consumable", "22.00"),
    ("BK-CROISSANT", "黄油可颂 4 只装", "bakery", 3, "consumable", "32.00"),
    ("BK-CAKE-6", "6 寸鲜奶油蛋糕", "bakery", 30, "consumable", "188.00"),
    ("BK-MOONCAKE", "流心奶黄月饼礼盒", "bakery", None, "consumable", "268.00"),
    ("PT-CATFOOD-2", "全价猫粮 2kg", "pet", 30, "consumable", "159.00"),
    ("PT-DOGFOOD-5", "全价犬粮 5kg", "pet", 35, "consumable", "239.00"),
    ("PT-LITTER", "豆腐猫砂 6L x3", "pet", 21, "consumable", "89.00"),
    ("PT-TREATS", "冻干零食", "pet", 20, "consumable", "49.00"),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英晓雨思琪子涵欣怡梓萱浩宇一诺雨桐佳怡可馨俊杰宇轩晨曦婷婷晓燕丹丹"
PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "177",
    "180",
    "181",
    "185",
    "186",
    "187",
    "188",
    "189",
    "199",
]


def catalogue_ensure() -> list[Product]:
    products = []
    for sku, name, category, cycle, kind, price in CATALOGUE:
        product, _created = Product.objects.get_or_create(
            sku=sku,
            defaults={
                "name": name,
                "category": category,
                "cycle_days": cycle,
                "kind": kind,
                "price": Decimal(price),
            },
        )
        products.append(product)
    return products


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _phone(rng: random.Random) -> str:
    return rng.choice(PREFIXES) + f"{rng.randrange(10**8):08d}"


def seed_members_with_history(
    *,
    count: int,
    stores: list[Store],
    seed: int = 2026,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Enrol ``count`` members and give them up to two years of orders. Returns (members, orders)."""
    rng = random.Random(seed)
    now = now or timezone.now()
    products = catalogue_ensure()
    by_category: dict[str, list[Product]] = {}
    for p in products:
        by_category.setdefault(p.category, []).append(p)
    made_orders = 0
    for i in range(count):
        phone = _phone(rng)
        name = _name(rng)
        store = rng.choice(stores)
        joined = now - timedelta(days=rng.randint(1, 730))
        member, created = member_enrol(
            phone=phone,
            name=name,
            store=store,
            channel=rng.choice([c for c, _l in Member.Channel.choices if c != "import"]),
            via=AuditEntry.Via.CLI,
        )
        if created:
            Member.objects.filter(pk=member.pk).update(joined_at=joined)
        category = rng.choice(list(by_category))
        # Most buy once or twice; a loyal few buy every cycle.
        n_orders = rng.choices([0, 1, 2, 3, 4, 6, 9, 14], weights=[8, 30, 18, 12, 10, 10, 7, 5])[0]
        at = joined + timedelta(hours=rng.randint(1, 72))
        for k in range(n_orders):
            if at >= now:
                break
            basket = rng.sample(
                by_category[category], k=min(len(by_category[category]), rng.choice((1, 1, 2, 3)))
            )
            lines = []
            for product in basket:
                qty = rng.choice((1, 1, 1, 2, 3))
                lines.append(
                    LineIn(
                        sku=product.sku,
                        name=product.name,
                        category=product.category,
                        quantity=qty,
                        amount=(product.price or Decimal("50")) * qty,
                    )
                )
            total = sum((ln.amount for ln in lines), Decimal("0"))
            data = OrderIn(
                source="demo",
                external_id=f"DEMO-{seed}-{i}-{k}",
                member=member.code,
                placed_at=at,
                total=total,
                lines=lines,
                store=store,
            )
            order_ingest(data=data, hash_=request_hash(data.external_id), via=AuditEntry.Via.CLI)
            made_orders += 1
            cycle = max(3, min(p.cycle_days or 90 for p in basket))
            at += timedelta(
                days=max(1, int(rng.gauss(cycle * 1.3, cycle * 0.5))), hours=rng.randint(-5, 5)
            )
        if progress and (i + 1) % 200 == 0:
            progress(i + 1)
    return count, made_orders
