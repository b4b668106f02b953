"""Every write of the members app. Import from here; the modules are an implementation detail."""

from members.services.members import (
    member_code_generate,
    member_enrol,
    member_portal_user,
    member_update,
)
from members.services.orders import (
    LineIn,
    OrderIn,
    RefundIn,
    gift_fulfil,
    order_ingest,
    order_refund,
)
from members.services.points import (
    points_adjust,
    points_expire_due,
    points_notify_expiring,
    points_redeem,
)
from members.services.tiers import tier_evaluate, tiers_evaluate_daily
from members.services.vouchers import (
    voucher_issue,
    voucher_redeem,
    vouchers_expire_due,
)

__all__ = [
    "LineIn",
    "OrderIn",
    "RefundIn",
    "gift_fulfil",
    "member_code_generate",
    "member_enrol",
    "member_portal_user",
    "member_update",
    "order_ingest",
    "order_refund",
    "points_adjust",
    "points_expire_due",
    "points_notify_expiring",
    "points_redeem",
    "tier_evaluate",
    "tiers_evaluate_daily",
    "voucher_issue",
    "voucher_redeem",
    "vouchers_expire_due",
]
