"""The outbox: every message to a member on any channel is a row here first, written in the
transaction that decides to send it; the relay hands due rows to their channel.

The relay (``outbox_relay_batch``), in the shape of Zulip's scheduled-message delivery:

1. **Claim**, in one short transaction: the oldest due rows (``queued`` or ``deferred``, due,
   not held by another relay, channel not paused), locked ``FOR UPDATE SKIP LOCKED`` so any
   number of relays on any number of machines take disjoint rows. Marketing rows also take a
   transaction lock per member (``pg_advisory_xact_lock``, in member order), so two relays never
   judge the same member's caps at once.
2. **Judge** every row at send time (``campaigns.guard.decide``): skipped or deferred rows are
   written with their reason in the claim transaction. A row that may go is *reserved*: its
   ``sent_at`` is set (so it counts against the member's caps at once) and it is held
   (``claimed_until``) for the lease. Portal rows are delivered right there.
3. **Send** the reserved rows of the other channels outside any transaction, one by one, and
   record each outcome (sent, retry with backoff, recipient unreachable, channel paused, handed
   to a person) against the same hold, so a late relay never overwrites a newer claim.

A relay killed after the claim leaves its rows held; when the lease passes another relay claims
them again and sends with the same idempotency key (the message id), which the providers dedupe.
"""

from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from campaigns import guard, templating
from campaigns.channels import adapter_for
from campaigns.channels.base import Outcome
from campaigns.models import (
    ChannelState,
    Message,
    MessageAttempt,
    MessageSettings,
    MessageTemplate,
    Unreachable,
)
from campaigns.models.messages import MARKETING
from members import events
from members.models import GiftGrant, Member, Tier, Voucher

logger = logging.getLogger("scrm.outbox")

ADVISORY_NAMESPACE = 7301  # pg_advisory_xact_lock(namespace, member id): one judge per member
MAX_BACKOFF = timedelta(hours=6)


# --- Writing messages ------------------------------------------------------------------------


def rails_of(s: MessageSettings) -> guard.Rails:
    return guard.Rails(
        quiet_start=s.quiet_start,
        quiet_end=s.quiet_end,
        time_zone=s.time_zone,
        cap_count=s.cap_count,
        cap_days=s.cap_days,
        value_per_promotion=s.value_per_promotion,
        ratio_window_days=s.ratio_window_days,
    )


def member_context(member: Member, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The values of the template variables for one member (in the active language)."""
    store = member.store
    context: dict[str, Any] = {
        "name": member.name or _("member"),
        "member_code": member.code,
        "tier": member.tier.name if member.tier_id and member.tier else "",
        "points": member.points_balance,
        "store": store.name if store is not None else "",
        "portal_link": f"{settings.SCRM_PUBLIC_URL}/portal/",
        "voucher": "",
        "gift": "",
        "expiring_points": "",
        "expiry_date": "",
    }
    context.update(extra or {})
    return context


def message_expiry(kind: str, at: datetime, s: MessageSettings | None = None) -> datetime | None:
    """A marketing message that cannot go within its expiry is dropped (``expired``); a service
    or transactional one waits as long as it must."""
    if kind not in MARKETING:
        return None
    s = s or MessageSettings.current()
    return at + timedelta(days=s.expiry_days)


def message_queue(
    *,
    member: Member,
    channel: str,
    kind: str,
    text: str,
    source_type: str,
    source_id: str | int,
    subject: str = "",
    template: MessageTemplate | None = None,
    scheduled_for: datetime | None = None,
    expires_at: datetime | None = None,
    language: str = "",
) -> Message:
    """Queue one message in the caller's transaction. Idempotent on (source, member, channel):
    queuing it again returns the first row unchanged."""
    now = timezone.now()
    row, _created = Message.objects.get_or_create(
        source_type=source_type,
        source_id=str(source_id),
        member=member,
        channel=channel,
        defaults={
            "kind": kind,
            "text": text,
            "subject": subject,
            "template": template,
            "language": language or settings.LANGUAGE_CODE,
            "scheduled_for": scheduled_for or now,
            "expires_at": expires_at
            if expires_at is not None
            else message_expiry(kind, scheduled_for or now),
        },
    )
    return row


def messages_queue(rows: Iterable[Message]) -> int:
    """Queue many messages at once (unsaved ``Message`` rows); those already queued for the same
    (source, member, channel) are left as they are. Returns how many rows were offered."""
    batch = list(rows)
    Message.objects.bulk_create(batch, batch_size=1000, ignore_conflicts=True)
    return len(batch)


# --- System messages, from the event log ----------------------------------------------------

SYSTEM_MESSAGE_EVENTS = frozenset(
    {events.GIFT_GRANTED, events.POINTS_EXPIRING, events.TIER_CHANGED, events.VOUCHER_ISSUED}
)


def messages_on_events(batch: list[Any]) -> None:
    """The event log's consumer ``campaigns.messages``: a message per active system template
    (its code is the event's type) for the member of each event, in the consumer's transaction;
    the unique (source, member, channel) key makes a batch delivered twice queue nothing twice."""
    wanted = [e for e in batch if e.member_id is not None and e.type in SYSTEM_MESSAGE_EVENTS]
    if not wanted:
        return
    templates: dict[str, list[MessageTemplate]] = defaultdict(list)
    for t in MessageTemplate.objects.filter(
        is_active=True, code__in={e.type for e in wanted}
    ).order_by("code", "channel", "language"):
        templates[t.code].append(t)
    if not templates:
        return
    members = Member.objects.select_related("store", "tier").in_bulk({e.member_id for e in wanted})
    ranks = dict(Tier.objects.values_list("code", "rank"))
    gifts = GiftGrant.objects.in_bulk(
        {e.payload.get("gift_id") for e in wanted if e.type == events.GIFT_GRANTED} - {None}
    )
    vouchers = {
        v.code: v
        for v in Voucher.objects.select_related("template").filter(
            code__in={
                e.payload.get("voucher_code") for e in wanted if e.type == events.VOUCHER_ISSUED
            }
        )
    }
    s = MessageSettings.current()
    rows: list[Message] = []
    for e in wanted:
        member = members.get(e.member_id)
        if member is None or member.erased_at is not None:
            continue
        if e.type == events.TIER_CHANGED and ranks.get(e.payload.get("to_code"), 0) <= ranks.get(
            e.payload.get("from_code"), -1
        ):
            continue  # a downgrade is not announced
        if e.type == events.VOUCHER_ISSUED and str(e.payload.get("source", "")).startswith(
            "campaign"
        ):
            continue  # a campaign's own message carries its voucher
        for language, chosen in _by_channel(templates[e.type]).items():
            for template in chosen:
                with translation.override(language):
                    extra = _event_context(e, gifts, vouchers)
                    context = member_context(member, extra)
                    rows.append(
                        Message(
                            source_type=Message.SourceType.SYSTEM,
                            source_id=f"{e.type}:{e.pk}",
                            member=member,
                            channel=template.channel,
                            kind=template.kind,
                            template=template,
                            language=language,
                            subject=templating.render(template.subject, context),
                            text=templating.render(template.body, context),
                            scheduled_for=e.occurred_at,
                            expires_at=message_expiry(template.kind, e.occurred_at, s),
                        )
                    )
    messages_queue(rows)


def _by_channel(templates: list[MessageTemplate]) -> dict[str, list[MessageTemplate]]:
    """One template per channel, in the product's language when there is one (members have no
    language of their own yet): {language: [template, ...]}."""
    chosen: dict[str, MessageTemplate] = {}
    for t in templates:
        current = chosen.get(t.channel)
        if current is None or (
            t.language == settings.LANGUAGE_CODE and current.language != settings.LANGUAGE_CODE
        ):
            chosen[t.channel] = t
    out: dict[str, list[MessageTemplate]] = defaultdict(list)
    for t in chosen.values():
        out[t.language].append(t)
    return out


def _event_context(e: Any, gifts: dict, vouchers: dict) -> dict[str, Any]:
    p = e.payload
    if e.type == events.GIFT_GRANTED and p.get("gift_id") in gifts:
        return {"gift": gifts[p["gift_id"]].name}
    if e.type == events.VOUCHER_ISSUED and p.get("voucher_code") in vouchers:
        v = vouchers[p["voucher_code"]]
        expiry = timezone.localtime(v.expires_at).date().isoformat() if v.expires_at else ""
        return {"voucher": f"{v.template.name} {v.code}", "expiry_date": expiry}
    if e.type == events.POINTS_EXPIRING:
        return {
            "expiring_points": p.get("points", ""),
            "expiry_date": str(p.get("expires_at", ""))[:10],
        }
    return {}


# --- Channels ----------------------------------------------------------------------------------


def paused_channels() -> list[str]:
    return list(ChannelState.objects.filter(paused=True).values_list("channel", flat=True))


def channel_pause(*, channel: str, reason: str) -> None:
    """A configuration failure: hold every message of the channel until an operator resumes."""
    now = timezone.now()
    state, _created = ChannelState.objects.get_or_create(channel=channel)
    if not state.paused:
        ChannelState.objects.filter(pk=state.pk).update(
            paused=True, reason=reason[:2000], paused_at=now
        )
        logger.error("channel %s paused: %s", channel, reason)


def unreachable_record(*, member: Member, channel: str, address: str, reason: str) -> None:
    """The member's channel refused ``address`` for good (kept until the address changes)."""
    Unreachable.objects.update_or_create(
        member=member,
        channel=channel,
        defaults={"address": address[:254], "reason": reason[:2000], "at": timezone.now()},
    )


# --- The relay -------------------------------------------------------------------------------


def _backoff(attempts: int, base: int) -> timedelta:
    delay = timedelta(seconds=base * 2 ** max(attempts - 1, 0))
    delay = min(delay, MAX_BACKOFF)
    return delay * random.uniform(0.8, 1.2)  # noqa: S311  (jitter, not security)


def _lock_members(member_ids: list[int]) -> None:
    if connection.vendor != "postgresql" or not member_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, m))"
            " FROM (SELECT unnest(%s::int[]) AS m ORDER BY 1) AS ordered",
            [ADVISORY_NAMESPACE, sorted(member_ids)],
        )


def _history(member_ids: list[int], exclude: list[int], since: datetime) -> dict[int, list]:
    """Each member's marketing messages sent or reserved since ``since``: (sent_at, kind)."""
    out: dict[int, list] = defaultdict(list)
    if not member_ids:
        return out
    rows = (
        Message.objects.filter(
            member_id__in=member_ids, kind__in=MARKETING, sent_at__isnull=False, sent_at__gt=since
        )
        .exclude(pk__in=exclude)
        .values_list("member_id", "sent_at", "kind")
    )
    for member_id, at, kind in rows:
        out[member_id].append((at, kind))
    return out


def _recipient(member: Member, channel: str, address: str, refused: dict) -> guard.Recipient:
    """What the guard needs of a member on a channel. A channel refused for an address the member
    has since changed is reachable again."""
    refused_address = refused.get((member.pk, channel))
    return guard.Recipient(
        address=address,
        consent=bool(getattr(member, f"consent_{channel}", False)),
        opted_out=member.marketing_opt_out,
        unreachable=refused_address is not None and refused_address in ("", address),
        frequency=member.frequency,
    )


def outbox_relay_batch(*, limit: int = 200, now: datetime | None = None) -> int:
    """Claim, judge and send one batch of due messages. Returns how many rows it handled."""
    now = now or timezone.now()
    s = MessageSettings.current()
    rails = rails_of(s)
    hold = now + timedelta(seconds=settings.SCRM_OUTBOX_LEASE_SECONDS)
    adapters = {}
    to_send: list[Message] = []
    with transaction.atomic():
        paused = paused_channels()
        claimed = list(
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("member", "member__store", "member__tier")
            .filter(
                Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
                status__in=(Message.Status.QUEUED, Message.Status.DEFERRED),
                scheduled_for__lte=now,
            )
            .exclude(channel__in=paused)
            .order_by("scheduled_for", "id")[:limit]
        )
        if not claimed:
            return 0
        ids = [m.pk for m in claimed]
        marketing_members = sorted({m.member_id for m in claimed if m.kind in MARKETING})
        _lock_members(marketing_members)
        longest = max(rails.cap_days, rails.ratio_window_days, 30)
        history = _history(marketing_members, ids, now - timedelta(days=longest))
        refused = {
            (member_id, channel): address
            for member_id, channel, address in Unreachable.objects.filter(
                member_id__in={m.member_id for m in claimed}
            ).values_list("member_id", "channel", "address")
        }
        offers = _campaign_offers(claimed)
        skipped: dict[str, list[int]] = defaultdict(list)
        deferred: list[Message] = []
        delivered: list[int] = []
        going: list[Message] = []
        for m in claimed:
            adapter = adapters.get(m.channel) or adapters.setdefault(
                m.channel, adapter_for(m.channel)
            )
            member = m.member
            decision = guard.decide(
                kind=m.kind,
                recipient=_recipient(member, m.channel, adapter.address(member), refused),
                sent=history.get(member.pk, []),
                rails=rails,
                now=now,
                expires_at=m.expires_at,
            )
            if decision.action == "skip":
                skipped[decision.reason].append(m.pk)
                continue
            if decision.action == "defer":
                m.status, m.reason, m.scheduled_for = (
                    Message.Status.DEFERRED,
                    decision.reason,
                    decision.until,
                )
                m.updated_at, m.sent_at, m.claimed_until = now, None, None
                deferred.append(m)
                continue
            if m.kind in MARKETING:
                history[member.pk].append((now, m.kind))
            if m.source_type == Message.SourceType.CAMPAIGN:
                going.append(m)
            if adapter.local:
                delivered.append(m.pk)
            else:
                to_send.append(m)
        for reason, pks in skipped.items():
            Message.objects.filter(pk__in=pks).update(
                status=Message.Status.SKIPPED,
                reason=reason,
                sent_at=None,
                claimed_until=None,
                updated_at=now,
            )
        filled = _offers_attach(going, offers, now) if offers else []
        if filled:
            Message.objects.bulk_update(filled, ["text", "subject"])
        if deferred:
            Message.objects.bulk_update(
                deferred,
                ["status", "reason", "scheduled_for", "sent_at", "claimed_until", "updated_at"],
            )
        if delivered:
            Message.objects.filter(pk__in=delivered).update(
                status=Message.Status.DELIVERED,
                reason="",
                sent_at=now,
                delivered_at=now,
                attempts=F("attempts") + 1,
                claimed_until=None,
                updated_at=now,
            )
        if to_send:
            Message.objects.filter(pk__in=[m.pk for m in to_send]).update(
                sent_at=now, claimed_until=hold, attempts=F("attempts") + 1, updated_at=now
            )
    paused_now: set[str] = set()
    for m in to_send:
        m.attempts += 1
        if m.channel in paused_now:
            _release(m, hold, reason="channel_paused")
            continue
        started = time.monotonic()
        try:
            outcome = adapters[m.channel].send(m, m.member)
        except Exception as exc:  # an adapter's bug must not lose the batch: retry later
            logger.exception("channel %s raised on message %s", m.channel, m.pk)
            outcome = Outcome("retry", detail=f"{type(exc).__name__}: {exc}")
        took = int((time.monotonic() - started) * 1000)
        _record(m, outcome, hold, s, took, adapters[m.channel].address(m.member))
        if outcome.result == "config":
            paused_now.add(m.channel)
    return len(claimed)


def _campaign_offers(claimed: list[Message]) -> dict[int, Any]:
    """The offer (a voucher template) of each campaign among the claimed rows, by campaign id."""
    from campaigns.models import Campaign

    ids = {
        int(m.source_id.split(":", 1)[0])
        for m in claimed
        if m.source_type == Message.SourceType.CAMPAIGN and m.source_id.split(":", 1)[0].isdigit()
    }
    if not ids:
        return {}
    return {
        c.pk: c.offer
        for c in Campaign.objects.select_related("offer").filter(pk__in=ids, offer__isnull=False)
    }


def _offers_attach(rows: list[Message], offers: dict[int, Any], now: datetime) -> list[Message]:
    """Campaign messages with an offer, cleared to go: issue their members' vouchers through the
    voucher service (set-based, once per member and campaign round whichever channel goes first:
    the batch key is the round's) and put each into its text. Returns the rows whose text
    changed."""
    from members.services.offers import vouchers_issue_many
    from scrm.exceptions import ApplicationError

    by_round: dict[tuple[int, str], list[Message]] = defaultdict(list)
    for m in rows:
        campaign_id, _sep, round_ = m.source_id.partition(":")
        if campaign_id.isdigit() and int(campaign_id) in offers:
            by_round[(int(campaign_id), round_ or "0")].append(m)
    changed: list[Message] = []
    for (campaign_id, round_), messages in by_round.items():
        template = offers[campaign_id]
        key = f"campaign-{campaign_id}-round-{round_}"
        codes: dict[int, str] = {}
        try:
            with transaction.atomic():
                vouchers_issue_many(
                    template=template,
                    member_ids=[m.member_id for m in messages],
                    batch_key=key,
                    actor=None,
                    source=f"campaign:{campaign_id}",
                    now=now,
                )
        except ApplicationError as exc:  # the offer was switched off or has ended
            logger.info("campaign %s: no vouchers: %s", campaign_id, exc)
        else:
            codes = dict(
                Voucher.objects.filter(
                    issue_key__in=[f"batch:{key}:{m.member_id}" for m in messages]
                ).values_list("member_id", "code")
            )
        for m in messages:
            code = codes.get(m.member_id)
            label = f"{template.name} {code}" if code else ""
            m.text = templating.render(m.text, {"voucher": label})
            m.subject = templating.render(m.subject, {"voucher": label})
            changed.append(m)
    return changed


def _release(m: Message, hold: datetime, *, reason: str) -> None:
    """Put a reserved message back, as it was before the claim (not tried)."""
    Message.objects.filter(pk=m.pk, claimed_until=hold).update(
        status=Message.Status.QUEUED,
        reason=reason,
        sent_at=None,
        claimed_until=None,
        attempts=F("attempts") - 1,
        updated_at=timezone.now(),
    )


@transaction.atomic
def _record(
    m: Message, outcome: Outcome, hold: datetime, s: MessageSettings, took: int, address: str
) -> None:
    now = timezone.now()
    mine = Message.objects.filter(pk=m.pk, claimed_until=hold)
    MessageAttempt.objects.create(
        message_id=m.pk, outcome=outcome.result, detail=outcome.detail[:2000], duration_ms=took
    )
    result = outcome.result
    if result in ("sent", "person"):
        mine.update(
            status=Message.Status.SENT,
            reason="handed_to_staff" if result == "person" else "",
            provider_id=outcome.provider_id[:128],
            claimed_until=None,
            last_error="",
            updated_at=now,
        )
    elif result == "retry":
        if m.attempts >= s.max_attempts:
            mine.update(
                status=Message.Status.FAILED,
                reason="gave_up",
                sent_at=None,
                claimed_until=None,
                last_error=outcome.detail[:2000],
                updated_at=now,
            )
        else:
            delay = (
                timedelta(seconds=outcome.retry_after)
                if outcome.retry_after
                else _backoff(m.attempts, s.retry_base_seconds)
            )
            mine.update(
                status=Message.Status.QUEUED,
                reason="retry",
                sent_at=None,
                scheduled_for=now + delay,
                claimed_until=None,
                last_error=outcome.detail[:2000],
                updated_at=now,
            )
    elif result == "recipient":
        mine.update(
            status=Message.Status.FAILED,
            reason="unreachable",
            sent_at=None,
            claimed_until=None,
            last_error=outcome.detail[:2000],
            updated_at=now,
        )
        unreachable_record(
            member=m.member, channel=m.channel, address=address, reason=outcome.detail
        )
    else:  # config
        channel_pause(channel=m.channel, reason=outcome.detail or result)
        mine.update(
            status=Message.Status.QUEUED,
            reason="channel_paused",
            sent_at=None,
            claimed_until=None,
            attempts=F("attempts") - 1,
            last_error=outcome.detail[:2000],
            updated_at=now,
        )


def outbox_relay_until_empty(*, budget_seconds: float = 50.0, limit: int = 200) -> int:
    """Relay batches until nothing is due or the time budget is spent (a periodic task)."""
    started = time.monotonic()
    total = 0
    while time.monotonic() - started < budget_seconds:
        n = outbox_relay_batch(limit=limit)
        total += n
        if n == 0:
            break
    return total
