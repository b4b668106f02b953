from campaigns.models.messages import (
    ChannelState,
    Message,
    MessageAttempt,
    MessageSettings,
    MessageTemplate,
    StaffTask,
    Unreachable,
)
from campaigns.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ChannelState",
    "Message",
    "MessageAttempt",
    "MessageSettings",
    "MessageTemplate",
    "StaffTask",
    "Unreachable",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
