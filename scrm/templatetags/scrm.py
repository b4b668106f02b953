from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils.translation import get_language

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


@register.filter
def cny(value: Any) -> str:
    """Money as the counter and the portal show it: ¥1,234.50."""
    try:
        n = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
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
