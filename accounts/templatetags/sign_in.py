from __future__ import annotations

from django import template
from django.conf import settings
from django.core.cache import cache

register = template.Library()


@register.simple_tag
def demo_sms(phone: str) -> str:
    """The last console SMS to ``phone``, shown on the code page only in the local demo."""
    if not settings.SCRM_SMS_SHOW_IN_PAGE or not phone:
        return ""
    from accounts.sms import LAST_SMS_CACHE_KEY

    return cache.get(LAST_SMS_CACHE_KEY.format(phone=phone)) or ""
