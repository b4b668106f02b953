"""The portal inbox: a message is "sent" when the relay marks it so; the member reads it in the
portal (``campaigns.views.portal``)."""

from __future__ import annotations

from typing import Any

from campaigns.channels.base import Outcome


class PortalAdapter:
    channel = "portal"
    local = True

    def address(self, member: Any) -> str:
        return member.code

    def send(self, message: Any, member: Any) -> Outcome:
        return Outcome("sent", provider_id=f"portal-{message.pk}")
