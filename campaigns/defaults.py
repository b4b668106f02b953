"""The shipped system messages: what the member is told when the loyalty engine announces
something (the template's code is the event's type). Operators edit or switch them off in the
console; a migration writes them once."""

from __future__ import annotations

# (code, channel, kind, name zh, name en, body zh, body en)
SYSTEM_TEMPLATES = [
    (
        "tier_changed",
        "portal",
        "service",
        "升级通知",
        "Tier upgrade",
        "{name}，恭喜您升级为{tier}！新的会员权益已生效，到店或在会员中心查看：{portal_link}",
        "{name}, congratulations: you are now {tier}! Your new benefits apply from today: {portal_link}",
    ),
    (
        "gift_granted",
        "portal",
        "service",
        "礼品待领取",
        "Gift waiting",
        "{name}，您的礼品“{gift}”已备好，下次到店出示会员码即可领取。",
        "{name}, your gift “{gift}” is ready: show your member code at the counter to collect it.",
    ),
    (
        "points_expiring",
        "portal",
        "service",
        "积分即将到期",
        "Points expiring",
        "{name}，您有 {expiring_points} 积分将于 {expiry_date} 到期，可在会员中心兑换礼品：{portal_link}",
        "{name}, {expiring_points} of your points expire on {expiry_date}. Redeem them for a reward: {portal_link}",
    ),
    (
        "voucher_issued",
        "portal",
        "service",
        "优惠券到账",
        "Voucher received",
        "{name}，您收到一张优惠券：{voucher}，有效期至 {expiry_date}。",
        "{name}, a voucher is in your wallet: {voucher}, valid until {expiry_date}.",
    ),
]


def system_templates_ensure(apps=None) -> int:
    """Write the shipped templates that are missing (zh-hans and en). Returns how many."""
    if apps is None:
        from campaigns.models import MessageTemplate
    else:
        MessageTemplate = apps.get_model("campaigns", "MessageTemplate")
    made = 0
    for code, channel, kind, name_zh, name_en, body_zh, body_en in SYSTEM_TEMPLATES:
        for language, name, body in (("zh-hans", name_zh, body_zh), ("en", name_en, body_en)):
            _obj, created = MessageTemplate.objects.get_or_create(
                code=code,
                channel=channel,
                language=language,
                defaults={"name": name, "kind": kind, "body": body},
            )
            made += created
    return made
