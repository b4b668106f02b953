"""Channel adapters, one per channel, behind ``campaigns.channels.base.Adapter``."""

from __future__ import annotations

from django.utils.module_loading import import_string

from campaigns.channels.base import Adapter, Outcome

ADAPTERS = {
    "portal": "campaigns.channels.portal.PortalAdapter",
    "sms": "campaigns.channels.sms.SmsAdapter",
    "email": "campaigns.channels.email.EmailAdapter",
    "wecom": "campaigns.channels.wecom.WecomAdapter",
}


def adapter_for(channel: str) -> Adapter:
    return import_string(ADAPTERS[channel])()


__all__ = ["ADAPTERS", "Adapter", "Outcome", "adapter_for"]
