"""Reading campaigns: the audience a campaign reaches and its draw, the dry run before launch, the
results against the holdout, the calendar's campaigns. Set-based SQL; nothing here writes."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from campaigns import calendar, guard, stats
from campaigns.models import (
    Campaign,
    CampaignListMember,
    CampaignMember,
    Message,
    MessageSettings,
)
from campaigns.models.messages import MARKETING, Channel
from members.models import Member, Order, Voucher, VoucherTemplate
from members.selectors.segments import segment_q

CHANNELS = tuple(Channel.values)
# What the relay needs of a member to reach them on a channel (the channels' ``address``).
ADDRESS_SQL = {
    "sms": "m.phone <> ''",
    "email": "m.email <> ''",
    "wecom": "m.owner_id IS NOT NULL",
    "portal": "1 = 1",
}
ADDRESS_COLUMN = {"sms": "m.phone", "email": "m.email", "wecom": "''", "portal": "m.code"}
OVERLAP_SHARE = Decimal("0.20")
OVERLAP_DAYS = 3


def send_time(campaign: Campaign, now: datetime | None = None) -> datetime:
    """When the first round sends: its start, or at once when that has passed."""
    now = now or timezone.now()
    return max(campaign.starts_at, now)


# --- The audience and its draw ----------------------------------------------------------------


def audience_all(campaign: Campaign) -> QuerySet[Member]:
    """Everyone the campaign's segment or list names (erased members left out)."""
    qs = Member.objects.filter(erased_at__isnull=True)
    if campaign.uses_list:
        return qs.filter(
            pk__in=CampaignListMember.objects.filter(campaign_id=campaign.pk).values("member_id")
        )
    if campaign.segment_id:
        return qs.filter(segment_q(campaign.segment.definition))
    return qs.none()


def reachable_q(channels: list[str]) -> Q:
    """Who a marketing campaign on these channels may reach (API.md: consent on at least one of
    its channels and not opted out of marketing; nor asking for service messages only)."""
    consent = Q(pk__in=[])
    for channel in channels:
        if channel in CHANNELS:
            consent |= Q(**{f"consent_{channel}": True})
    return Q(marketing_opt_out=False) & ~Q(frequency=Member.Frequency.SERVICE) & consent


def audience_reachable(campaign: Campaign) -> QuerySet[Member]:
    return audience_all(campaign).filter(reachable_q(campaign.channels))


def ranked_sql(campaign: Campaign) -> tuple[str, list[Any]]:
    """The reachable audience with each member's place in the draw (``rn``, from 1) and the
    audience's size (``n``): ordered by md5(seed:member id), so the same seed over the same
    audience gives the same groups. The holdout is ``rn * 100 <= n * percent + 50`` (the first
    ``round(n * percent / 100)`` places)."""
    sql, params = audience_reachable(campaign).order_by().values_list("id").query.sql_with_params()
    collate = ' COLLATE "C"' if connection.vendor == "postgresql" else ""
    return (
        "SELECT a.id AS member_id, count(*) OVER () AS n, row_number() OVER ("  # noqa: S608 (names from a fixed set, numbers checked)
        f"ORDER BY md5(CAST(%s AS TEXT) || ':' || CAST(a.id AS TEXT)){collate}, a.id) AS rn"
        f" FROM ({sql}) a",
        [str(campaign.seed), *params],
    )


# --- The dry run ------------------------------------------------------------------------------


@dataclass
class Profile:
    """What decides a treated member's messages, as the relay will see it."""

    consent: tuple[bool, ...]  # per campaign channel
    address: tuple[bool, ...]
    unreachable: tuple[bool, ...]
    frequency: str


def _profiles_sql(campaign: Campaign, since: datetime) -> tuple[str, list[Any]]:
    """The reachable audience grouped by what the relay will judge: drawn into the holdout or
    not, the member's frequency and, per channel, consent, an address and a refusal on record.
    Members with marketing messages sent since ``since`` stay one a row (``hist`` is their id):
    their history is judged one by one."""
    ranked, params = ranked_sql(campaign)
    cols: list[str] = []
    for ch in campaign.channels:
        cols.append(f"m.consent_{ch}")
        cols.append(f"CASE WHEN {ADDRESS_SQL[ch]} THEN 1 ELSE 0 END")
        cols.append(
            "CASE WHEN EXISTS (SELECT 1 FROM campaigns_unreachable u WHERE u.member_id = m.id"  # noqa: S608 (names from a fixed set, numbers checked)
            f" AND u.channel = '{ch}' AND (u.address = '' OR u.address = {ADDRESS_COLUMN[ch]}))"
            " THEN 1 ELSE 0 END"
        )
    pct = int(campaign.holdout_percent)
    keys = [f"r.rn * 100 <= r.n * {pct} + 50", "m.frequency", "h.member_id", *cols]
    names = [f"k{i}" for i in range(len(keys))]
    inner = ", ".join(f"{k} AS {name}" for k, name in zip(keys, names, strict=True))
    listed = ", ".join(names)
    sql = (
        f"SELECT {listed}, count(*) FROM (SELECT {inner}"  # noqa: S608 (names from a fixed set, numbers checked)
        f" FROM ({ranked}) r JOIN members_member m ON m.id = r.member_id"
        " LEFT JOIN (SELECT DISTINCT member_id FROM campaigns_message"
        "  WHERE kind IN ('value', 'promotion') AND sent_at IS NOT NULL AND sent_at > %s) h"
        f" ON h.member_id = r.member_id) x GROUP BY {listed}"
    )
    adapt = connection.ops.adapt_datetimefield_value
    return sql, [*params, adapt(since)]


def _history(member_ids: list[int], since: datetime) -> dict[int, list[tuple[datetime, str]]]:
    out: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    if not member_ids:
        return out
    rows = Message.objects.filter(
        member_id__any=member_ids, kind__in=MARKETING, sent_at__isnull=False, sent_at__gt=since
    ).values_list("member_id", "sent_at", "kind")
    for member_id, at, kind in rows:
        out[member_id].append((at, kind))
    return out


def _simulate(
    profile: Profile,
    channels: list[str],
    kind: str,
    sent: list[tuple[datetime, str]],
    rails: guard.Rails,
    at: datetime,
    expires_at: datetime,
) -> list[str]:
    """What the relay will decide for each of the member's messages, in the order it meets them
    (the campaign's channel order): "sent", "skip" or the reason of a deferral; "" for a channel
    without consent (no message is written)."""
    history = list(sent)
    out: list[str] = []
    for i, _ch in enumerate(channels):
        if not profile.consent[i]:
            out.append("")
            continue
        decision = guard.decide(
            kind=kind,
            recipient=guard.Recipient(
                address="x" if profile.address[i] else "",
                consent=True,
                opted_out=False,
                unreachable=profile.unreachable[i],
                frequency=profile.frequency,
            ),
            sent=history,
            rails=rails,
            now=at,
            expires_at=expires_at,
        )
        if decision.action == "send":
            history.append((at, kind))
            out.append("sent")
        elif decision.action == "skip":
            out.append("skip")
        else:
            out.append(decision.reason)
    return out


def campaign_dry_run(campaign: Campaign, *, now: datetime | None = None) -> dict[str, Any]:
    """Before launch, over the real data: who the audience is, how many the draw treats, how
    many each channel reaches, how many sends the guard rails would defer and why (judged by the
    relay's own function at the first send time), what the offer may cost against the budget,
    and the conflicts to know of. The draw uses the campaign's stored seed, so these are the
    members the launch will treat."""
    from campaigns.services.outbox import message_expiry, rails_of

    now = now or timezone.now()
    at = send_time(campaign, now)
    s = MessageSettings.current()
    rails = rails_of(s)
    expires_at = message_expiry(campaign.kind, at, s)
    channels = list(campaign.channels)
    total = audience_all(campaign).count()
    longest = max(rails.cap_days, rails.ratio_window_days, 30)
    since = at - timedelta(days=longest)
    sql, params = _profiles_sql(campaign, since)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    history = _history([r[2] for r in rows if r[2] is not None and not r[0]], since)
    per_channel: dict[str, Counter] = {ch: Counter() for ch in channels}
    reachable_audience = held = treated = 0
    n = len(channels)
    for held_out, frequency, hist_member, *flags, count in rows:
        reachable_audience += count
        if held_out:
            held += count
            continue
        treated += count
        profile = Profile(
            consent=tuple(bool(flags[3 * i]) for i in range(n)),
            address=tuple(bool(flags[3 * i + 1]) for i in range(n)),
            unreachable=tuple(bool(flags[3 * i + 2]) for i in range(n)),
            frequency=frequency,
        )
        sent = history.get(hist_member, []) if hist_member is not None else []
        outcome = _simulate(profile, channels, campaign.kind, sent, rails, at, expires_at)
        for ch, result in zip(channels, outcome, strict=True):
            if result:
                per_channel[ch]["written"] += count
                per_channel[ch][result] += count
    channel_rows = []
    for ch in channels:
        c = per_channel[ch]
        reachable = c["written"] - c["skip"]
        channel_rows.append(
            {
                "channel": ch,
                "consent": c["written"],
                "reachable": reachable,
                "sent": c["sent"],
                "deferred": reachable - c["sent"],
                "quiet_hours": c["quiet_hours"],
                "frequency_cap": c["frequency_cap"],
                "ratio_3_1": c["ratio_3_1"],
                "member_frequency": c["member_frequency"],
                "unreachable": c["skip"],
            }
        )
    result = {
        "at": now.isoformat(),
        "send_at": at.isoformat(),
        "audience": total,
        "reachable_audience": reachable_audience,
        "not_reachable": total - reachable_audience,
        "treatment": treated,
        "holdout": held,
        "channels": channel_rows,
        "offer": _offer_cost(campaign, treated),
        "warnings": campaign_conflicts(campaign, now=now, at=at, size=reachable_audience),
    }
    return result


def _offer_cost(campaign: Campaign, treated: int) -> dict[str, Any] | None:
    """The offer's most it can cost: one voucher per treated member and round, at its face value
    (known for amount-off vouchers only)."""
    template = campaign.offer
    if template is None:
        return None
    rounds = len(campaign.round_starts())
    vouchers = treated * rounds
    face = template.amount if template.kind == VoucherTemplate.Kind.AMOUNT_OFF else None
    most = (face * vouchers) if face is not None else None
    over = bool(most is not None and campaign.budget is not None and most > campaign.budget)
    return {
        "template": template.code,
        "vouchers": vouchers,
        "face_value": str(face) if face is not None else None,
        "max_cost": str(most) if most is not None else None,
        "budget": str(campaign.budget) if campaign.budget is not None else None,
        "over_budget": over,
    }


def campaign_conflicts(
    campaign: Campaign, *, now: datetime, at: datetime, size: int
) -> list[dict[str, Any]]:
    """What to know before launch: another launched campaign reaching more than 20% of the same
    members within 3 days, a send in a public holiday's quiet hours, and vouchers in the
    members' wallets the offer cannot be combined with."""
    warnings: list[dict[str, Any]] = []
    audience = audience_reachable(campaign)
    if size:
        for other in Campaign.objects.filter(
            status__in=(Campaign.Status.SCHEDULED, Campaign.Status.RUNNING),
        ).exclude(pk=campaign.pk):
            close = any(
                abs(start - at) <= timedelta(days=OVERLAP_DAYS) for start in other.round_starts()
            )
            if not close:
                continue
            shared = audience.filter(
                pk__in=CampaignMember.objects.filter(campaign_id=other.pk).values("member_id")
            ).count()
            if Decimal(shared) > OVERLAP_SHARE * size:
                warnings.append(
                    {
                        "code": "overlap",
                        "campaign": other.pk,
                        "name": other.name,
                        "shared": shared,
                        "share": stats.decimal_rate(shared / size),
                    }
                )
    s = MessageSettings.current()
    from campaigns.services.outbox import rails_of

    quiet_end = guard.in_quiet_hours(at, rails_of(s))
    if quiet_end is not None:
        local = timezone.localtime(at).date()
        for day in (local, local + dt.timedelta(days=1)):
            holiday = next(
                (
                    d
                    for d in calendar.public_holidays(day.year)
                    if d.date == day and d.kind == calendar.HOLIDAY
                ),
                None,
            )
            if holiday is not None:
                warnings.append(
                    {
                        "code": "holiday_quiet_hours",
                        "holiday_zh": holiday.name_zh,
                        "holiday_en": holiday.name_en,
                        "until": quiet_end.isoformat(),
                    }
                )
                break
    template = campaign.offer
    if template is not None and size:
        held = Voucher.objects.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now),
            status=Voucher.Status.AVAILABLE,
            member__in=audience,
        ).exclude(template=template)
        if template.stackable:
            held = held.filter(template__stackable=False)
        holders = held.values("member_id").distinct().count()
        if holders:
            warnings.append(
                {"code": "stacking", "members": holders, "stackable": template.stackable}
            )
    return warnings


# --- Results ----------------------------------------------------------------------------------


def _window(campaign: Campaign) -> tuple[datetime, datetime]:
    start = campaign.starts_at
    if campaign.launched_at is not None:
        start = max(start, campaign.launched_at)
    return start, campaign.window_end


def campaign_results(campaign: Campaign, *, now: datetime | None = None) -> dict[str, Any]:
    """The figures of a launched campaign: per group, members, converted (a paid order in the
    window), orders, revenue; for the treatment, members sent and delivered; the offer's cost;
    the lift over the holdout with its 95% interval; cumulative conversion by day. Set-based:
    one pass over the groups joined with the window's orders, one over the messages."""
    now = now or timezone.now()
    start, end = _window(campaign)
    until = min(end, now)
    adapt = connection.ops.adapt_datetimefield_value
    group_sql = (
        'SELECT cm."group", count(*), count(o.member_id), COALESCE(sum(o.n), 0),'
        " COALESCE(sum(o.revenue), 0)"
        " FROM campaigns_campaignmember cm LEFT JOIN ("
        "  SELECT member_id, count(*) AS n, sum(total - refunded_amount) AS revenue"
        "  FROM members_order WHERE placed_at >= %s AND placed_at < %s AND status <> %s"
        "  GROUP BY member_id) o ON o.member_id = cm.member_id"
        ' WHERE cm.campaign_id = %s GROUP BY cm."group"'
    )
    daily_sql = (
        'SELECT cm."group", o.first_at FROM campaigns_campaignmember cm JOIN ('
        "  SELECT member_id, min(placed_at) AS first_at FROM members_order"
        "  WHERE placed_at >= %s AND placed_at < %s AND status <> %s GROUP BY member_id) o"
        " ON o.member_id = cm.member_id WHERE cm.campaign_id = %s"
    )
    refunded = Order.Status.REFUNDED.value
    window_params = [adapt(start), adapt(until), refunded, campaign.pk]
    groups: dict[str, dict[str, Any]] = {
        g: {"members": 0, "converted": 0, "orders": 0, "revenue": Decimal("0")}
        for g in ("treatment", "holdout")
    }
    firsts: dict[str, Counter] = {"treatment": Counter(), "holdout": Counter()}
    with connection.cursor() as cursor:
        cursor.execute(group_sql, window_params)
        for group, members, converted, orders, revenue in cursor.fetchall():
            groups[group] = {
                "members": members,
                "converted": converted,
                "orders": int(orders),
                "revenue": Decimal(str(revenue)).quantize(stats.MONEY),
            }
        if until > start:
            cursor.execute(daily_sql, window_params)
            for group, first_at in cursor.fetchall():
                if isinstance(first_at, str):  # SQLite gives the text it stored
                    first_at = datetime.fromisoformat(first_at).replace(tzinfo=dt.UTC)
                days = (first_at - start) // timedelta(days=1)
                firsts[group][days] += 1
    sent = Message.objects.filter(
        source_type=Message.SourceType.CAMPAIGN, source_id__in=campaign.source_ids()
    )
    by_status = dict(sent.values("status").annotate(n=Count("id")).values_list("status", "n"))
    reached = (
        sent.filter(status__in=(Message.Status.SENT, Message.Status.DELIVERED))
        .values("member_id")
        .distinct()
        .count()
    )
    delivered = sent.filter(status=Message.Status.DELIVERED).values("member_id").distinct().count()
    t, h = groups["treatment"], groups["holdout"]
    lift = stats.lift_estimate(
        treated=t["members"],
        treated_converted=t["converted"],
        held=h["members"],
        held_converted=h["converted"],
    )
    inc_orders = stats.incremental(t["orders"], h["orders"], t["members"], h["members"])
    inc_revenue = stats.incremental(t["revenue"], h["revenue"], t["members"], h["members"])
    cost = Voucher.objects.filter(
        source=f"campaign:{campaign.pk}", status=Voucher.Status.REDEEMED
    ).aggregate(total=Sum("redeemed_value"))["total"] or Decimal("0")
    issued = Voucher.objects.filter(source=f"campaign:{campaign.pk}").count()
    span = max(0, min((until - start).days + 1, (end - start).days))
    curve: dict[str, list[str]] = {}
    for g in ("treatment", "holdout"):
        running, points = 0, []
        for d in range(span):
            running += firsts[g].get(d, 0)
            points.append(stats.decimal_rate(stats.rate(running, groups[g]["members"])))
        curve[g] = points
    return {
        "window_days": campaign.conversion_window_days,
        "window": {"start": start.isoformat(), "end": end.isoformat(), "until": until.isoformat()},
        "treatment": {
            "members": t["members"],
            "sent": reached,
            "delivered": delivered,
            "converted": t["converted"],
            "conversion_rate": stats.decimal_rate(lift.treatment_rate),
            "orders": t["orders"],
            "revenue": str(t["revenue"]),
        },
        "holdout": {
            "members": h["members"],
            "converted": h["converted"],
            "conversion_rate": stats.decimal_rate(lift.holdout_rate),
            "orders": h["orders"],
            "revenue": str(h["revenue"]),
        },
        "lift": {
            "absolute": stats.decimal_rate(lift.absolute),
            "ci95": [stats.decimal_rate(lift.low), stats.decimal_rate(lift.high)]
            if lift.absolute is not None
            else None,
            "relative": stats.decimal_rate(lift.relative),
            "significant": lift.significant,
            "incremental_orders": round(inc_orders) if inc_orders is not None else None,
            "incremental_revenue": str(inc_revenue.quantize(stats.MONEY))
            if inc_revenue is not None
            else None,
        },
        "messages": {status: by_status.get(status, 0) for status in Message.Status.values},
        "offer_cost": str(Decimal(cost).quantize(stats.MONEY)),
        "vouchers_issued": issued,
        "daily": {
            "days": [(start + timedelta(days=d)).date().isoformat() for d in range(span)],
            **curve,
        },
    }


# --- Drill-down -------------------------------------------------------------------------------

DRILL = ("all", "converted", "not_converted", "sent", "not_sent")


def campaign_members(campaign: Campaign, *, group: str, which: str = "all") -> QuerySet:
    """The members behind a figure: a group, and optionally those who converted (or not), or who
    were sent a message (or not). Ordered by member id; the page counts nothing it need not."""
    start, end = _window(campaign)
    qs = (
        CampaignMember.objects.filter(campaign_id=campaign.pk, group=group)
        .select_related("member", "member__tier", "member__store")
        .order_by("member_id")
    )
    orders = Order.objects.filter(placed_at__gte=start, placed_at__lt=end).exclude(
        status=Order.Status.REFUNDED
    )
    sent = Message.objects.filter(
        source_type=Message.SourceType.CAMPAIGN,
        source_id__in=campaign.source_ids(),
        status__in=(Message.Status.SENT, Message.Status.DELIVERED),
    )
    if which == "converted":
        qs = qs.filter(member_id__in=orders.values("member_id"))
    elif which == "not_converted":
        qs = qs.exclude(member_id__in=orders.values("member_id"))
    elif which == "sent":
        qs = qs.filter(member_id__in=sent.values("member_id"))
    elif which == "not_sent":
        qs = qs.exclude(member_id__in=sent.values("member_id"))
    return qs


def message_statuses(campaign: Campaign, member_ids: list[int]) -> dict[int, str]:
    """Each member's message status in the campaign (the best of their channels)."""
    rank = {"delivered": 6, "sent": 5, "queued": 4, "deferred": 3, "failed": 2, "skipped": 1}
    out: dict[int, str] = {}
    for member_id, status in Message.objects.filter(
        source_type=Message.SourceType.CAMPAIGN,
        source_id__in=campaign.source_ids(),
        member_id__in=member_ids,
    ).values_list("member_id", "status"):
        if rank.get(status, 0) > rank.get(out.get(member_id, ""), 0):
            out[member_id] = status
    return out


# --- The calendar -----------------------------------------------------------------------------


def campaigns_between(first: dt.date, last: dt.date) -> list[tuple[dt.date, Campaign]]:
    """Each send day of each campaign (not cancelled) between two dates."""
    out: list[tuple[dt.date, Campaign]] = []
    lo = timezone.make_aware(datetime.combine(first - dt.timedelta(days=400), dt.time()))
    hi = timezone.make_aware(datetime.combine(last + dt.timedelta(days=1), dt.time()))
    for c in Campaign.objects.exclude(status=Campaign.Status.CANCELLED).filter(
        starts_at__gte=lo, starts_at__lt=hi
    ):
        for start in c.round_starts():
            day = timezone.localtime(start).date()
            if first <= day <= last:
                out.append((day, c))
    return sorted(out, key=lambda x: (x[0], x[1].starts_at, x[1].pk))


PLAN_LEAD_DAYS = 21


def occasion_planned(day: dt.date, name: str, campaigns: list[Campaign]) -> bool:
    """A festival is planned for when a campaign names it, or starts in the three weeks before
    it (up to the day)."""
    for c in campaigns:
        if c.occasion_date == day:
            return True
        start = timezone.localtime(c.starts_at).date()
        if day - dt.timedelta(days=PLAN_LEAD_DAYS) <= start <= day:
            return True
    return False
