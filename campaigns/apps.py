from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from django.urls import path

        from campaigns.api import urls as api_urls
        from campaigns.views import hooks, portal
        from campaigns.views.console import calendar, campaigns, messages, webhooks
        from scrm import shells

        # The campaign calendar, the campaigns and the brand's own days.
        shells.pages_register(
            "console",
            [path("", calendar.calendar_page, name="home"), *campaigns.urlpatterns],
            namespace="campaigns",
            prefix="campaigns/",
        )
        shells.pages_register(
            "console", messages.urlpatterns, namespace="messages", prefix="messages/"
        )
        shells.pages_register(
            "console", webhooks.urlpatterns, namespace="webhooks", prefix="webhooks/"
        )
        shells.pages_register("portal", portal.urlpatterns, namespace="inbox", prefix="inbox/")
        shells.pages_register("public", hooks.urlpatterns, namespace="public")
        shells.pages_register("api", api_urls.urlpatterns, namespace="api")
        shells.menu_register(
            shells.MenuEntry(
                "campaigns",
                _("Campaigns"),
                "campaigns:home",
                "megaphone",
                30,
                ("accounts.use_console",),
            )
        )
        shells.menu_register(*messages.menu_entries())
        shells.settings_register(
            *messages.settings_cards(),
            shells.SettingsCard(
                _("Webhooks"),
                _("Send the loyalty engine's events to your systems, signed, with a delivery log."),
                "webhooks:list",
                "key",
                40,
                ("accounts.use_console", "accounts.manage_members"),
            ),
        )
        from django.utils.translation import pgettext_lazy

        from accounts.models import register_audit_actions

        register_audit_actions(
            {
                "campaign.created": pgettext_lazy("audit action", "Campaign created"),
                "campaign.changed": pgettext_lazy("audit action", "Campaign changed"),
                "campaign.launched": pgettext_lazy("audit action", "Campaign launched"),
                "campaign.started": pgettext_lazy("audit action", "Campaign started"),
                "campaign.finished": pgettext_lazy("audit action", "Campaign finished"),
                "campaign.cancelled": pgettext_lazy("audit action", "Campaign cancelled"),
                "brand_day.created": pgettext_lazy("audit action", "Brand day created"),
                "brand_day.saved": pgettext_lazy("audit action", "Brand day changed"),
                "brand_day.deleted": pgettext_lazy("audit action", "Brand day deleted"),
                "message_template.created": pgettext_lazy(
                    "audit action", "Message template created"
                ),
                "message_template.updated": pgettext_lazy(
                    "audit action", "Message template changed"
                ),
                "message_template.deleted": pgettext_lazy(
                    "audit action", "Message template deleted"
                ),
                "message_settings.updated": pgettext_lazy(
                    "audit action", "Message guard rails changed"
                ),
                "channel.resumed": pgettext_lazy("audit action", "Paused channel resumed"),
                "staff_task.done": pgettext_lazy(
                    "audit action", "WeCom message marked as sent by hand"
                ),
            }
        )
        shells.member_links_register(messages.member_links)
        shells.portal_tiles_register(portal.portal_tiles)
        from campaigns.selectors import messages as message_selectors

        message_selectors.timeline_register()
        self._consumers()

    def _consumers(self) -> None:
        from campaigns.models.webhooks import WEBHOOK_TYPES
        from campaigns.services import outbox, webhooks
        from members import events

        events.consumer_register(
            "campaigns.messages", outbox.messages_on_events, types=outbox.SYSTEM_MESSAGE_EVENTS
        )
        events.consumer_register(
            "campaigns.webhooks", webhooks.webhooks_on_events, types=set(WEBHOOK_TYPES.values())
        )
