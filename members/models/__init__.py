from members.models.catalog import Order, OrderLine, Product, Refund
from members.models.imports import ImportJob
from members.models.loyalty import (
    Benefit,
    GiftGrant,
    IdempotencyRecord,
    LoyaltySettings,
    Milestone,
    MilestoneReached,
    PointsEntry,
    PointsExpiryNotice,
    Reward,
    RulesVersion,
    Tier,
    TierChange,
)
from members.models.member import CODE_ALPHABET, Member
from members.models.vouchers import Voucher, VoucherTemplate

__all__ = [
    "CODE_ALPHABET",
    "Benefit",
    "GiftGrant",
    "IdempotencyRecord",
    "ImportJob",
    "LoyaltySettings",
    "Member",
    "Milestone",
    "MilestoneReached",
    "Order",
    "OrderLine",
    "PointsEntry",
    "PointsExpiryNotice",
    "Product",
    "Refund",
    "Reward",
    "RulesVersion",
    "Tier",
    "TierChange",
    "Voucher",
    "VoucherTemplate",
]
