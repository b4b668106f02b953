"""What the loyalty engine announces. Higher apps (campaigns, community) listen; this app never
imports them. Signals are sent after the transaction commits, with plain data."""

from django.dispatch import Signal

member_enrolled = Signal()  # member_id
order_ingested = Signal()  # member_id, order_id, events
order_refunded = Signal()  # member_id, order_id, refund_id
tier_changed = Signal()  # member_id, from_code, to_code, cause
tier_downgrade_pending = Signal()  # member_id, from_code, to_code, due_at
milestone_reached = Signal()  # member_id, milestone_code, order_id
gift_granted = Signal()  # member_id, gift_id
voucher_issued = Signal()  # member_id, voucher_code
voucher_redeemed = Signal()  # member_id, voucher_code
points_expiring = Signal()  # member_id, points, expires_at
lifecycle_changed = Signal()  # member_id, from_stage, to_stage
member_handed_over = Signal()  # member_id, from_owner_id, to_owner_id, handover
member_erased = Signal()  # member_id


def send_on_commit(signal: Signal, **data) -> None:
    from django.db import transaction

    transaction.on_commit(lambda: signal.send(sender="members", **data))
