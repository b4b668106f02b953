"""The Member 360 timeline: one list of what happened to a member, newest first. Later apps add
their own entries (messages, tickets, events) with ``register_timeline_provider``."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from members.models import (
    ConsentRecord,
    GiftGrant,
    Member,
    Note,
    Order,
    OwnershipChange,
    PointsEntry,
    Refund,
    TierChange,
    Voucher,
)


@dataclass
class Entry:
    at: datetime
    kind: str
    title: str
    detail: str = ""
    actor: str = ""


Provider = Callable[[Member, datetime | None, int], Iterable[Entry]]
KINDS: dict[str, object] = {
    "purchase": pgettext_lazy("timeline kind", "Purchases"),
    "points": gettext_lazy("Points"),
    "tier": gettext_lazy("Tier"),
    "gift": gettext_lazy("Gifts"),
    "voucher": gettext_lazy("Vouchers"),
    "note": gettext_lazy("Notes"),
    "consent": gettext_lazy("Consent"),
    "owner": gettext_lazy("Owner"),
}
_providers: dict[str, Provider] = {}


def register_timeline_provider(kind: str, label: object, provider: Provider) -> None:
    KINDS[kind] = label
    _providers[kind] = provider


def _since(qs, field: str, since: datetime | None):
    return qs.filter(**{f"{field}__gte": since}) if since else qs


def _orders(member, since, limit):
    for o in _since(
        Order.objects.filter(member=member).select_related("store"), "placed_at", since
    ).order_by("-placed_at")[:limit]:
        yield Entry(
            o.placed_at,
            "purchase",
            _("Purchase ¥%(total)s") % {"total": f"{o.total:,.2f}"},
            " · ".join(
                x
                for x in [
                    o.store.name if o.store else _("Online"),
                    o.external_id,
                    o.get_status_display(),
                ]
                if x
            ),
        )
    for r in _since(Refund.objects.filter(order__member=member), "created_at", since).order_by(
        "-created_at"
    )[:limit]:
        yield Entry(
            r.created_at,
            "purchase",
            _("Refund ¥%(amount)s") % {"amount": f"{r.amount:,.2f}"},
            r.external_id,
        )


def _points(member, since, limit):
    for e in _since(
        PointsEntry.objects.filter(member=member).select_related("actor"), "created_at", since
    ).order_by("-created_at", "-id")[:limit]:
        sign = "+" if e.points > 0 else ""
        yield Entry(
            e.created_at,
            "points",
            f"{e.get_kind_display()} {sign}{e.points:,}",
            e.reason_text,
            e.actor.display_name if e.actor else "",
        )


def _tiers(member, since, limit):
    for c in _since(
        TierChange.objects.filter(member=member).select_related("from_tier", "to_tier"),
        "created_at",
        since,
    ).order_by("-created_at")[:limit]:
        yield Entry(
            c.created_at,
            "tier",
            _("Tier: %(from)s → %(to)s")
            % {"from": c.from_tier.name if c.from_tier else "—", "to": c.to_tier.name},
            c.get_cause_display(),
        )


def _gifts(member, since, limit):
    for g in _since(GiftGrant.objects.filter(member=member), "granted_at", since).order_by(
        "-granted_at"
    )[:limit]:
        yield Entry(
            g.granted_at,
            "gift",
            _("Gift granted: %(name)s") % {"name": g.name},
            g.get_status_display(),
        )


def _vouchers(member, since, limit):
    for v in _since(
        Voucher.objects.filter(member=member).select_related("template"), "issued_at", since
    ).order_by("-issued_at")[:limit]:
        yield Entry(
            v.issued_at,
            "voucher",
            _("Voucher issued: %(name)s") % {"name": v.template.name},
            v.get_status_display(),
        )


def _notes(member, since, limit):
    for n in _since(
        Note.objects.filter(member=member).select_related("author"), "created_at", since
    )[:limit]:
        yield Entry(
            n.created_at,
            "note",
            pgettext("staff note", "Note"),
            n.body,
            n.author.display_name if n.author else "",
        )


def _consent(member, since, limit):
    for r in _since(
        ConsentRecord.objects.filter(member=member).select_related("actor"), "created_at", since
    )[:limit]:
        if r.channel == "marketing":
            title = _("Opted out of marketing")
        else:
            title = (
                _("Consent given: %(channel)s")
                if r.granted
                else _("Consent withdrawn: %(channel)s")
            ) % {
                "channel": str(
                    getattr(Member._meta.get_field(f"consent_{r.channel}"), "verbose_name", "")
                )
            }
        yield Entry(
            r.created_at,
            "consent",
            title,
            r.get_source_display(),
            r.actor.display_name if r.actor else "",
        )


def _owners(member, since, limit):
    for c in _since(
        OwnershipChange.objects.filter(member=member).select_related(
            "from_owner", "to_owner", "actor"
        ),
        "created_at",
        since,
    )[:limit]:
        yield Entry(
            c.created_at,
            "owner",
            _("Owner: %(from)s → %(to)s")
            % {
                "from": c.from_owner.display_name if c.from_owner else "—",
                "to": c.to_owner.display_name if c.to_owner else "—",
            },
            _("Handover") if c.handover else "",
            c.actor.display_name if c.actor else "",
        )


for _kind, _fn in [
    ("purchase", _orders),
    ("points", _points),
    ("tier", _tiers),
    ("gift", _gifts),
    ("voucher", _vouchers),
    ("note", _notes),
    ("consent", _consent),
    ("owner", _owners),
]:
    _providers[_kind] = _fn


def member_timeline(
    member: Member,
    *,
    kinds: Iterable[str] | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[Entry]:
    wanted = [k for k in (kinds or _providers) if k in _providers]
    streams = [
        sorted(_providers[k](member, since, limit), key=lambda e: e.at, reverse=True)
        for k in wanted
    ]
    return list(heapq.merge(*streams, key=lambda e: e.at, reverse=True))[:limit]
