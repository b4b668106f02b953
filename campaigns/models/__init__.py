from campaigns.models.campaigns import (
    BrandDay,
    Campaign,
    CampaignListMember,
    CampaignMember,
    CampaignMessage,
)
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
    "BrandDay",
    "Campaign",
    "CampaignListMember",
    "CampaignMember",
    "CampaignMessage",
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
