"""The shipped growth system (SPEC section 3): Member, VIP at the 3rd purchase, Gold at 3000 CNY in
365 days, a gift at the 5th purchase, and a small rewards catalogue. Operators edit all of it.

``ensure_loyalty_defaults`` takes the model classes so the data migration can pass its historical
models; it creates only what is missing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

BENEFITS = [
    ("vip_discount", "discount", 10, "VIP 专享 9 折", "VIP 10% off"),
    ("gold_discount", "discount", 10, "金卡专享 9 折", "Gold 10% off"),
    ("named_advisor", "advisor", None, "专属顾问", "Named advisor"),
    ("new_product_trials", "trial", None, "新品试用", "New-product trials"),
    ("priority_service", "priority", None, "优先服务", "Priority service"),
    ("price_protection", "price_protection", None, "价格保护", "Price protection"),
]

TIERS = [
    {
        "code": "member",
        "rank": 0,
        "name_zh": "会员",
        "name_en": "Member",
        "multiplier": Decimal("1.00"),
        "min_purchases": None,
        "min_annual_spend": None,
        "benefits": [],
        "rule_text_zh": "入会即是会员：每消费 1 元得 1 积分，100 积分可抵 1 元。",
        "rule_text_en": "Everyone who joins is a Member: 1 point for every CNY 1 paid; 100 points are worth CNY 1.",
    },
    {
        "code": "vip",
        "rank": 1,
        "name_zh": "VIP",
        "name_en": "VIP",
        "multiplier": Decimal("1.20"),
        "min_purchases": 3,
        "min_annual_spend": None,
        "benefits": ["vip_discount"],
        "rule_text_zh": "第 3 次购物即升级 VIP：全场 9 折，积分 1.2 倍，受邀参加会员活动。",
        "rule_text_en": "Your 3rd purchase makes you a VIP: 10% off, 1.2x points and invitations to member events.",
    },
    {
        "code": "gold",
        "rank": 2,
        "name_zh": "金卡",
        "name_en": "Gold",
        "multiplier": Decimal("1.50"),
        "min_purchases": None,
        "min_annual_spend": Decimal("3000.00"),
        "benefits": [
            "gold_discount",
            "named_advisor",
            "new_product_trials",
            "priority_service",
            "price_protection",
        ],
        "rule_text_zh": "近 365 天消费满 3000 元即升级金卡：9 折、专属顾问、新品试用、优先服务、价格保护，积分 1.5 倍。",
        "rule_text_en": "Spend CNY 3,000 within 365 days for Gold: 10% off, a named advisor, new-product trials, priority service, price protection and 1.5x points.",
    },
]

MILESTONES = [
    {
        "code": "gift_5th_purchase",
        "name_zh": "第 5 次购物礼",
        "name_en": "5th purchase gift",
        "at_purchase": 5,
        "reward": "gift",
        "gift_name_zh": "会员专属礼盒",
        "gift_name_en": "Members' gift box",
    },
]

VOUCHER_TEMPLATES = [
    {
        "code": "cny10",
        "name_zh": "10 元无门槛券",
        "name_en": "CNY 10 off",
        "kind": "amount_off",
        "amount": Decimal("10.00"),
        "valid_days": 90,
        "terms_zh": "无门槛，单笔订单限用一张，有效期 90 天。",
        "terms_en": "No minimum spend; one per order; valid for 90 days.",
    },
    {
        "code": "cny50_over_300",
        "name_zh": "满 300 减 50",
        "name_en": "CNY 50 off CNY 300",
        "kind": "amount_off",
        "amount": Decimal("50.00"),
        "min_spend": Decimal("300.00"),
        "valid_days": 60,
        "terms_zh": "单笔满 300 元可用，有效期 60 天。",
        "terms_en": "For orders of CNY 300 or more; valid for 60 days.",
    },
]

REWARDS = [
    {
        "code": "voucher_cny10",
        "kind": "voucher",
        "points_cost": 1000,
        "name_zh": "10 元无门槛券",
        "name_en": "CNY 10 voucher",
        "voucher_template": "cny10",
    },
    {
        "code": "gift_sample_set",
        "kind": "gift",
        "points_cost": 2000,
        "name_zh": "精美小样礼包",
        "name_en": "Sample set gift",
        "voucher_template": None,
    },
    {
        "code": "donate_children_books",
        "kind": "donation",
        "points_cost": 500,
        "name_zh": "为山区儿童捐书",
        "name_en": "Donate books to rural children",
        "voucher_template": None,
    },
]


def ensure_loyalty_defaults(models: dict[str, Any] | None = None) -> None:
    if models is None:
        from members import models as m

        models = {
            n: getattr(m, n)
            for n in (
                "Benefit",
                "Tier",
                "Milestone",
                "VoucherTemplate",
                "Reward",
                "LoyaltySettings",
            )
        }
    Benefit, Tier, Milestone = models["Benefit"], models["Tier"], models["Milestone"]
    VoucherTemplate, Reward, LoyaltySettings = (
        models["VoucherTemplate"],
        models["Reward"],
        models["LoyaltySettings"],
    )

    LoyaltySettings.objects.get_or_create(pk=1)
    benefits = {}
    for code, kind, percent, zh, en in BENEFITS:
        benefits[code], _ = Benefit.objects.get_or_create(
            code=code, defaults={"kind": kind, "percent": percent, "name_zh": zh, "name_en": en}
        )
    if not Tier.objects.exists():
        for data in TIERS:
            data = dict(data)
            codes = data.pop("benefits")
            tier = Tier.objects.create(**data)
            tier.benefits.set([benefits[c] for c in codes])
    if not Milestone.objects.exists():
        for data in MILESTONES:
            Milestone.objects.create(**data)
    templates = {}
    for data in VOUCHER_TEMPLATES:
        data = dict(data)
        code = data.pop("code")
        templates[code], _ = VoucherTemplate.objects.get_or_create(code=code, defaults=data)
    for data in REWARDS:
        data = dict(data)
        template = data.pop("voucher_template")
        Reward.objects.get_or_create(
            code=data.pop("code"), defaults={**data, "voucher_template": templates.get(template)}
        )
