"""The demo's story: a beauty, mother-and-baby, bakery and pet brand with three stores, and members
whose profiles follow from what they buy, in every lifecycle stage.

Everything is written by the real services or the project's own set-based paths (members enrolled
with ``member_enrol_many``, orders ingested with ``order_ingest_many``, consent, profiles, children,
pets, tags, notes, owners, vouchers, rewards and gifts by their services, then the nightly jobs),
so ledgers, tiers, milestones, events and lifecycle stages agree as in real use. Afterwards the
times of enrolment, consent, ownership and notes are moved back to when the story has them
happen (the services stamp "now").

Deterministic: the same seed gives the same members, profiles and orders (codes are drawn at
random by the services).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from accounts.models import AuditEntry, Store, User
from accounts.phones import normalize_phone
from members.models import (
    AttributeDefinition,
    ConsentRecord,
    GiftGrant,
    Member,
    Note,
    Order,
    OwnershipChange,
    Product,
    Reward,
    Tag,
    VoucherTemplate,
)
from members.services import LineIn, OrderIn, RefundIn, gift_fulfil, order_refund
from members.services.idempotency import request_hash

SOURCE = "demo"
HEADLINE_PHONE = "13800138000"

# sku, name, category, cycle days, kind, price
CATALOGUE = [
    ("SK-MASK-10", "补水面膜 10 片装", "skincare", 30, "consumable", "129.00"),
    ("SK-SERUM-30", "修护精华 30ml", "skincare", 60, "consumable", "399.00"),
    ("SK-CREAM-50", "保湿面霜 50g", "skincare", 75, "consumable", "299.00"),
    ("SK-SUN-50", "轻薄防晒乳 SPF50", "skincare", 45, "consumable", "168.00"),
    ("SK-CLEANSER", "氨基酸洁面乳 120g", "skincare", 60, "consumable", "89.00"),
    ("SK-TONER", "舒缓爽肤水 200ml", "skincare", 50, "consumable", "159.00"),
    ("SK-DEVICE", "美容仪", "skincare", None, "durable", "1299.00"),
    ("MB-DIAPER-NB", "新生儿纸尿裤 NB 码 84 片", "mother_baby", 10, "consumable", "129.00"),
    ("MB-DIAPER-L", "纸尿裤 L 码 52 片", "mother_baby", 14, "consumable", "139.00"),
    ("MB-FORMULA-1", "婴儿配方奶粉 1 段 800g", "mother_baby", 10, "consumable", "299.00"),
    ("MB-FORMULA-2", "婴儿配方奶粉 2 段 800g", "mother_baby", 12, "consumable", "289.00"),
    ("MB-FORMULA-3", "幼儿配方奶粉 3 段 800g", "mother_baby", 15, "consumable", "269.00"),
    ("MB-WIPES", "婴儿湿巾 80 抽 x6", "mother_baby", 20, "consumable", "59.00"),
    ("MB-SNACK", "宝宝米饼 3 盒装", "mother_baby", 20, "consumable", "39.00"),
    ("MB-STROLLER", "轻便婴儿推车", "mother_baby", None, "durable", "1680.00"),
    ("BK-TOAST", "北海道吐司", "bakery", 3, "consumable", "22.00"),
    ("BK-CROISSANT", "黄油可颂 4 只装", "bakery", 3, "consumable", "32.00"),
    ("BK-EGGTART", "葡式蛋挞 6 只装", "bakery", 3, "consumable", "36.00"),
    ("BK-CHEESE", "重芝士蛋糕切块", "bakery", 5, "consumable", "58.00"),
    ("BK-CAKE-6", "6 寸鲜奶油蛋糕", "bakery", 30, "consumable", "188.00"),
    ("BK-MOONCAKE", "流心奶黄月饼礼盒", "bakery", None, "consumable", "268.00"),
    ("PT-CATFOOD-2", "全价猫粮 2kg", "pet", 30, "consumable", "159.00"),
    ("PT-CATCAN", "主食猫罐头 24 罐", "pet", 24, "consumable", "168.00"),
    ("PT-LITTER", "豆腐猫砂 6L x3", "pet", 21, "consumable", "89.00"),
    ("PT-DOGFOOD-5", "全价犬粮 5kg", "pet", 35, "consumable", "239.00"),
    ("PT-TREATS", "冻干零食", "pet", 20, "consumable", "49.00"),
    ("PT-DEWORM", "体内外驱虫药", "pet", 90, "consumable", "128.00"),
]
PRICE = {sku: Decimal(price) for sku, _n, _c, _cy, _k, price in CATALOGUE}
NAME = {sku: name for sku, name, *_rest in CATALOGUE}
CATEGORY = {sku: category for sku, _n, category, *_rest in CATALOGUE}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "杰", "娟", "涛", "明", "超", "霞",
    "晓雨", "思琪", "子涵", "欣怡", "梓萱", "浩宇", "一诺", "雨桐", "佳怡", "可馨", "俊杰", "宇轩",
    "晨曦", "婷婷", "晓燕", "丹丹", "秀英", "桂兰", "雅琴", "诗涵", "梦瑶", "嘉怡", "文博", "志强",
]  # fmt: skip
PREFIXES = [
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156",
    "157", "158", "159", "166", "177", "180", "181", "185", "186", "187", "188", "189", "199",
]  # fmt: skip

STAGES = [
    # stage, share of the generated members
    ("prospect", 8),
    ("first_purchase", 20),
    ("second_purchase", 15),
    ("repeat", 14),
    ("loyal", 13),
    ("dormant", 14),
    ("lapsed", 16),
]
INTERESTS = [("skincare", 34), ("mother_baby", 26), ("bakery", 24), ("pet", 16)]
CHANNELS = [("store", 55), ("mini_program", 20), ("online", 10), ("referral", 8), ("event", 7)]
# Typical days between purchases, and the most purchases a loyal member has, per interest.
CYCLE = {"skincare": 38, "mother_baby": 16, "bakery": 6, "pet": 26}
LOYAL_MAX = {"skincare": 9, "mother_baby": 16, "bakery": 22, "pet": 12}

# The named members the README and the counter's examples use. The first is the headline member.
NAMED = [
    # phone, name, store, channel, interest, stage
    (HEADLINE_PHONE, "林晓雨", "SH01", "store", "skincare", "second_purchase"),
    ("13912345678", "张伟", "SH01", "mini_program", "bakery", "loyal"),
    ("13698761234", "王秀英", "SH01", "store", "mother_baby", "repeat"),
    ("15011112222", "李静", "BJ01", "online", "skincare", "loyal"),
    ("15233334444", "刘洋", "BJ01", "referral", "pet", "repeat"),
    ("18655556666", "陈思琪", "GZ01", "event", "skincare", "dormant"),
    ("18777778888", "杨帆", "GZ01", "store", "pet", "lapsed"),
    ("13355551234", "赵敏", "SH01", "store", "mother_baby", "first_purchase"),
    ("17799990000", "黄子涵", "BJ01", "mini_program", "bakery", "first_purchase"),
    ("15866661234", "周杰", "GZ01", "online", "skincare", "prospect"),
]

SKIN_TYPES = [("combination", 30), ("dry", 22), ("sensitive", 18), ("oily", 16), ("normal", 14)]
SKIN_CONCERNS = {
    "combination": ["T 区出油", "毛孔粗大", "补水"],
    "dry": ["补水", "细纹", "起皮"],
    "sensitive": ["泛红", "刺痛", "屏障修护"],
    "oily": ["控油", "痘痘", "毛孔粗大"],
    "normal": ["美白", "抗初老", "补水"],
}
SKIN_SEASONS = ["秋冬干燥", "换季泛红", "夏季出油", "春季花粉过敏", ""]
FLAVOURS = ["抹茶", "芒果", "草莓", "巧克力", "奶油", "芝士", "红豆", "椰子", "咸蛋黄", "肉松"]
DISLIKES = ["榴莲", "葡萄干", "肉松", "芋泥", "太甜"]
ALLERGIES = ["坚果", "乳糖", "麸质", "鸡蛋"]
DIETS = ["控糖", "素食", "健身减脂", ""]
CHILD_NAMES = ["小米", "乐乐", "糖糖", "豆豆", "果果", "安安", "朵朵", "悠悠", "多多", "小满"]
CAT_NAMES = ["咪咪", "橘子", "雪球", "布丁", "奶茶", "团子", "煤球", "花卷"]
DOG_NAMES = ["豆豆", "旺财", "可乐", "球球", "阿黄", "七七", "饼干", "毛毛"]
OCCUPATIONS = ["教师", "护士", "程序员", "设计师", "全职妈妈", "公务员", "销售", "自由职业"]
VISIT_TIMES = ["工作日白天", "工作日晚上", "周末"]

NOTES = {
    "skincare": [
        "喜欢清爽质地，对香精敏感，推荐无香款。",
        "换季容易泛红，上次试用修护精华反馈很好。",
        "关注抗初老，新品到店请第一时间通知。",
        "每次都问防晒，夏季前一个月提醒补货。",
    ],
    "mother_baby": [
        "宝宝{months}个月，奶粉换段前提醒试用装。",
        "二胎妈妈，大宝已上幼儿园，周末常带孩子来店。",
        "宝宝红屁屁，推荐过敏感肌纸尿裤。",
        "预产期前想买推车，已加企微发了对比图。",
    ],
    "bakery": [
        "周末常来买早餐吐司，偏爱少糖。",
        "家人生日会提前一周订 6 寸蛋糕。",
        "公司下午茶团购联系人，逢节日订蛋挞。",
        "只吃无坚果的款，推荐时请避开。",
    ],
    "pet": [
        "家里{pets}，猫砂偏好豆腐砂。",
        "狗狗肠胃敏感，换粮要循序渐进。",
        "每年春天来买驱虫药，三月提醒。",
        "喜欢冻干零食，新口味到店请通知。",
    ],
}

DEMO_VOUCHER_TEMPLATES = [
    {
        "code": "birthday_20off",
        "name_zh": "生日月 8 折券",
        "name_en": "Birthday month 20% off",
        "kind": "percent_off",
        "percent": 20,
        "valid_days": 30,
        "terms_zh": "生日当月有效，单笔订单限用一张。",
        "terms_en": "Valid in your birthday month; one per order.",
    },
]

AUTO_TAGS = [("护肤客", "skincare"), ("母婴家庭", "mother_baby"), ("烘焙控", "bakery")]
AUTO_TAGS += [("宠物家长", "pet")]
ATTRIBUTES = [
    ("preferred_visit", "偏好到店时段", AttributeDefinition.Kind.CHOICE, VISIT_TIMES),
    ("occupation", "职业", AttributeDefinition.Kind.TEXT, []),
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


# --- The plan: who the members are and what happens to them, decided before anything is written --


@dataclass
class PlannedOrder:
    day: date
    skus: list[tuple[str, int]]
    discount: Decimal = Decimal("1")  # what the tier takes off at the till (paid amounts are sent)
    voucher: int | None = None  # index into the plan's vouchers, redeemed with this order
    at: datetime | None = None


@dataclass
class PlannedVoucher:
    template: str
    issued: datetime
    source: str


@dataclass
class Plan:
    i: int
    phone: str
    name: str
    store: str
    channel: str
    interest: str
    stage: str
    joined: datetime
    birthday: date | None = None
    email: str = ""
    second: str | None = None  # a second category bought now and then
    orders: list[PlannedOrder] = field(default_factory=list)
    vouchers: list[PlannedVoucher] = field(default_factory=list)
    consent: dict[str, bool] = field(default_factory=dict)
    consent_source: str = ConsentRecord.Source.STORE
    withdraw_sms: bool = False
    opt_out: bool = False
    frequency: str | None = None
    skin: dict | None = None
    taste: dict | None = None
    children: list[tuple[str, date | None, date | None]] = field(default_factory=list)
    pets: list[tuple[str, str, date, list[date]]] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    note: str = ""
    note_day: date | None = None
    keep_gift_waiting: bool = False
    redeem_reward: bool = False
    refund: bool = False


def _proportional(items: list[tuple[str, int]], n: int, rng: random.Random) -> list[str]:
    """``n`` values in the given shares (largest remainder, so every share shows at small n),
    shuffled."""
    total = sum(w for _v, w in items)
    exact = [(v, n * w / total) for v, w in items]
    out = [v for v, x in exact for _ in range(int(x))]
    rest = sorted(exact, key=lambda e: e[1] - int(e[1]), reverse=True)
    out += [v for v, _x in rest[: n - len(out)]]
    rng.shuffle(out)
    return out


def _weighted(rng: random.Random, items: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _w in items], weights=[w for _v, w in items])[0]


class Planner:
    def __init__(self, *, seed: int, now: datetime, stores: list[str]):
        self.rng = random.Random(seed)
        self.now = now
        self.tz = ZoneInfo(settings.TIME_ZONE)
        self.today = now.astimezone(self.tz).date()
        self.stores = stores
        self.phones: set[str] = {p for p, *_r in NAMED}

    # -- small helpers --

    def at(self, day: date, *, hour_from: int = 10, hour_to: int = 21) -> datetime:
        """A time during opening hours on a local day, and never later than a few minutes ago."""
        rng = self.rng
        local = datetime(
            day.year, day.month, day.day, rng.randint(hour_from, hour_to - 1), rng.randint(0, 59)
        )
        at = local.replace(tzinfo=self.tz)
        return min(at, self.now - timedelta(minutes=rng.randint(5, 90)))

    def phone(self) -> str:
        while True:
            p = self.rng.choice(PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if p not in self.phones:
                self.phones.add(p)
                return p

    def name(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    # -- members --

    def plans(self, count: int) -> list[Plan]:
        """The named members, then more up to ``count`` in all."""
        rng = self.rng
        plans = [self.member(i, *row) for i, row in enumerate(NAMED)]
        count = max(0, count - len(NAMED))
        stages = _proportional(STAGES, count, rng)
        interests = _proportional(INTERESTS, count, rng)
        for k in range(count):
            stage, interest = stages[k], interests[k]
            channel = _weighted(rng, CHANNELS)
            plans.append(
                self.member(
                    len(NAMED) + k,
                    self.phone(),
                    self.name(),
                    rng.choice(self.stores),
                    channel,
                    interest,
                    stage,
                )
            )
        self.children_by_stage([p for p in plans if "mother_baby" in (p.interest, p.second)])
        for p in plans:
            self.extras(p)
        self.headline(plans[0])
        return plans

    def member(self, i, phone, name, store, channel, interest, stage) -> Plan:
        rng = self.rng
        p = Plan(
            i=i,
            phone=phone,
            name=name,
            store=store,
            channel=channel,
            interest=interest,
            stage=stage,
            joined=self.now,
        )
        if rng.random() < 0.15 and stage != "prospect":
            p.second = rng.choice([c for c, _w in INTERESTS if c != interest])
        if "pet" in (interest, p.second):
            species = "cat" if rng.random() < 0.6 else "dog"
            p.pets.append((self.pet_name(species), species, self.pet_birthday(), []))
            if rng.random() < 0.2:
                other = "dog" if species == "cat" and rng.random() < 0.3 else species
                p.pets.append((self.pet_name(other), other, self.pet_birthday(), []))
        self.schedule(p)
        if rng.random() < 0.62:
            p.birthday = date(rng.randint(1975, 2003), rng.randint(1, 12), rng.randint(1, 28))
        if rng.random() < 0.25:
            p.email = f"member{i:04d}@example.com"
        return p

    def pet_name(self, species: str) -> str:
        return self.rng.choice(CAT_NAMES if species == "cat" else DOG_NAMES)

    def pet_birthday(self) -> date:
        return self.today - timedelta(days=self.rng.randint(200, 365 * 11))

    def schedule(self, p: Plan) -> None:
        """Order dates that put the member in their stage, spaced by what they buy."""
        rng, today = self.rng, self.today
        shape = {
            "prospect": (0, 0, (1, 150)),
            "first_purchase": (1, 1, (2, 85)),
            "second_purchase": (2, 2, (2, 80)),
            "repeat": (3, 4, (1, 80)),
            "loyal": (5, LOYAL_MAX[p.interest], (1, 45)),
            "dormant": (1, 6, (95, 175)),
            "lapsed": (1, 5, (185, 690)),
        }[p.stage]
        low, high, (age_lo, age_hi) = shape
        last_age = rng.randint(age_lo, age_hi)
        if p.stage == "prospect":
            p.joined = self.at(today - timedelta(days=last_age))
            return
        n = rng.randint(low, high)
        cycle = CYCLE[p.interest]
        gaps = [max(1, round(rng.gauss(cycle * 1.2, cycle * 0.4))) for _ in range(n - 1)]
        room = 725 - last_age
        if sum(gaps) > room:  # two years of history at most
            scale = room / sum(gaps)
            gaps = [max(1, int(g * scale)) for g in gaps]
        days = [today - timedelta(days=last_age)]
        for g in gaps:
            days.append(days[-1] - timedelta(days=g))
        days.reverse()
        while len(days) > 1 and days[0] < today - timedelta(days=725):
            days.pop(0)
        p.orders = [PlannedOrder(day=d, skus=[]) for d in days]
        first = days[0]
        if p.channel in ("store", "event"):
            p.joined = self.at(first)  # enrolled at the counter with the first purchase
        else:
            p.joined = self.at(
                max(first - timedelta(days=rng.randint(1, 30)), today - timedelta(725))
            )
        for k, order in enumerate(p.orders):
            order.at = self.at(order.day)
            if k == 0 and order.at < p.joined:
                order.at = p.joined + timedelta(minutes=rng.randint(3, 20))
            if k >= 3:  # VIP from the 3rd purchase: 10% off at the till
                order.discount = Decimal("0.9")

    def children_by_stage(self, mums: list[Plan]) -> None:
        """Children at every stage: pregnancy (a due date), 0-6 months, 6-12 months, toddler and
        preschool, in turn; some families have an older child too."""
        rng, today = self.rng, self.today
        turn = ["pregnancy", "newborn", "infant", "toddler", "preschool"]
        for k, p in enumerate(mums):
            stage = turn[k % len(turn)]
            name = rng.choice(CHILD_NAMES)
            if stage == "pregnancy":
                p.children.append(("", None, today + timedelta(days=rng.randint(20, 220))))
            else:
                low, high = {
                    "newborn": (5, 170),
                    "infant": (190, 350),
                    "toddler": (380, 1050),
                    "preschool": (1110, 2150),
                }[stage]
                age = rng.randint(low, high)
                p.children.append((name, today - timedelta(days=age), None))
            if stage in ("pregnancy", "newborn", "infant") and rng.random() < 0.2:
                older = today - timedelta(days=rng.randint(3 * 365 + 30, 6 * 365))
                p.children.append((rng.choice(CHILD_NAMES), older, None))

    def extras(self, p: Plan) -> None:
        """Baskets, profiles, consent, vouchers, tags and notes that follow from the member."""
        rng, today = self.rng, self.today
        for order in p.orders:
            category = p.interest
            if p.second and rng.random() < 0.3:
                category = p.second
            order.skus = self.basket(category, p, order.day)
        bought = {CATEGORY[s] for o in p.orders for s, _q in o.skus} | {p.interest}
        # Most buyers of a category have its profile; half of those who buy it now and then.
        if "skincare" in bought and rng.random() < (0.9 if p.interest == "skincare" else 0.5):
            skin = _weighted(rng, SKIN_TYPES)
            p.skin = {
                "skin_type": skin,
                "skin_concerns": "\n".join(rng.sample(SKIN_CONCERNS[skin], k=rng.randint(1, 3))),
                "skin_sensitivity": rng.choice(SKIN_SEASONS),
            }
        if "bakery" in bought and rng.random() < (0.85 if p.interest == "bakery" else 0.5):
            likes = rng.sample(FLAVOURS, k=rng.randint(1, 3))
            p.taste = {
                "likes": "\n".join(likes),
                "dislikes": rng.choice([*(d for d in DISLIKES if d not in likes), ""]),
                "sweetness": _weighted(
                    rng, [("low", 40), ("normal", 35), ("none", 10), ("high", 15)]
                ),
                "allergies": rng.choice(ALLERGIES) if rng.random() < 0.15 else "",
                "diet": rng.choice(DIETS),
            }
        for k, (name, species, born, _v) in enumerate(p.pets):
            shots: list[date] = []
            last = today - timedelta(days=rng.randint(20, 380))
            for _ in range(rng.randint(1, 3)):
                if last > born:
                    shots.append(last)
                last -= timedelta(days=rng.randint(350, 380))
            p.pets[k] = (name, species, born, shots or [born + timedelta(days=60)])

        # Consent, as given at enrolment; a few withdraw later or opt out of marketing.
        if rng.random() < 0.92:
            p.consent = {
                "sms": rng.random() < 0.85,
                "wecom": rng.random() < 0.65,
                "portal": rng.random() < 0.5,
                "email": bool(p.email) and rng.random() < 0.6,
            }
        p.consent_source = {
            "store": ConsentRecord.Source.STORE,
            "event": ConsentRecord.Source.STORE,
            "referral": ConsentRecord.Source.PORTAL,
            "mini_program": ConsentRecord.Source.API,
            "online": ConsentRecord.Source.API,
        }[p.channel]
        roll = rng.random()
        p.withdraw_sms = bool(p.consent.get("sms")) and roll < 0.06
        p.opt_out = 0.06 <= roll < 0.08
        frequency = _weighted(rng, [("", 78), ("weekly", 10), ("monthly", 9), ("service", 3)])
        p.frequency = frequency or None

        # Vouchers: welcome, a nudge to the 3rd purchase, win-backs, birthdays, and some used.
        def issue(template: str, days_ago: int, source: str) -> int:
            p.vouchers.append(
                PlannedVoucher(template, self.at(today - timedelta(days=days_ago)), source)
            )
            return len(p.vouchers) - 1

        joined_age = (today - p.joined.astimezone(self.tz).date()).days
        last_age = (today - p.orders[-1].day).days if p.orders else None
        if p.stage == "prospect":
            issue("cny10", joined_age, "welcome")
        for k, order in enumerate(p.orders):
            age = (today - order.day).days
            if k == 0 or age > 70 or rng.random() >= 0.3:
                continue
            before = self.list_total(order)
            template = "cny50_over_300" if before >= 300 and age < 50 else "cny10"
            if before <= Decimal("20"):
                continue
            order.voucher = issue(template, age + rng.randint(2, 8), "campaign")
            p.vouchers[order.voucher].issued = min(
                p.vouchers[order.voucher].issued, order.at - timedelta(hours=3)
            )
        if p.stage == "second_purchase" and last_age and last_age >= 2 and rng.random() < 0.45:
            issue("cny50_over_300", rng.randint(1, min(25, last_age - 1)), "campaign")
        if p.stage == "dormant" and rng.random() < 0.6 and last_age:
            issue("cny10", last_age - 30, "winback")
        if p.stage == "lapsed" and rng.random() < 0.5 and last_age:
            issue("cny10", last_age - 60, "winback")
        if p.birthday and p.birthday.month == today.month and p.orders:
            issue("birthday_20off", min(today.day - 1, joined_age), "birthday")
        p.redeem_reward = rng.random() < 0.35
        p.keep_gift_waiting = rng.random() < 0.15
        p.refund = len(p.orders) >= 4 and rng.random() < 0.03

        # Custom attributes, tags (manual; the automatic ones come from purchases) and notes.
        if rng.random() < 0.4:
            p.attributes["preferred_visit"] = rng.choice(VISIT_TIMES)
        if rng.random() < 0.25:
            p.attributes["occupation"] = rng.choice(OCCUPATIONS)
        spend = sum((self.list_total(o) for o in p.orders), Decimal("0"))
        if p.stage in ("second_purchase", "repeat") and spend > 500 and rng.random() < 0.5:
            p.tags.append("高潜力")
        if p.stage == "dormant" and rng.random() < 0.5:
            p.tags.append("需回访")
        if any(o.voucher is not None for o in p.orders) and rng.random() < 0.5:
            p.tags.append("价格敏感")
        if p.channel in ("referral", "event") and rng.random() < 0.4:
            p.tags.append("种草达人")
        if p.interest == "bakery" and p.stage == "loyal" and rng.random() < 0.25:
            p.tags.append("企业团购")
        allergic = (p.taste and p.taste["allergies"]) or (
            p.skin and p.skin["skin_type"] == "sensitive"
        )
        if allergic and rng.random() < 0.6:
            p.tags.append("过敏体质")
        if p.orders and rng.random() < 0.35:
            text = rng.choice(NOTES[p.interest])
            months = ""
            born = [b for _n, b, _d in p.children if b]
            if born and (today - max(born)).days < 3 * 365:
                months = str(max(1, (today - max(born)).days // 30))
            pets = "、".join(f"{n}（{'猫' if s == 'cat' else '狗'}）" for n, s, _b, _v in p.pets)
            if ("{months}" in text and not months) or ("{pets}" in text and not pets):
                text = NOTES[p.interest][-1]
            p.note = text.format(months=months, pets=pets)
            span = (p.orders[-1].day - p.orders[0].day).days
            p.note_day = p.orders[0].day + timedelta(days=rng.randint(0, span))

    def basket(self, category: str, p: Plan, day: date) -> list[tuple[str, int]]:
        rng = self.rng
        if category == "skincare":
            pool = [("SK-MASK-10", 3), ("SK-SERUM-30", 2), ("SK-CREAM-50", 2), ("SK-SUN-50", 2)]
            pool += [("SK-CLEANSER", 2), ("SK-TONER", 2), ("SK-DEVICE", 0.2)]
        elif category == "mother_baby":
            born = [b for _n, b, _d in p.children if b]
            birth = max(born) if born else None
            if birth is None or day < birth:
                pool = [("MB-WIPES", 3), ("MB-DIAPER-NB", 2), ("MB-STROLLER", 0.6)]
            elif (day - birth).days < 180:
                pool = [("MB-DIAPER-NB", 3), ("MB-FORMULA-1", 3), ("MB-WIPES", 2)]
            elif (day - birth).days < 365:
                pool = [("MB-DIAPER-L", 3), ("MB-FORMULA-2", 3), ("MB-WIPES", 2)]
            else:
                pool = [("MB-DIAPER-L", 2), ("MB-FORMULA-3", 3), ("MB-SNACK", 2), ("MB-WIPES", 1)]
        elif category == "bakery":
            pool = [("BK-TOAST", 4), ("BK-CROISSANT", 3), ("BK-EGGTART", 3), ("BK-CHEESE", 2)]
            pool += [("BK-CAKE-6", 0.6)] + ([("BK-MOONCAKE", 4)] if day.month == 9 else [])
        else:
            species = {s for _n, s, _b, _v in p.pets} or {"cat"}
            pool = [("PT-TREATS", 2), ("PT-DEWORM", 0.4)]
            if "cat" in species:
                pool += [("PT-CATFOOD-2", 3), ("PT-LITTER", 3), ("PT-CATCAN", 1.5)]
            if "dog" in species:
                pool += [("PT-DOGFOOD-5", 4)]
        k = rng.choice((1, 1, 2, 2, 3))
        skus: list[str] = []
        while len(skus) < min(k, len(pool)):
            sku = rng.choices([s for s, _w in pool], weights=[w for _s, w in pool])[0]
            if sku not in skus:
                skus.append(sku)
        durable = {"SK-DEVICE", "MB-STROLLER", "BK-CAKE-6", "BK-MOONCAKE"}
        return [(s, 1 if s in durable else rng.choice((1, 1, 1, 2, 2, 3))) for s in skus]

    @staticmethod
    def list_total(order: PlannedOrder) -> Decimal:
        return sum(
            (
                (PRICE[s] * q * order.discount).quantize(Decimal("0.01"), ROUND_HALF_UP)
                for s, q in order.skus
            ),
            Decimal("0"),
        )

    def headline(self, p: Plan) -> None:
        """林晓雨: two purchases (one away from VIP at the 3rd), a baby, a skin profile, a voucher
        to bring her back, consent on every channel she uses."""
        today = self.today
        p.orders = [
            PlannedOrder(day=today - timedelta(days=52), skus=[("SK-SERUM-30", 1), ("SK-MASK-10", 1)]),
            PlannedOrder(day=today - timedelta(days=11), skus=[("MB-FORMULA-2", 1), ("MB-DIAPER-L", 2)]),
        ]  # fmt: skip
        for o in p.orders:
            o.at = datetime(o.day.year, o.day.month, o.day.day, 15, 20, tzinfo=self.tz)
        p.joined = p.orders[0].at - timedelta(minutes=12)
        p.second = "mother_baby"
        p.birthday, p.email = date(1992, 5, 20), "lin@example.com"
        p.skin = {
            "skin_type": "combination",
            "skin_concerns": "补水\n换季泛红",
            "skin_sensitivity": "秋冬干燥",
        }
        p.taste = None
        p.children = [("小米", today - timedelta(days=245), None)]
        p.pets = []
        p.consent = {"sms": True, "wecom": True, "portal": True, "email": False}
        p.consent_source, p.withdraw_sms, p.opt_out, p.frequency = "store", False, False, None
        p.vouchers = [
            PlannedVoucher("cny50_over_300", self.at(today - timedelta(days=4)), "campaign")
        ]
        p.tags = ["高潜力"]
        p.attributes = {"preferred_visit": "周末", "occupation": "设计师"}
        p.note = "宝宝 8 个月，换季时脸颊易泛红；再买一次即升 VIP，可推荐修护精华。"
        p.note_day = p.orders[1].day
        p.redeem_reward = p.keep_gift_waiting = p.refund = False


# --- Writing the plan through the services ---------------------------------------------------


class Progress:
    """One line per stage on the terminal: how far, what was made, how long it took."""

    WEIGHTS = {
        "members": 10,
        "owners": 7,
        "consent": 8,
        "profiles": 12,
        "vouchers": 4,
        "orders": 36,
        "after": 6,
        "nightly": 7,
        "tags": 6,
        "segments": 4,
    }

    def __init__(self, log: Callable[[str], None]):
        self.log = log
        self.done = 0
        self.started = time.monotonic()

    def __call__(self, stage: str, detail: str, part: float = 1.0) -> None:
        total = sum(self.WEIGHTS.values())
        pct = int(100 * (self.done + self.WEIGHTS[stage] * part) / total)
        if part >= 1.0:
            self.done += self.WEIGHTS[stage]
        self.log(f"  [{pct:3d}%] {stage}: {detail} ({time.monotonic() - self.started:.0f}s)")


def demo_seed(
    *,
    count: int,
    stores: dict[str, Store],
    owners: dict[str, list[User]],
    operator: User | None,
    seed: int = 2026,
    now: datetime | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, int]:
    """Plan ``count`` members (the named ones first) and write them through the services."""
    from members.services.members import member_enrol_many
    from members.services.ownership import member_assign_owner
    from members.services.profiles import (
        attribute_define,
        attribute_set,
        child_save,
        consent_set,
        marketing_opt_out,
        note_add,
        pet_save,
        profile_update,
        tag_add,
        tag_define,
    )
    from members.services.vouchers import voucher_issue

    now = now or timezone.now()
    progress = Progress(log)
    catalogue_ensure()
    planner = Planner(seed=seed, now=now, stores=sorted(stores))
    plans = planner.plans(count)
    rng = random.Random(seed + 1)
    stats: dict[str, int] = {}

    # Members, enrolled as the counter and the integrations do; then when they joined.
    rows = [
        {
            "phone": normalize_phone(p.phone),
            "name": p.name,
            "store": stores[p.store],
            "channel": p.channel,
            "email": p.email,
            "birthday": p.birthday,
        }
        for p in plans
    ]
    member_of: dict[str, int] = {}
    for start in range(0, len(rows), 500):
        found, _created = member_enrol_many(rows[start : start + 500], via=AuditEntry.Via.CLI)
        member_of.update(found)
    members = {m.phone: m for m in Member.objects.filter(phone__in=list(member_of))}
    by_plan = {p.i: members[normalize_phone(p.phone)] for p in plans}
    for p in plans:
        by_plan[p.i].joined_at = p.joined
    Member.objects.bulk_update(list(by_plan.values()), ["joined_at"], batch_size=500)
    progress("members", f"{len(plans)} enrolled")

    # An owner for every member: a colleague of their store.
    owner_of: dict[int, User] = {}
    for p in plans:
        owner = owners[p.store][p.i % len(owners[p.store])]
        member_assign_owner(member=by_plan[p.i], owner=owner, actor=None)
        owner_of[p.i] = owner
    progress(
        "owners", f"{len(plans)} members owned by {len({o.pk for o in owner_of.values()})} staff"
    )

    # Consent with its history.
    for p in plans:
        m = by_plan[p.i]
        if any(p.consent.values()) or p.frequency:
            consent_set(
                member=m,
                consent={c: v for c, v in p.consent.items() if v},
                source=p.consent_source,
                actor=None,
                frequency=p.frequency,
            )
        if p.withdraw_sms:
            consent_set(member=m, consent={"sms": False}, source="portal", actor=None)
        if p.opt_out:
            marketing_opt_out(member=m, source="portal", actor=None)
    consented = Member.objects.filter(pk__in=[m.pk for m in by_plan.values()]).exclude(
        consent_sms=False, consent_wecom=False, consent_portal=False, consent_email=False
    )
    progress("consent", f"{consented.count()} members with consent")

    # Profiles: skin, taste, children, pets, custom attributes.
    attributes = {}
    for key, label, kind, choices in ATTRIBUTES:
        attributes[key] = AttributeDefinition.objects.filter(key=key).first() or attribute_define(
            key=key, label=label, kind=kind, choices=choices, actor=operator
        )
    for p in plans:
        m, staff = by_plan[p.i], owner_of[p.i]
        if p.skin or p.taste:
            profile_update(member=m, data={**(p.skin or {}), **(p.taste or {})}, actor=staff)
        for name, birth, due in p.children:
            child_save(member=m, name=name, birth_date=birth, due_date=due, actor=staff)
        for name, species, born, shots in p.pets:
            pet_save(
                member=m, name=name, species=species, birthday=born, vaccinations=shots, actor=staff
            )
        for key, value in p.attributes.items():
            attribute_set(member=m, attribute=attributes[key], value=value, actor=staff)
    stats["skin"] = sum(1 for p in plans if p.skin)
    stats["taste"] = sum(1 for p in plans if p.taste)
    stats["children"] = sum(len(p.children) for p in plans)
    stats["pets"] = sum(len(p.pets) for p in plans)
    progress(
        "profiles",
        f"{stats['skin']} skin and {stats['taste']} taste profiles, {stats['children']} children,"
        f" {stats['pets']} pets",
    )

    # Vouchers issued when the story has them issued (the ones an order uses come first).
    for data in DEMO_VOUCHER_TEMPLATES:
        data = dict(data)
        VoucherTemplate.objects.get_or_create(code=data.pop("code"), defaults=data)
    templates = {t.code: t for t in VoucherTemplate.objects.all()}
    codes: dict[tuple[int, int], str] = {}
    for p in plans:
        for k, v in enumerate(p.vouchers):
            voucher = voucher_issue(
                template=templates[v.template],
                member=by_plan[p.i],
                source=v.source,
                issue_key=f"demo:{seed}:{p.i}:{k}",
                now=v.issued,
            )
            codes[(p.i, k)] = voucher.code
    progress("vouchers", f"{len(codes)} issued")

    # Orders: a member's whole history in one batch of the set-based ingest, in time order.
    from members.services.order_batch import order_ingest_many

    buyers = [p for p in plans if p.orders]
    total_orders = sum(len(p.orders) for p in buyers)
    done = 0
    chunk: list[tuple[OrderIn, str]] = []

    def flush() -> None:
        nonlocal done
        results = order_ingest_many(items=chunk, via=AuditEntry.Via.CLI, card=False)
        bad = [body for status, body in results if status not in (200, 201)]
        if bad:
            raise RuntimeError(f"A demo order was refused: {bad[0]}")
        done += len(chunk)
        chunk.clear()
        progress("orders", f"{done}/{total_orders}", done / total_orders)

    for p in buyers:
        for k, o in enumerate(p.orders):
            chunk.append(_order_in(p, k, o, by_plan[p.i], stores, codes, seed))
        if len(chunk) >= 400:
            flush()
    if chunk:
        flush()
    stats["orders"] = total_orders

    # A few partial refunds, gifts handed over at the counter, points spent on rewards.
    refunds = 0
    for p in plans:
        if not p.refund:
            continue
        order = Order.objects.filter(source=SOURCE, member=by_plan[p.i]).order_by("-placed_at")[1]
        amount = (order.total / 2).quantize(Decimal("0.01"))
        order_refund(
            order=order,
            data=RefundIn(external_id=f"{order.external_id}-R", amount=amount),
            hash_=request_hash(f"{order.external_id}-R"),
        )
        refunds += 1
    gifts = GiftGrant.objects.filter(status=GiftGrant.Status.PENDING, member__in=by_plan.values())
    handed = 0
    plan_of = {by_plan[p.i].pk: p for p in plans}
    for gift in gifts.select_related("member", "order"):
        p = plan_of[gift.member_id]
        recent = gift.order is not None and gift.order.placed_at > now - timedelta(days=30)
        if recent or p.keep_gift_waiting:
            continue
        gift_fulfil(gift=gift, actor=owner_of[p.i], store=stores[p.store])
        handed += 1
    progress("after", f"{refunds} partial refunds, {handed} gifts handed over")

    # What the nightly jobs would do by now.
    from members.services import points_expire_due, tiers_evaluate_daily, vouchers_expire_due
    from members.services.lifecycle import lifecycle_recompute_all
    from members.services.points import points_redeem

    expired_points = points_expire_due(now=now)
    tiers_evaluate_daily(now=now)
    rewards = {r.code: r for r in Reward.objects.filter(is_active=True)}
    redeemed = 0
    voucher_reward = rewards.get("voucher_cny10")
    balance = dict(
        Member.objects.filter(pk__in=[m.pk for m in by_plan.values()]).values_list(
            "pk", "points_balance"
        )
    )
    for p in plans:
        m = by_plan[p.i]
        if p.redeem_reward and voucher_reward and balance[m.pk] >= voucher_reward.points_cost:
            points_redeem(
                member=m,
                points=voucher_reward.points_cost,
                key=f"demo:{seed}:{p.i}",
                reward=voucher_reward,
            )
            redeemed += 1
    expired_vouchers = vouchers_expire_due(now=now)
    lifecycle_recompute_all()
    progress(
        "nightly",
        f"{expired_points} points and {expired_vouchers} vouchers expired, {redeemed} rewards"
        " redeemed with points, lifecycle and RFM recomputed",
    )

    # Tags: automatic ones from purchases, manual ones by the owners; notes.
    from members.services.profiles import tags_auto_apply

    for name, category in AUTO_TAGS:
        if not Tag.objects.filter(name=name).exists():
            tag_define(name=name, rule_category=category, actor=operator)
    tags_auto_apply()
    manual = 0
    notes: list[tuple[int, date]] = []
    for p in plans:
        m = by_plan[p.i]
        for name in p.tags:
            tag_add(member=m, name=name, actor=owner_of[p.i])
            manual += 1
        if p.note:
            note = note_add(member=m, body=p.note, actor=owner_of[p.i])
            notes.append((note.pk, p.note_day or planner.today))
    _backdate(planner, by_plan, notes, rng)
    progress("tags", f"{manual} manual tags, automatic tags applied, {len(notes)} notes")

    made = segments_ensure(operator)
    progress("segments", f"{made} saved segments")
    stats["members"] = len(plans)
    return stats


def _order_in(
    p: Plan,
    k: int,
    o: PlannedOrder,
    member: Member,
    stores: dict[str, Store],
    codes: dict[tuple[int, int], str],
    seed: int,
) -> tuple[OrderIn, str]:
    lines = [
        LineIn(
            sku=sku,
            name=NAME[sku],
            category=CATEGORY[sku],
            quantity=qty,
            amount=(PRICE[sku] * qty * o.discount).quantize(Decimal("0.01"), ROUND_HALF_UP),
        )
        for sku, qty in o.skus
    ]
    before = sum((ln.amount for ln in lines), Decimal("0"))
    vouchers: list[str] = []
    if o.voucher is not None:
        template = p.vouchers[o.voucher].template
        off = Decimal("50") if template == "cny50_over_300" else Decimal("10")
        top = max(lines, key=lambda ln: ln.amount)
        top.amount -= min(off, top.amount - Decimal("0.01"))
        vouchers = [codes[(p.i, o.voucher)]]
    total = sum((ln.amount for ln in lines), Decimal("0"))
    online = p.channel in ("online", "mini_program") and k % 3 == 2
    data = OrderIn(
        source=SOURCE,
        external_id=f"D{seed}-{p.i:05d}-{k:02d}",
        member=member.code,
        placed_at=o.at,
        total=total,
        lines=lines,
        store=None if online else stores[p.store],
        vouchers=vouchers,
        before_vouchers=before if vouchers else None,
    )
    return data, request_hash(data.external_id)


def _backdate(
    planner: Planner,
    by_plan: dict[int, Member],
    notes: list[tuple[int, date]],
    rng: random.Random,
) -> None:
    """The services stamp "now"; the story has consent given at enrolment (withdrawn later),
    owners assigned then, and notes written between purchases."""
    ids = [m.pk for m in by_plan.values()]
    joined = Member.objects.filter(pk=OuterRef("member_id")).values("joined_at")[:1]
    ConsentRecord.objects.filter(member_id__in=ids, granted=True).update(
        created_at=Subquery(joined)
    )
    OwnershipChange.objects.filter(member_id__in=ids, handover="").update(
        created_at=Subquery(joined)
    )
    joined_at = {m.pk: m.joined_at for m in by_plan.values()}
    later = []
    for record in ConsentRecord.objects.filter(member_id__in=ids, granted=False):
        start = joined_at[record.member_id] + timedelta(days=1)
        record.created_at = max(start, planner.now - timedelta(days=rng.randint(3, 60)))
        record.created_at = min(record.created_at, planner.now)
        later.append(record)
    ConsentRecord.objects.bulk_update(later, ["created_at"], batch_size=500)
    rows = []
    for pk, day in notes:
        rows.append(Note(pk=pk, created_at=planner.at(day)))
    Note.objects.bulk_update(rows, ["created_at"], batch_size=500)


SEGMENTS = [
    (
        "差一次升 VIP（二次购买）",
        "已买两次、近 90 天来过：第 3 次购物即升 VIP，适合发满减券。",
        {"field": "purchase_count", "op": "eq", "value": 2},
        {"field": "last_purchase", "op": "within", "value": 90},
    ),
    (
        "沉睡与流失会员唤醒",
        "90 天以上未购、可短信或企微触达。",
        {"field": "lifecycle_stage", "op": "in", "value": ["dormant", "lapsed"]},
        {"field": "consent", "op": "in", "value": ["sms", "wecom"]},
    ),
    (
        "活跃会员（近 180 天购买）",
        "近 180 天有购买、可短信或企微触达：大促通知的基础人群。",
        {"field": "last_purchase", "op": "within", "value": 180},
        {"field": "consent", "op": "in", "value": ["sms", "wecom"]},
    ),
    (
        "孕期与 0–12 月宝宝家庭",
        "奶粉、纸尿裤的换段与囤货提醒。",
        {"field": "child_stage", "op": "in", "value": ["pregnancy", "newborn", "infant"]},
        None,
    ),
    (
        "敏感肌与干皮",
        "换季修护精华、面霜推荐。",
        {"field": "skin_type", "op": "in", "value": ["sensitive", "dry"]},
        None,
    ),
    (
        "猫主人",
        "猫粮、猫砂的复购提醒。",
        {"field": "pet", "op": "in", "value": ["cat"]},
        None,
    ),
    (
        "烘焙常客（近 90 天 2 次以上）",
        "新品试吃邀请。",
        {"field": "bought_category", "op": "in", "value": {"category": "bakery", "days": 90, "min_count": 2}},
        None,
    ),
]  # fmt: skip


def segments_ensure(operator: User | None) -> int:
    """The demo's saved audiences, counted now."""
    from members.models import Segment
    from members.selectors.segments import segment_clean, segment_q
    from members.services.segments import segment_save

    made = 0
    for name, description, first, second in SEGMENTS:
        if Segment.objects.filter(name=name).exists():
            continue
        definition = segment_clean(
            {
                "match": "all",
                "groups": [
                    {"match": "all", "conditions": [c for c in (first, second) if c is not None]}
                ],
            }
        )
        count = Member.objects.filter(segment_q(definition), erased_at__isnull=True).count()
        segment_save(
            name=name,
            description=description,
            definition=definition,
            for_marketing=True,
            actor=operator,
            count=count,
        )
        made += 1
    return made
