"""The guard rails a message meets at send time, as one pure function: given the message, what
the member allows and what they received lately, send, skip (with the reason) or defer (with the
reason and until when). The relay loads the inputs and stores the outcome; tests call it alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

MARKETING = ("value", "promotion")
# The member's own frequency (Member.Frequency): at most one marketing message per period.
MEMBER_PERIODS = {"weekly": timedelta(days=7), "monthly": timedelta(days=30)}
RATIO_RECHECK = timedelta(hours=12)


@dataclass(frozen=True)
class Rails:
    quiet_start: time = time(21, 0)
    quiet_end: time = time(9, 0)
    time_zone: str = "Asia/Shanghai"
    cap_count: int = 2
    cap_days: int = 7
    value_per_promotion: int = 3
    ratio_window_days: int = 30


@dataclass(frozen=True)
class Recipient:
    address: str  # "" when the member cannot be reached on the channel at all
    consent: bool  # the member's consent for the channel
    opted_out: bool  # the one-click opt-out of all marketing
    unreachable: bool  # the channel refused this member for good
    frequency: str = "any"


@dataclass(frozen=True)
class Decision:
    action: str  # "send", "skip" or "defer"
    reason: str = ""
    until: datetime | None = None


SEND = Decision("send")


def in_quiet_hours(at: datetime, rails: Rails) -> datetime | None:
    """The end of the quiet hours ``at`` falls in (aware, in UTC terms), or None outside them."""
    if rails.quiet_start == rails.quiet_end:
        return None
    zone = ZoneInfo(rails.time_zone)
    local = at.astimezone(zone)
    t = local.time()
    start, end = rails.quiet_start, rails.quiet_end
    # Across midnight (21:00–09:00) is the usual case.
    quiet = start <= t < end if start < end else (t >= start or t < end)
    if not quiet:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone)


def decide(
    *,
    kind: str,
    recipient: Recipient,
    sent: Sequence[tuple[datetime, str]],
    rails: Rails,
    now: datetime,
    expires_at: datetime | None,
) -> Decision:
    """``sent``: the member's marketing messages already sent (or being sent) as (sent at, kind),
    on every channel, over at least the longest window of the rules."""
    if not recipient.address:
        return Decision("skip", "no_address")
    if recipient.unreachable:
        return Decision("skip", "unreachable")
    if kind not in MARKETING:
        # Codes, receipts and service replies: no marketing consent needed, no caps, no hours.
        return SEND
    if recipient.opted_out:
        return Decision("skip", "opted_out")
    if recipient.frequency == "service":
        return Decision("skip", "member_frequency")
    if not recipient.consent:
        return Decision("skip", "no_consent")
    if expires_at is not None and now >= expires_at:
        return Decision("skip", "expired")

    def defer(reason: str, until: datetime) -> Decision:
        if expires_at is not None and until >= expires_at:
            return Decision("skip", "expired")
        return Decision("defer", reason, until)

    quiet_end = in_quiet_hours(now, rails)
    if quiet_end is not None:
        return defer("quiet_hours", quiet_end)
    if kind == "promotion" and rails.value_per_promotion:
        since = now - timedelta(days=rails.ratio_window_days)
        values = sum(1 for at, k in sent if at > since and k == "value")
        promotions = sum(1 for at, k in sent if at > since and k == "promotion")
        if values < rails.value_per_promotion * (promotions + 1):
            return defer("ratio_3_1", now + RATIO_RECHECK)
    if rails.cap_count:
        window = timedelta(days=rails.cap_days)
        recent = sorted(at for at, _k in sent if at > now - window)
        if len(recent) >= rails.cap_count:
            # Clears when enough of them leave the window for one more to fit.
            return defer("frequency_cap", recent[len(recent) - rails.cap_count] + window)
    period = MEMBER_PERIODS.get(recipient.frequency)
    if period is not None:
        last = max((at for at, _k in sent), default=None)
        if last is not None and last > now - period:
            return defer("member_frequency", last + period)
    return SEND
