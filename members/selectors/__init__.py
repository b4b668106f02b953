"""Every non-trivial read of the members app. Selectors sit below the services: they may use the
models and the pure rules (``members.loyalty``), never a service or a view."""

from members.selectors.cards import (
    card_ladder,
    card_progress_percent,
    counted_days,
    lifecycle_stage,
    member_card,
    next_gift,
    purchase_count,
    standing,
    usable_vouchers,
    voucher_terms,
)
from members.selectors.members import (
    member_for_store,
    member_search,
    members_visible_to,
    store_code,
)
from members.selectors.rules import loyalty_context, loyalty_context_clear
from members.selectors.segments import segment_counts, segment_members

__all__ = [
    "card_ladder",
    "card_progress_percent",
    "counted_days",
    "lifecycle_stage",
    "loyalty_context",
    "loyalty_context_clear",
    "member_card",
    "member_for_store",
    "member_search",
    "members_visible_to",
    "next_gift",
    "purchase_count",
    "segment_counts",
    "segment_members",
    "standing",
    "store_code",
    "usable_vouchers",
    "voucher_terms",
]
