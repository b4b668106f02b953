from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import get_language

from scrm.dates import as_date, long_date, long_datetime, month_day
from scrm.masking import mask_name as _mask_name
from scrm.masking import mask_phone as _mask_phone

register = template.Library()


@register.simple_tag(takes_context=True)
def querystring_with(context: dict, **kwargs: Any) -> str:
    """The current query string with some keys replaced: pagination keeps the filters."""
    query = context["request"].GET.copy()
    for key, value in kwargs.items():
        if value in (None, ""):
            query.pop(key, None)
        else:
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def mask_phone(value: str) -> str:
    return _mask_phone(value or "")


@register.filter
def mask_name(value: str) -> str:
    return _mask_name(value or "")


@register.filter
def national(value: str) -> str:
    value = value or ""
    return value[3:] if value.startswith("+86") else value


@register.filter
def compact_number(value: Any) -> str:
    """Dashboard numbers: 1.5万 / 1.5亿 in Chinese, 15K / 1.5M in English; below 10,000 in full."""
    try:
        n = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return "--"
    zh = (get_language() or "").startswith("zh")
    if abs(n) < 10_000:
        return f"{int(n):,}" if n == n.to_integral_value() else f"{n:,}"
    if zh:
        for size, unit in (
            (Decimal(10) ** 12, "万亿"),
            (Decimal(10) ** 8, "亿"),
            (Decimal(10) ** 4, "万"),
        ):
            if abs(n) >= size:
                return f"{(n / size).quantize(Decimal('0.1')).normalize():f}{unit}"
    for size, unit in ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "K")):
        if abs(n) >= size:
            return f"{(n / size).quantize(Decimal('0.1')).normalize():f}{unit}"
    return str(n)


@register.filter
def initial(value: str) -> str:
    return (value or "?").strip()[:1].upper()


def _finite(value: Any) -> Decimal | None:
    """A template value as a finite Decimal, or None (text, None, NaN, infinity)."""
    try:
        n = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return None
    return n if n.is_finite() else None


@register.filter
def cny(value: Any) -> str:
    """Money as the counter and the portal show it: ¥1,234.50."""
    n = _finite(value)
    if n is None:
        return "--"
    sign = "-" if n < 0 else ""
    return f"{sign}¥{abs(n).quantize(Decimal('0.01')):,}"


@register.filter
def percent_off(value: Any) -> str:
    """A discount the way shoppers say it: 10 percent off is 9折 in Chinese, 10% off in English."""
    try:
        pct = int(value)
    except (TypeError, ValueError):
        return ""
    if (get_language() or "").startswith("zh"):
        rate = Decimal(100 - pct) / 10
        return f"{rate.normalize():f}折"
    return f"{pct}% off"


class Grouped(int):
    """An integer that prints with thousands separators (19,208) in every language.

    Still an ``int``: ``{% blocktranslate count n=x|num %}`` picks the plural form from it and
    prints it grouped, so the message ids stay as they are. (Django's own ``intcomma`` follows
    the locale, and Chinese has no separator there: 19208.)"""

    def __str__(self) -> str:
        return f"{int(self):,}"

    def __format__(self, spec: str) -> str:
        return format(int(self), spec or ",")


@register.filter
def num(value: Any) -> Any:
    """A count or points figure with thousands separators: 19,208. Anything that is not a whole
    number (None, "--") comes back as it was, so ``default`` and friends still apply."""
    if value is None or isinstance(value, bool):
        return value
    n = _finite(value)
    if n is None or n != n.to_integral_value():
        return value
    return Grouped(int(n))


@register.filter
def money(value: Any) -> str:
    """An amount without its symbol, for sentences that say the currency (CNY 2,700.00 / 2,700.00
    元): grouped, two decimals."""
    n = _finite(value)
    return "--" if n is None else f"{n.quantize(Decimal('0.01')):,}"


@register.filter
def percent(value: Any) -> str:
    """A share (0.125) as a percent, rounded to a whole one: 13%. None is "--"."""
    n = _finite(value)
    return "--" if n is None else f"{(n * 100).quantize(Decimal('1'), ROUND_HALF_UP)}%"


register.filter("long_date", long_date)
register.filter("long_datetime", long_datetime)
register.filter("month_day", month_day)


@register.filter
def is_past(value: Any) -> bool:
    """Whether a date (or a moment's local date) is before today."""
    d = as_date(value)
    return d is not None and d < timezone.localdate()


@register.filter
def nowrap(value: Any) -> str:
    """Text kept on one line inside a sentence that may wrap (a date: 2026-11-12, not 2026-11-/12)."""
    return format_html('<span class="nowrap">{}</span>', value)
