"""Dates as people read them, in the active language: 2026-04-14 in Chinese, 14 Apr 2026 in
English. Templates use them as filters (``long_date``, ``long_datetime``, ``month_day``); messages
built in Python call them. The values of date inputs stay ISO (``scrm.formats``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language


def as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return value
    return None


def long_date(value: Any) -> str:
    """A date with its year, the way the language writes it: 2026-04-14, 14 Apr 2026."""
    d = as_date(value)
    if d is None:
        return ""
    if (get_language() or "").startswith("zh"):
        return d.isoformat()
    return date_format(d, "j M Y")


def long_datetime(value: Any, seconds: str = "") -> str:
    """A moment in the local time zone, with its year, the way the language writes it:
    2026-04-14 09:30 / 14 Apr 2026, 09:30 (``long_datetime:"s"`` adds the seconds). A date
    without a time is written as ``long_date`` writes it."""
    if not isinstance(value, datetime):
        return long_date(value)
    moment = timezone.localtime(value) if timezone.is_aware(value) else value
    clock = "H:i:s" if seconds else "H:i"
    if (get_language() or "").startswith("zh"):
        return date_format(moment, f"Y-m-d {clock}")
    return date_format(moment, f"j M Y, {clock}")


def month_day(value: Any) -> str:
    """A day of the year without the year (a birthday): 5月20日 / 20 May."""
    d = as_date(value)
    if d is None:
        return ""
    if (get_language() or "").startswith("zh"):
        return f"{d.month}月{d.day}日"
    return date_format(d, "j M")
