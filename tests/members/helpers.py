from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from members.services import LineIn, OrderIn, RefundIn, order_ingest, order_refund
from members.services.idempotency import request_hash

_seq = itertools.count(1)


def order_in(
    member,
    total,
    *,
    at: datetime | None = None,
    external_id: str | None = None,
    vouchers=(),
    store=None,
    sku="MASK-10",
    before_vouchers=None,
) -> OrderIn:
    total = Decimal(str(total))
    return OrderIn(
        source="pos",
        external_id=external_id or f"T-{next(_seq)}",
        member=member.code,
        placed_at=at or timezone.now(),
        total=total,
        store=store,
        lines=[
            LineIn(
                sku=sku, name="Hydrating mask x10", category="skincare", quantity=1, amount=total
            )
        ],
        vouchers=list(vouchers),
        before_vouchers=before_vouchers,
    )


def buy(member, total, **kw):
    data = order_in(member, total, **kw)
    result, _created = order_ingest(
        data=data, hash_=request_hash(data.external_id + str(data.total))
    )
    member.refresh_from_db()
    return result


def refund(member, order_id, amount=None, *, external_id=None, lines=()):
    from members.models import Order

    order = Order.objects.get(pk=order_id)
    data = RefundIn(
        external_id=external_id or f"R-{next(_seq)}",
        amount=Decimal(str(amount)) if amount is not None else None,
        lines=list(lines),
    )
    result, _created = order_refund(order=order, data=data, hash_=request_hash(data.external_id))
    member.refresh_from_db()
    return result


def days_ago(n: int) -> datetime:
    return timezone.now() - timedelta(days=n)


def logged(type_: str, *, since: int = 0) -> list[dict]:
    """The events of ``type_`` in the log (after id ``since``), oldest first, each as its payload
    with ``member_id``."""
    from members.models import Event

    return [
        {"member_id": e.member_id, **e.payload}
        for e in Event.objects.filter(type=type_, id__gt=since).order_by("id")
    ]
